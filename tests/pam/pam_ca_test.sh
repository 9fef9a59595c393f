#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pam_ca_test.sh — options ca=URI and crl=FILE: the user's certificate on
# the token must verify against the CA certificates the URI finds marked
# trusted, not be revoked nor distrusted (also by issuer and serial number
# alone, p11-kit's trust module), and allow signing and client
# authentication.
# The test token's p256 certificate is issued by the test CA; the CA is
# written on the token marked trusted (SO login), and the certificate of
# the p256 key is replaced by others of the same key (self-signed, wrong
# usages). Under pam_wrapper and pamtester (helpers in pam_lib.sh); run
# through tests/suites/pam-ca.rof-false.test.

me=pam_ca_test.sh
. "$(dirname "$0")/pam_lib.sh"

d=$P11TLS_TEST_DIR
so_pin=${P11TLS_TEST_SO_PIN:-12345678}
uri="pkcs11:token=p11tls-test;object=p256;type=cert"
ca="ca=pkcs11:token=p11tls-test;object=pam-ca"
cp "$d/p256.pem" "$tmp/authorized"
svc() { # OPTIONS...
    echo "auth required $modso uri=$uri authorized=$tmp/authorized $*" > "$tmp/pam.d/$service"
}
quiet() { "$@" >"$tmp/tool.log" 2>&1 || { echo "# failed: $*"; sed 's/^/#   /' "$tmp/tool.log"; }; }

# The test CA on the token, marked trusted (the copy there from the
# fixture, p11tls-test-ca, is not).
quiet env GNUTLS_SO_PIN="$so_pin" p11tool --provider "$P11TLS_SOFTHSM_MODULE" --so-login \
    --write --mark-trusted --mark-ca --label pam-ca --load-certificate "$d/ca.pem" \
    "pkcs11:token=p11tls-test"

# Certificates of the p256 key: issued by the CA with TEMPLATE LINES, or
# self-signed by the key on the token.
openssl x509 -in "$d/p256.pem" -noout -pubkey > "$tmp/p256.pub"
issue() { # NAME TEMPLATE-LINE...
    local name=$1
    shift
    { echo 'cn = "p256"'; echo "serial = $RANDOM"; echo "expiration_days = 30"; printf '%s\n' "$@"; } \
        > "$tmp/$name.tmpl"
    quiet certtool --generate-certificate --load-pubkey "$tmp/p256.pub" \
        --load-ca-certificate "$d/ca.pem" --load-ca-privkey "$d/ca-key.pem" \
        --template "$tmp/$name.tmpl" --outfile "$tmp/$name.pem"
}
printf 'cn = "p256 self-signed"\nserial = 77\nexpiration_days = 30\ntls_www_client\nsigning_key\n' \
    > "$tmp/self.tmpl"
quiet certtool --generate-self-signed \
    --load-privkey "pkcs11:token=p11tls-test;object=p256;type=private;pin-value=$pin" \
    --template "$tmp/self.tmpl" --outfile "$tmp/self.pem"
# certtool always adds digitalSignature to an EC key's usages: openssl
# issues the one without.
printf 'keyUsage = critical, keyAgreement\nextendedKeyUsage = clientAuth\n' > "$tmp/nosign.ext"
quiet openssl x509 -new -subj /CN=p256 -force_pubkey "$tmp/p256.pub" -CA "$d/ca.pem" \
    -CAkey "$d/ca-key.pem" -days 30 -extfile "$tmp/nosign.ext" -out "$tmp/nosign.pem"
issue server tls_www_server signing_key

# set_cert PEM: the token's certificate of the p256 key becomes PEM.
set_cert() {
    local i
    for i in 1 2 3; do
        pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label p11tls-test --login \
            --pin "$pin" --delete-object --type cert --label p256 >/dev/null 2>&1 || break
    done
    certtool --certificate-info --infile "$1" --outder --outfile "$tmp/cert.der" >/dev/null 2>&1
    quiet pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label p11tls-test --login \
        --pin "$pin" --write-object "$tmp/cert.der" --type cert --label p256 --id 03
}

# --- the CA's certificate on the token ----------------------------------------------
svc "$ca" debug
run_pam "$pin"$'\n'
check "certificate issued by the trusted CA: authenticated" 0 "challenge signed" $?

svc "ca=pkcs11:token=p11tls-test;object=p11tls-test-ca"
run_pam "$pin"$'\n'
check "ca= naming a CA certificate not marked trusted: refused" fail \
    "ca=pkcs11:token=p11tls-test;object=p11tls-test-ca: no certificate marked trusted there" $?

svc "ca=pkcs11:token=no-such-token"
run_pam "$pin"$'\n'
check "ca= naming no token: refused" fail "ca=pkcs11:token=no-such-token: cannot read the trusted CAs" $?

# --- CRLs ------------------------------------------------------------------------------
printf 'crl_next_update = 30\ncrl_number = 1\n' > "$tmp/crl.tmpl"
quiet certtool --generate-crl --load-ca-privkey "$d/ca-key.pem" --load-ca-certificate "$d/ca.pem" \
    --template "$tmp/crl.tmpl" --outfile "$tmp/empty.crl"
printf 'crl_next_update = 30\ncrl_number = 2\n' > "$tmp/crl.tmpl"
quiet certtool --generate-crl --load-ca-privkey "$d/ca-key.pem" --load-ca-certificate "$d/ca.pem" \
    --load-certificate "$d/p256.pem" --template "$tmp/crl.tmpl" --outfile "$tmp/revoked.crl"
svc "$ca" "crl=$tmp/empty.crl"
run_pam "$pin"$'\n'
check "CRL not listing the certificate: authenticated" 0 "" $?
svc "$ca" "crl=$tmp/revoked.crl"
run_pam "$pin"$'\n'
check "CRL revoking the certificate: refused with the reason" fail \
    "refused by the CA policy: .*revoked" $?
# pam_p11tls(8)'s example, with this test's CA, CRL and authorized file.
cp "$tmp/empty.crl" "$tmp/ca.crl"
man_example example-ca | sed -e "s#Trusted%20CAs#p11tls-test;object=pam-ca#" \
    -e "s#$tmp/etc/p11tls/ca.crl#$tmp/ca.crl authorized=$tmp/authorized#" > "$tmp/pam.d/$service"
run_pam "$pin"$'\n'
check "pam_p11tls(8) ca example: authenticated" 0 "" $?
cp "$tmp/revoked.crl" "$tmp/ca.crl"
run_pam "$pin"$'\n'
check "pam_p11tls(8) ca example, certificate revoked: refused" fail "revoked" $?
svc "$ca" "crl=$tmp/does-not-exist.crl"
run_pam "$pin"$'\n'
check "unreadable crl=: refused" fail "crl=$tmp/does-not-exist.crl: no CRL" $?

# --- distrust by issuer and serial number only (p11-kit's trust module) ----------------
# A private store anchoring the test CA, beside SoftHSM; then a blocklist
# record naming the user's certificate by issuer and serial number, with
# no certificate (p11-kit's value-less distrusted object).
trust_so=
for f in /usr/lib/*/pkcs11/p11-kit-trust.so /usr/lib64/pkcs11/p11-kit-trust.so; do
    [ -f "$f" ] && { trust_so=$f; break; }
done
if [ -n "$trust_so" ]; then
    mkdir -p "$tmp/store/anchors" "$tmp/store/blocklist"
    cp "$d/ca.pem" "$tmp/store/anchors/"
    printf 'module: %s\nx-init-reserved: paths=%s\n' "$trust_so" "$tmp/store" >"$tmp/store.module"
    . "$(dirname "$0")/../p11kit-isolate.sh"
    p11kit_register_more "$P11TLS_TEST_DIR" "$tmp/store.module"
    svc "ca=pkcs11:token=store"
    run_pam "$pin"$'\n'
    check "ca= on p11-kit's trust module: authenticated" 0 "" $?
    python3 "$(dirname "$0")/../trust/p11kit_record.py" distrust "$d/p256.pem" p256 \
        >"$tmp/store/blocklist/p256.p11-kit"
    run_pam "$pin"$'\n'
    check "ca=, the certificate distrusted by serial number only: refused" fail \
        "refused by the CA policy: .*revoked" $?
else
    echo "# $me: p11-kit-trust.so not found (p11-kit-modules): distrust by serial number not tested"
fi

# --- other certificates of the same key (last: they change the token) -------------------
set_cert "$tmp/self.pem"
svc
run_pam "$pin"$'\n'
check "self-signed certificate, no ca=: authenticated (key match only)" 0 "" $?
svc "$ca"
reset_count
run_pam "$pin"$'\n'
check "self-signed certificate under ca=: refused with the reason" fail \
    "certificate .* refused by the CA policy: .*issuer" $? \
    "no authorized certificate on the token passes the CA policy"
n=$((n + 1))
if grep -q "PIN for" "$tmp/log"; then
    echo "not ok $n - refused by the policy before the PIN prompt"; fails=$((fails + 1))
else
    echo "ok $n - refused by the policy before the PIN prompt"
fi

set_cert "$tmp/nosign.pem"
run_pam "$pin"$'\n'
check "key usage without signing: refused" fail "refused by the CA policy: its key usage does not allow signing" $?

set_cert "$tmp/server.pem"
run_pam "$pin"$'\n'
check "extended key usage TLS server only: refused" fail "refused by the CA policy: .*purpose" $?

finish
