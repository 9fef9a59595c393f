#!/bin/bash
# pam_test.sh — pam_p11tls.so under pam_wrapper and pamtester.
#
# Run through tests/with-token.sh (tests/run/pam-rof-*.sh): needs
# P11TLS_TEST_DIR (<label>.pem certificates) and the test token p11tls-test
# (PIN in P11TLS_TEST_PIN). Nothing on the system is touched: pam_wrapper
# reads the service file from a private directory.
# Exit status: 0 all passed, 1 a case failed, 77 skipped (missing tools).

set -u

me=pam_test.sh
builddir=${abs_top_builddir:-${top_builddir:-.}}
builddir=$(cd "$builddir" && pwd)
modso=$builddir/src/pam/.libs/pam_p11tls.so

skip() { echo "$me: SKIP: $*" >&2; exit 77; }
# pamtester is not instrumented: a sanitizer-built PAM module cannot be
# loaded into it (the sanitizer runtime must come first).
[ -z "${P11TLS_SANITIZER:-}" ] || skip "PAM tests do not run in the $P11TLS_SANITIZER build"

[ -n "${P11TLS_TEST_DIR:-}" ] || skip "P11TLS_TEST_DIR not set (run through tests/with-token.sh)"
[ -f "$modso" ] || skip "$modso not built (make src/pam/pam_p11tls.la)"
command -v pamtester >/dev/null 2>&1 || skip "pamtester not installed"
wrapper=
for w in /usr/lib/x86_64-linux-gnu/libpam_wrapper.so /usr/lib/*/libpam_wrapper.so \
         /usr/lib64/libpam_wrapper.so /usr/lib/libpam_wrapper.so \
         /usr/local/lib/libpam_wrapper.so; do
    if [ -f "$w" ]; then wrapper=$w; break; fi
done
[ -n "$wrapper" ] || skip "libpam_wrapper.so not found (install libpam-wrapper)"

pin=${P11TLS_TEST_PIN:-1234}
user=$(id -un)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pam_test.XXXXXX")
[ -n "${P11TLS_PAM_KEEP_LOG:-}" ] || trap 'rm -rf "$tmp"' EXIT
service=p11tls-test

fails=0
n=0

# write_service OBJECT AUTHORIZED_FILE [EXTRA OPTIONS...]
write_service() {
    local object=$1 authorized=$2
    shift 2
    mkdir -p "$tmp/pam.d"
    # Linux-PAM takes [ ... ] to quote an argument; ';' needs no quoting.
    echo "auth required $modso uri=pkcs11:token=p11tls-test;object=$object;type=cert authorized=$authorized $*" \
        > "$tmp/pam.d/$service"
    echo "account required $modso" >> "$tmp/pam.d/$service"
}

# run_pam PIN -> exit status of pamtester; log in $tmp/log
run_pam() {
    printf '%s\n' "$1" | \
        LD_PRELOAD=$wrapper PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$tmp/pam.d" \
        PAM_WRAPPER_DEBUGLEVEL=2 \
        timeout 30 pamtester -v "$service" "$user" authenticate \
        >"$tmp/log" 2>&1
}

# check NAME EXPECT(0|fail) [LOG_PATTERN]
check() {
    local name=$1 expect=$2 pattern=${3:-} rc=$4
    n=$((n + 1))
    local ok=1
    if [ "$expect" = 0 ] && [ "$rc" -ne 0 ]; then ok=0; fi
    if [ "$expect" = fail ] && [ "$rc" -eq 0 ]; then ok=0; fi
    if [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/log"; then ok=0; fi
    # the module's log lines (pam_syslog, shown by pam_wrapper) never
    # contain a PIN
    if grep 'SYSLOG' "$tmp/log" | grep -q -e "$pin" -e 0000; then
        ok=0
        echo "# a PIN appears in the log"
    fi
    if [ $ok = 1 ]; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name (exit $rc)"
        sed 's/^/#   /' "$tmp/log"
        fails=$((fails + 1))
    fi
}

p256=$P11TLS_TEST_DIR/p256.pem
rsa=$P11TLS_TEST_DIR/rsa2048.pem

# 1. p256, authorized, right PIN
cp "$p256" "$tmp/authorized"
write_service p256 "$tmp/authorized"
run_pam "$pin"; check "p256 authorized, right PIN: success" 0 "" $?

# 2. p256, wrong PIN
run_pam 0000; check "p256 wrong PIN: refused" fail "wrong PIN" $?

# 3. rsa2048, authorized, right PIN
cp "$rsa" "$tmp/authorized-rsa"
write_service rsa2048 "$tmp/authorized-rsa"
run_pam "$pin"; check "rsa2048 authorized, right PIN: success" 0 "" $?

# 4. p256 on the token, only rsa2048 authorized
write_service p256 "$tmp/authorized-rsa"
run_pam "$pin"; check "p256 not authorized: refused" fail "no authorized key" $?

# 5. empty authorized file
: > "$tmp/authorized-empty"
write_service p256 "$tmp/authorized-empty"
run_pam "$pin"; check "empty authorized file: refused" fail "no authorized key in" $?

# 6. missing authorized file
write_service p256 "$tmp/does-not-exist"
run_pam "$pin"; check "missing authorized file: refused" fail "cannot read authorized file" $?

# 7. no token matching the URI
mkdir -p "$tmp/pam.d"
echo "auth required $modso uri=pkcs11:token=no-such-token;type=cert authorized=$tmp/authorized" \
    > "$tmp/pam.d/$service"
run_pam "$pin"; check "no token: refused" fail "no token" $?

# 8. both certificates authorized, any p11tls-test cert: success
cat "$rsa" "$p256" > "$tmp/authorized-both"
echo "auth required $modso uri=pkcs11:token=p11tls-test;type=cert authorized=$tmp/authorized-both" \
    > "$tmp/pam.d/$service"
run_pam "$pin"; check "two authorized certs, token-wide URI: success" 0 "" $?

# 9. debug option, right then wrong PIN: debug lines, no PIN in them
write_service p256 "$tmp/authorized" debug
run_pam "$pin"; check "debug, right PIN: success with debug log" 0 "challenge signed with ecdsa_secp256r1_sha256" $?
run_pam 0000; check "debug, wrong PIN: refused" fail "wrong PIN" $?

echo "1..$n"
[ $fails -eq 0 ] || exit 1
exit 0
