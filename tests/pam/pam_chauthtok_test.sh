#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pam_chauthtok_test.sh — the password stack (pam_sm_chauthtok): the
# token's user PIN changed (checked with pkcs11-tool), a wrong current PIN
# refused with exactly one C_Login, new PINs that differ, a PIN too short
# or empty refused with none, the preliminary pass touching nothing. The
# test module is the only module p11-kit registers, so its counts are every
# login the token got. Under pam_wrapper and pamtester (helpers in
# pam_lib.sh); run through tests/suites/pam-chauthtok.rof-false.test.

me=pam_chauthtok_test.sh
. "$(dirname "$0")/pam_lib.sh"

[ -f "$testmod" ] || skip "$testmod not built (make check builds it)"
only_testmod
# pam_p11tls(8)'s example line.
man_example example-password > "$tmp/pam.d/$service"
expect_eq "pam_p11tls(8) password example: lines" 1 "$(grep -c . "$tmp/pam.d/$service")"

# login_works PIN: pkcs11-tool, straight to SoftHSM, logs in with PIN.
login_works() {
    pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label p11tls-test --login \
        --pin "$1" --list-objects --type privkey >/dev/null 2>&1
}
# expect_login NAME PIN yes|no
expect_login() {
    local got=no
    login_works "$2" && got=yes
    expect_eq "$1" "$3" "$got"
}

new=56781234
reset_count
run_pam "$pin"$'\n'"$new"$'\n'"$new"$'\n' chauthtok
check "PIN changed" 0 "PIN of token p11tls-test changed" $? "Current PIN for p11tls-test" \
    "Retype new PIN for p11tls-test"
expect_eq "PIN changed: C_Login calls" 1 "$(count_logins)"
expect_login "pkcs11-tool logs in with the new PIN" "$new" yes
expect_login "pkcs11-tool does not log in with the old PIN" "$pin" no

# And back (the other cases and the PIN check of the log use $pin).
run_pam "$new"$'\n'"$pin"$'\n'"$pin"$'\n' chauthtok
check "PIN changed back" 0 "PIN of token p11tls-test changed" $?
expect_login "pkcs11-tool logs in with the PIN again" "$pin" yes

reset_count
run_pam $'0000\n99998888\n99998888\n' chauthtok
check "wrong current PIN: refused" fail "wrong current PIN for token p11tls-test; PIN not changed" $?
expect_eq "wrong current PIN: C_Login calls" 1 "$(count_logins)"
expect_login "wrong current PIN: the PIN is unchanged" "$pin" yes

reset_count
run_pam "$pin"$'\n99998888\n99998889\n' chauthtok
check "new PINs differ: refused" fail "the new PINs differ; PIN not changed" $?
expect_eq "new PINs differ: C_Login calls" 0 "$(count_logins)"

reset_count
run_pam "$pin"$'\n12\n12\n' chauthtok
check "new PIN too short: refused with the token's limits" fail \
    "new PIN refused: token p11tls-test takes PINs of 4 to 255 characters; the new PIN has 2" $? \
    "PIN not changed: token p11tls-test takes PINs of 4 to 255"
expect_eq "new PIN too short: C_Login calls" 0 "$(count_logins)"

reset_count
run_pam $'\n' chauthtok
check "Enter for the current PIN: refused as no PIN given" fail \
    "no current PIN given; PIN not changed" $?
expect_eq "Enter for the current PIN: C_Login calls" 0 "$(count_logins)"

# The preliminary pass alone (the stack's next module fails it, so libpam
# never starts the update): no prompt, nothing on the token.
{
    echo "password required $modso uri=pkcs11:token=p11tls-test"
    echo "password required pam_deny.so"
} > "$tmp/pam.d/$service"
reset_count
run_pam "$pin"$'\n99998888\n99998888\n' chauthtok
rc=$?
check "preliminary pass only: refused by pam_deny" fail "" $rc
expect_eq "preliminary pass only: C_Login calls" 0 "$(count_logins)"
n=$((n + 1))
if grep -q "Current PIN" "$tmp/log"; then
    echo "not ok $n - preliminary pass only: no prompt"; fails=$((fails + 1))
else
    echo "ok $n - preliminary pass only: no prompt"
fi
expect_login "preliminary pass only: the PIN is unchanged" "$pin" yes

finish
