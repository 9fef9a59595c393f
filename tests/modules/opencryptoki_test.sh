#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# opencryptoki_test.sh - opencryptoki's soft token (libopencryptoki.so with
# the pkcsslotd daemon) as a p11tls module, registered through a p11-kit
# module file, the only module p11-kit sees (p11kit-isolate.sh).
#
# opencryptoki keeps system-wide state: its configuration in
# /etc/opencryptoki, token stores in /var/lib/opencryptoki, locks in
# /var/lock/opencryptoki, the daemon's socket and pid file in /var/run and
# SysV shared memory. None of the host's is used or touched: the test runs
# in private mount, IPC and PID namespaces (so it needs root), with private
# directories bound over those, a tmpfs on /run, a configuration with the
# soft token only, and an empty store (initialized here: SO PIN 87654321,
# user PIN 1234, an RSA-2048 key). pkcsslotd is started here and killed on
# exit; as it runs in the PID namespace, it also dies with the test.
#
# Checks (RSA only: this soft token cannot make EC keys): every RSA scheme
# signed and verified with openssl; fork while threads sign
# (tests/fork_storm); mechanisms all named; import-cert of a certificate
# for the token's key and of a CA's (the token refuses
# CKA_CERTIFICATE_CATEGORY).
# Skipped (77) with the reason if a package is missing or not root.
set -u
me=$(basename "$0")
if [ "$(id -u)" != 0 ]; then
    echo "$me: SKIP: needs root (pkcsslotd in private namespaces)" >&2
    exit 77
fi
# shellcheck source=../support/first_file.sh
. "$(dirname "$0")/../support/first_file.sh"
ock=$(first_file /usr/lib/*/pkcs11/libopencryptoki.so /usr/lib64/opencryptoki/libopencryptoki.so \
                 /usr/lib/opencryptoki/libopencryptoki.so)
[ -n "$ock" ] && [ -x /usr/sbin/pkcsslotd ] ||
    { echo "$me: SKIP: libopencryptoki.so or pkcsslotd not found (install opencryptoki)" >&2; exit 77; }
for tool in pkcs11-tool openssl unshare timeout; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$me: SKIP: $tool not found" >&2; exit 77; }
done
getent group pkcs11 >/dev/null || { echo "$me: SKIP: no pkcs11 group (opencryptoki's)" >&2; exit 77; }

# Own namespaces (p11kit_isolate_reexec then sees us as isolated already).
. "$(dirname "$0")/modlib.sh"
[ "${P11TLS_ISOLATE_NS:-}" = "$$" ] || own_namespaces P11TLS_OCK_NS "$0" "$@"
export P11TLS_ISOLATE_NS=$$
. "$(dirname "$0")/../p11kit-isolate.sh"
export P11TLS_TEST_DIR=/nonexistent  # lib.sh wants it; this suite makes its own files
. "$(dirname "$0")/../cli/lib.sh"

# --- a private opencryptoki -------------------------------------------------
mkdir -p "$TMP/ock/etc" "$TMP/ock/lib/swtok/TOK_OBJ" "$TMP/ock/log"
cat >"$TMP/ock/etc/opencryptoki.conf" <<EOC
version opencryptoki-3.1
slot 0
{
stdll = libpkcs11_sw.so
}
EOC
chgrp -R pkcs11 "$TMP/ock/lib" && chmod -R 770 "$TMP/ock/lib" || exit 99
{
    mount -t tmpfs -o mode=755 tmpfs /run &&
    mkdir -p /run/lock/opencryptoki/swtok &&
    chgrp -R pkcs11 /run/lock/opencryptoki && chmod -R 770 /run/lock/opencryptoki &&
    mount --bind "$TMP/ock/etc" /etc/opencryptoki &&
    mount --bind "$TMP/ock/lib" /var/lib/opencryptoki &&
    { [ ! -d /var/log/opencryptoki ] || mount --bind "$TMP/ock/log" /var/log/opencryptoki; }
} || { echo "$me: cannot set up the private opencryptoki directories" >&2; exit 99; }
printf 'module: %s\n' "$ock" >"$TMP/opencryptoki.module"
p11kit_register_only "$TMP/p11" "$TMP/opencryptoki.module" || exit 99

timeout 20 /usr/sbin/pkcsslotd || { echo "$me: pkcsslotd failed to start" >&2; exit 99; }
slotd=$(cat /var/run/pkcsslotd.pid 2>/dev/null)
[ -n "$slotd" ] && bg_pids+=("$slotd")
PIN=1234
p11() { timeout 60 pkcs11-tool --module "$ock" "$@" >>"$TMP/setup.log" 2>&1; }
if ! { p11 --init-token --label p11tls-ock --so-pin 87654321 &&
       p11 --init-pin --login --login-type so --so-pin 87654321 --pin "$PIN" &&
       p11 --login --pin "$PIN" --keypairgen --key-type rsa:2048 --label rsa2048 --id 01; }; then
    cat "$TMP/setup.log" >&2
    exit 99
fi
KEY="pkcs11:token=p11tls-ock;object=rsa2048;type=private;pin-value=$PIN"

# --- checks -------------------------------------------------------------------
if public_key "$KEY" "$TMP/pub.pem"; then
    ok "p11tls info: RSA key found through the p11-kit registration"
else
    not_ok "p11tls info: RSA key found through the p11-kit registration" "$TMP/err"
fi
for scheme in rsa_pkcs1_sha256 rsa_pkcs1_sha384 rsa_pkcs1_sha512 \
              rsa_pss_rsae_sha256 rsa_pss_rsae_sha384 rsa_pss_rsae_sha512; do
    if sign_verify "$KEY" "$TMP/pub.pem" "$scheme"; then ok "sign $scheme, openssl verifies"
    else not_ok "sign $scheme, openssl verifies" "$TMP/err" "$TMP/verify"; fi
done
if storm "$KEY" rsa_pss_rsae_sha256 2 50; then
    ok "fork 50 times while 2 threads sign: every child signs (inherited and fresh key)"
else
    not_ok "fork 50 times while 2 threads sign: every child signs (inherited and fresh key)" "$TMP/storm.out"
fi
sed 's/^/#   /' "$TMP/storm.out"

# mechanisms: every one by name (the soft token's HMAC_GENERAL and SSL3
# mechanisms were printed as CKM_0x...).
"$CLI" mechanisms "pkcs11:token=p11tls-ock" >"$TMP/mech.out" 2>"$TMP/err"
if grep -q "^CKM_RSA_PKCS " "$TMP/mech.out" && ! grep -q "CKM_0x" "$TMP/mech.out"; then
    ok "mechanisms: $(grep -c . "$TMP/mech.out"), every one by name"
else
    not_ok "mechanisms: every one by name" "$TMP/mech.out" "$TMP/err"
fi

# import-cert: opencryptoki 3.8 refuses CKA_CERTIFICATE_CATEGORY, which
# p11tls sends for a certificate of a key on the token (category 1) and a
# CA's (2); it writes the certificate without it, and says so when debugging.
if timeout 60 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/ca.key" \
       -subj /CN=ock-ca -days 30 -addext basicConstraints=critical,CA:TRUE -out "$TMP/ca.pem" \
       >>"$TMP/setup.log" 2>&1 &&
   timeout 60 openssl x509 -new -subj /CN=ock-leaf -force_pubkey "$TMP/pub.pem" -CA "$TMP/ca.pem" \
       -CAkey "$TMP/ca.key" -days 30 -out "$TMP/leaf.pem" >>"$TMP/setup.log" 2>&1; then
    for c in "leaf ock-leaf" "ca ock-ca"; do
        set -- $c
        openssl x509 -in "$TMP/$1.pem" -outform DER -out "$TMP/$1.der"
        if P11TLS_DEBUG=1 "$CLI" import-cert "pkcs11:token=p11tls-ock?pin-value=$PIN" "$TMP/$1.pem" --label "$2" \
               >"$TMP/import.out" 2>"$TMP/import.err" &&
           "$CLI" export-cert "pkcs11:token=p11tls-ock;object=$2;type=cert" >"$TMP/got.der" 2>"$TMP/err" &&
           cmp -s "$TMP/$1.der" "$TMP/got.der" &&
           grep -q "without CKA_CERTIFICATE_CATEGORY" "$TMP/import.err"; then
            ok "import-cert ($1 certificate): written without the category the token refuses, read back"
        else
            not_ok "import-cert ($1 certificate): written without the category the token refuses, read back" \
                "$TMP/import.out" "$TMP/import.err" "$TMP/err"
        fi
    done
else
    not_ok "import-cert: test certificates made" "$TMP/setup.log"
fi

suite_hook "$ock" p11tls-ock "$PIN"
kill "$slotd" 2>/dev/null
finish
