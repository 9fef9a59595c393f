# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pam_lib.sh — helpers sourced by the pam_p11tls test scripts (pam_test.sh,
# pam_programs_test.sh). Sets: me, builddir, modso, wrapper, pin, user, tmp,
# service, n, fails; defines write_service, run_pam, check, count_logins.
#
# Nothing on the system is touched: pam_wrapper reads service files from
# $tmp/pam.d, and every PAM run is bounded by timeout(1). pam_wrapper shows
# the modules' pam_syslog lines on stderr ("SYSLOG(<prio>): ..."), which the
# checks grep.

set -u

builddir=${abs_top_builddir:-${top_builddir:-.}}
builddir=$(cd "$builddir" && pwd)
modso=$builddir/src/pam/.libs/pam_p11tls.so

skip() { echo "$me: SKIP: $*" >&2; exit 77; }
# pamtester and libpam are not instrumented: a sanitizer-built PAM module
# cannot be loaded into them (the sanitizer runtime must come first, and
# LD_PRELOAD already holds pam_wrapper).
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
mkdir -p "$tmp/pam.d"
# A service name of this run's own: pam_wrapper copies the service directory
# to /tmp/pam.X, X one character, so concurrent test scripts can end up
# sharing that copy; with distinct names a collision fails loudly (no such
# service) instead of running another script's stack (seen once: a refusal
# test authenticated with the other script's authorized file).
service=p11tls-test-$$
# The counting module (tests/module/testmod.c) logs its calls here.
export P11TLS_TESTMOD_COUNT_DIR="$tmp/count"
mkdir -p "$P11TLS_TESTMOD_COUNT_DIR"
testmod=$builddir/tests/module/.libs/libp11tls-testmod.so

fails=0
n=0

# only_testmod: from now on p11-kit registers the test module instead of
# SoftHSM (tests/with-token.sh's private registration, both the root and the
# user form, see tests/p11kit-isolate.sh), so every PKCS#11 call of this
# script's PAM runs passes through the test module, and its counts are all
# the calls the token got.
only_testmod() {
    local f
    for f in "$P11TLS_TEST_DIR/p11-kit/modules/softhsm2.module" \
             "$P11TLS_TEST_DIR/home/.config/pkcs11/modules/softhsm2.module"; do
        [ -f "$f" ] && echo "module: $testmod" > "$f"
    done
}

# write_service OBJECT AUTHORIZED_FILE [EXTRA OPTIONS...]
write_service() {
    local object=$1 authorized=$2
    shift 2
    # Linux-PAM takes [ ... ] to quote an argument; ';' needs no quoting.
    echo "auth required $modso uri=pkcs11:token=p11tls-test;object=$object;type=cert authorized=$authorized $*" \
        > "$tmp/pam.d/$service"
    echo "account required $modso" >> "$tmp/pam.d/$service"
}

# run_pam INPUT [OPERATIONS...] -> exit status of pamtester; log in $tmp/log.
# INPUT is given to the conversation, one answer per line.
run_pam() {
    local input=$1
    shift
    [ "$#" -gt 0 ] || set -- authenticate
    printf '%s' "$input" | \
        LD_PRELOAD=$wrapper PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$tmp/pam.d" \
        PAM_WRAPPER_DEBUGLEVEL=2 \
        timeout 30 pamtester -v "$service" "$user" "$@" \
        >"$tmp/log" 2>&1
}

# check NAME EXPECT(0|fail) PATTERN RC [PATTERN...]
# Every PATTERN (grep -e) must appear in $tmp/log; no PIN may appear in the
# modules' log lines.
check() {
    local name=$1 expect=$2 pattern=$3 rc=$4
    shift 4
    n=$((n + 1))
    local ok=1 p
    if [ "$expect" = 0 ] && [ "$rc" -ne 0 ]; then ok=0; fi
    if [ "$expect" = fail ] && [ "$rc" -eq 0 ]; then ok=0; fi
    for p in "$pattern" "$@"; do
        if [ -n "$p" ] && ! grep -q -e "$p" "$tmp/log"; then
            ok=0
            echo "# missing in the log: $p"
        fi
    done
    # Only the message: pam_wrapper's prefix holds the pid, which can
    # contain the PIN's digits (pid 12345 once failed this check).
    if grep 'SYSLOG' "$tmp/log" | sed 's/^.*SYSLOG([0-9]*)://' | grep -q -e "$pin" -e 0000 -e 9999; then
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

# man_example NAME: the lines between the markers NAME-begin and NAME-end
# of pam_p11tls(8), roff escapes undone, with only the documented
# placeholders replaced: MyToken (the token label), alice (the user), the
# directory /etc/p11tls/ (into $tmp/etc/p11tls/) and the module's file name.
man_example() {
    local man=${top_srcdir:-${srcdir:-.}}/doc/pam_p11tls.8
    mkdir -p "$tmp/etc/p11tls"
    sed -n "/^\\.\\\\\" $1-begin/,/^\\.\\\\\" $1-end/p" "$man" | grep -v '^\.' |
        sed -e 's/\\e/\\/g' -e 's/\\-/-/g' \
            -e "s#/etc/p11tls/#$tmp/etc/p11tls/#g" -e "s#MyToken#p11tls-test#g" \
            -e "s#^alice:#$user:#" -e "s#\\([[:space:]]\\)pam_p11tls\\.so#\\1$modso#"
}

# count_logins: number of C_Login calls the counting module saw since the
# last reset_count (0 when the module was not called at all).
count_logins() {
    local f=$P11TLS_TESTMOD_COUNT_DIR/calls.log
    if [ -f "$f" ]; then grep -c ' C_Login$' "$f" || true; else echo 0; fi
}
reset_count() { rm -f "$P11TLS_TESTMOD_COUNT_DIR/calls.log"; }

# expect_eq NAME WANT GOT: one more test case comparing numbers.
expect_eq() {
    n=$((n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $n - $1 ($3)"
    else
        echo "not ok $n - $1: expected $2, got $3"
        fails=$((fails + 1))
    fi
}

finish() {
    echo "1..$n"
    [ $fails -eq 0 ] || exit 1
    exit 0
}
