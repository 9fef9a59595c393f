#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pam_pin_test.sh — PINs at the PAM prompt that must never reach the token:
# Enter alone (an empty PIN) and a PIN longer than 255 bytes are refused
# with a clear syslog line (without the PIN) and cost no C_Login, counted by
# the test module (at the end with the test module as the only module
# p11-kit registers). Under pam_wrapper and pamtester (helpers in pam_lib.sh);
# run through tests/suites/pam-pin.rof-false.test.

me=pam_pin_test.sh
. "$(dirname "$0")/pam_lib.sh"

[ -f "$testmod" ] || skip "$testmod not built (make check builds it)"
peer=$builddir/tests/pam/.libs/pam_peer.so
[ -f "$peer" ] || skip "$peer not built (make check builds it)"
curi="pkcs11:token=p11tls-test;object=p256;type=cert?module-path=$testmod"
cp "$P11TLS_TEST_DIR/p256.pem" "$tmp/authorized"
echo "auth required $modso uri=$curi module=$testmod authorized=$tmp/authorized" > "$tmp/pam.d/$service"

reset_count
run_pam $'\n'
check "Enter at the PIN prompt: refused, says no PIN given" fail \
    "no PIN for token p11tls-test: no PIN given" $?
expect_eq "Enter at the PIN prompt: C_Login calls" 0 "$(count_logins)"

long=$pin$(printf 'x%.0s' $(seq 300))
reset_count
run_pam "$long"$'\n'
check "a PIN over 255 bytes at the prompt: refused as too long" fail \
    "no PIN for token p11tls-test: the PIN entered is too long" $?
expect_eq "a PIN over 255 bytes at the prompt: C_Login calls" 0 "$(count_logins)"
n=$((n + 1))
if grep 'SYSLOG' "$tmp/log" | grep -q xxxxxxxx; then
    echo "not ok $n - the long PIN is not in the log"; fails=$((fails + 1))
else
    echo "ok $n - the long PIN is not in the log"
fi

# try_first_pass with an empty PAM_AUTHTOK from an earlier module: asks,
# and Enter is still no PIN.
{
    echo "auth required $peer authtok="
    echo "auth required $modso uri=$curi module=$testmod authorized=$tmp/authorized try_first_pass"
} > "$tmp/pam.d/$service"
reset_count
run_pam $'\n'
check "empty PAM_AUTHTOK, then Enter at the prompt: refused" fail \
    "no PIN for token p11tls-test: no PIN given" $?
expect_eq "empty PAM_AUTHTOK, then Enter: C_Login calls" 0 "$(count_logins)"

# The same service with the PIN: one C_Login (the counting works).
echo "auth required $modso uri=$curi module=$testmod authorized=$tmp/authorized" > "$tmp/pam.d/$service"
reset_count
run_pam "$pin"$'\n'
check "the PIN at the prompt: success" 0 "" $?
expect_eq "the PIN at the prompt: C_Login calls" 1 "$(count_logins)"

# Only the test module registered (last: it changes p11-kit's view): the
# empty PIN costs no C_Login on any path to the token, and the right PIN
# exactly one, counted where every call now passes.
only_testmod
echo "auth required $modso uri=pkcs11:token=p11tls-test;object=p256;type=cert authorized=$tmp/authorized" \
    > "$tmp/pam.d/$service"
reset_count
run_pam $'\n'
check "only the test module registered, Enter at the prompt: refused as no PIN given" fail \
    "no PIN for token p11tls-test: no PIN given" $?
expect_eq "only the test module registered, Enter: C_Login calls" 0 "$(count_logins)"
reset_count
run_pam "$pin"$'\n'
check "only the test module registered, the PIN: success" 0 "" $?
expect_eq "only the test module registered, the PIN: C_Login calls" 1 "$(count_logins)"

finish
