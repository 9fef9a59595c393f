#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# nss_test.sh - NSS's softokn (libsoftokn3.so) as a p11tls module: an NSS
# database made with certutil in a temporary directory, with a P-256 and an
# RSA-2048 key and self-signed certificates for localhost, registered
# through a p11-kit module file whose x-init-reserved gives softokn its
# configdir (without it C_Initialize fails with CKR_ARGUMENTS_BAD). p11-kit
# sees only that module (p11kit-isolate.sh). Checks: list, sign + verify
# (openssl), serve + gnutls-cli, serve --workers 2 (each forked child
# signs), fork while threads sign (tests/fork_storm), and
# p11tls_ctx_add_module_with_args for the module given by path (not in
# sanitizer builds: python cannot load the library there).
# Skipped (77) with the reason if a package is missing. TAP-like output.
set -u
. "$(dirname "$0")/../p11kit-isolate.sh"
p11kit_isolate_reexec "$0" "$@"
p11kit_require_isolation

me=$(basename "$0")
# shellcheck source=../support/first_file.sh
. "$(dirname "$0")/../support/first_file.sh"
softokn=$(first_file /usr/lib/*/libsoftokn3.so /usr/lib64/libsoftokn3.so /usr/lib/libsoftokn3.so)
[ -n "$softokn" ] || { echo "$me: SKIP: libsoftokn3.so not found (install libnss3)" >&2; exit 77; }
for tool in certutil gnutls-cli openssl python3 timeout; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "$me: SKIP: $tool not found (certutil: install libnss3-tools)" >&2; exit 77; }
done

export P11TLS_TEST_DIR=/nonexistent  # lib.sh wants it; this suite makes its own files
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/modlib.sh"
PIN=nss-test-pin
db=$TMP/db
mkdir -p "$db"
printf '%s\n' "$PIN" >"$TMP/pw"
head -c 64 /dev/urandom >"$TMP/noise"
{
    certutil -N -d "sql:$db" -f "$TMP/pw" &&
    certutil -S -d "sql:$db" -f "$TMP/pw" -z "$TMP/noise" -n p256 -s "CN=localhost,O=p256" \
        -x -t "CT,," -k ec -q nistp256 --extSAN dns:localhost -v 12 -m 1 &&
    certutil -S -d "sql:$db" -f "$TMP/pw" -z "$TMP/noise" -n rsa2048 -s "CN=localhost,O=rsa" \
        -x -t "CT,," -k rsa -g 2048 --extSAN dns:localhost -v 12 -m 2
} >"$TMP/certutil.log" 2>&1 || { cat "$TMP/certutil.log" >&2; exit 99; }
reserved="configdir='sql:$db' certPrefix='' keyPrefix='' secmod='secmod.db' flags=noModDB"
cat >"$TMP/nss.module" <<EOM
module: $softokn
x-init-reserved: $reserved
EOM
p11kit_register_only "$TMP/p11" "$TMP/nss.module" || exit 99

TOKEN_URI='pkcs11:token=NSS%20Certificate%20DB'
# The object URI of label's certificate, and of its private key (softokn
# gives keys the certificate's CKA_ID but no label).
cert_uri() { echo "$TOKEN_URI;object=$1;type=cert"; }
key_uri() {
    local id
    id=$("$CLI" list "$(cert_uri "$1")" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["uri"].split("id=")[1].split(";")[0])') || return 1
    echo "$TOKEN_URI;id=$id;type=private;pin-value=$PIN"
}

"$CLI" list "$TOKEN_URI" >"$TMP/list.out" 2>"$TMP/list.err"
if grep -q "Label: p256" "$TMP/list.out" && grep -q "Label: rsa2048" "$TMP/list.out" &&
   grep -q "Module: nss\|Token: NSS Certificate DB" "$TMP/list.out"; then
    ok "list through the p11-kit registration (x-init-reserved passed): both certificates"
else
    not_ok "list through the p11-kit registration (x-init-reserved passed): both certificates" \
        "$TMP/list.out" "$TMP/list.err"
fi
if grep -q "Class: CKO_NSS_TRUST" "$TMP/list.out" && ! grep -q "Class: 0x" "$TMP/list.out"; then
    ok "list names NSS's trust objects (CKO_NSS_TRUST), no bare class number"
else
    not_ok "list names NSS's trust objects (CKO_NSS_TRUST), no bare class number" "$TMP/list.out"
fi

for s in "p256 ecdsa_secp256r1_sha256" "rsa2048 rsa_pkcs1_sha256" "rsa2048 rsa_pss_rsae_sha256"; do
    set -- $s
    if "$CLI" export-cert "$(cert_uri "$1")" --pem >"$TMP/$1.pem" 2>"$TMP/err" &&
       openssl x509 -in "$TMP/$1.pem" -pubkey -noout >"$TMP/$1.pub" &&
       sign_verify "$(key_uri "$1")" "$TMP/$1.pub" "$2"; then
        ok "$1: sign $2, openssl verifies"
    else
        not_ok "$1: sign $2, openssl verifies" "$TMP/err" "$TMP/verify"
    fi
done

# serve LABEL WORKERS GNUTLS-ALG: serve_workers (modlib.sh) with the key
# and its certificate.
serve() {
    local key
    key=$(key_uri "$1") || { not_ok "$1: key URI"; return; }
    serve_workers "$1" "$2" "$3" "$TMP/$1.pem" "$key" --cert "$(cert_uri "$1")"
}
serve p256 0 ECDSA-SECP256R1-SHA256
serve rsa2048 0 'RSA-PSS-RSAE-SHA[0-9]*'
serve p256 2 ECDSA-SECP256R1-SHA256
if storm "$(key_uri p256)" ecdsa_secp256r1_sha256 2 50; then
    ok "fork 50 times while 2 threads sign: every child signs (inherited and fresh key)"
else
    not_ok "fork 50 times while 2 threads sign: every child signs (inherited and fresh key)" "$TMP/storm.out"
fi
sed 's/^/#   /' "$TMP/storm.out"

if [ -n "${P11TLS_SUITE_HOOK:-}" ]; then
    # Labelled keys for bench/modules.sh (certutil leaves keys unlabelled),
    # made through p11-kit's proxy, which passes x-init-reserved.
    for k in "EC:prime256v1 p256 b1" "rsa:2048 rsa2048 b2"; do
        set -- $k
        timeout 60 pkcs11-tool --module "$(dirname "$softokn")/p11-kit-proxy.so" --token-label "NSS Certificate DB" \
            --login --pin "$PIN" --keypairgen --key-type "$1" --label "$2" --id "$3" >/dev/null 2>&1
    done
    suite_hook "$softokn" "NSS Certificate DB" "$PIN" "$reserved"
fi

# The module given by path needs its init argument too.
if [ -n "${P11TLS_SANITIZER:-}" ]; then
    finish
    exit
fi
p256_key=$(key_uri p256)
out=$(api add-sign "$softokn" "$reserved" "$p256_key")
case $out in
    "add=0 open=0 sign=0") ok "by path with p11tls_ctx_add_module_with_args: open + sign" ;;
    *) not_ok "by path with p11tls_ctx_add_module_with_args: open + sign ($out)" ;;
esac
out=$(api add-sign "$softokn" - "$p256_key")
case $out in
    *"open=-9"*CKR_ARGUMENTS_BAD*) ok "by path without init arguments: the module's CKR_ARGUMENTS_BAD in the detail" ;;
    *) not_ok "by path without init arguments: the module's CKR_ARGUMENTS_BAD in the detail ($out)" ;;
esac
out=$(api add-twice "$softokn" "$reserved" "configdir='sql:/nonexistent'")
case $out in
    "first=0 second=-1"*"other init arguments"*) ok "the same file with other init arguments: P11TLS_E_INVALID_ARGUMENT" ;;
    *) not_ok "the same file with other init arguments: P11TLS_E_INVALID_ARGUMENT ($out)" ;;
esac
case $out in
    *nonexistent*) not_ok "the init argument is not echoed in the error detail" ;;
    *) ok "the init argument is not echoed in the error detail" ;;
esac

finish
