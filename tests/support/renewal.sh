# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# renew_on_token LABEL ID DIR: a smart card after a certificate renewal.
# The token key LABEL (CKA_ID ID, hexadecimal) keeps its key pair; its
# certificate from the test token template is replaced by two, both with
# LABEL and ID: DIR/old.pem (serial 1001, valid 2020-01-01 to 2021-01-01:
# expired) and DIR/new.pem (serial 1002, valid from now for 30 days), both
# signed by the test CA. Run under tests/with-token.sh (P11TLS_TEST_DIR,
# P11TLS_TEST_PIN, P11TLS_SOFTHSM_MODULE). Returns non-zero, with the
# tools' output on stderr, if anything fails.
renew_on_token() {
    local label=$1 id=$2 dir=$3 serial
    mkdir -p "$dir" || return 1
    (
        set -e
        certtool --pubkey-info --infile "$P11TLS_TEST_DIR/$label.pem" --outfile "$dir/key.pub"
        for serial in 1001 1002; do
            {
                echo "cn = $label renewal $serial"
                echo "serial = 0x$serial"
                echo "tls_www_server"
                echo "dns_name = localhost"
                echo "signing_key"
                if [ "$serial" = 1001 ]; then
                    echo 'activation_date = "2020-01-01 00:00:00 UTC"'
                    echo 'expiration_date = "2021-01-01 00:00:00 UTC"'
                else
                    echo "expiration_days = 30"
                fi
            } >"$dir/$serial.tmpl"
            certtool --generate-certificate --load-pubkey "$dir/key.pub" \
                --load-ca-certificate "$P11TLS_TEST_DIR/ca.pem" \
                --load-ca-privkey "$P11TLS_TEST_DIR/ca-key.pem" \
                --template "$dir/$serial.tmpl" --hash=SHA256 --outfile "$dir/$serial.pem"
            certtool --certificate-info --infile "$dir/$serial.pem" --outder --outfile "$dir/$serial.der"
        done
        mv "$dir/1001.pem" "$dir/old.pem"
        mv "$dir/1002.pem" "$dir/new.pem"
        p11() {
            pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label p11tls-test \
                --login --pin "$P11TLS_TEST_PIN" "$@"
        }
        p11 --delete-object --type cert --label "$label"
        p11 --write-object "$dir/1001.der" --type cert --label "$label" --id "$id"
        p11 --write-object "$dir/1002.der" --type cert --label "$label" --id "$id"
    ) >"$dir/renew.log" 2>&1 || { cat "$dir/renew.log" >&2; return 1; }
}
