#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pam_programs_test.sh — pam_p11tls in the settings PAM modules live in:
# stacked with itself and with another module that uses p11tls, in a process
# that authenticates, forks and authenticates again, 100 transactions in one
# process, and the man page's example configuration exactly as written.
#
# Run through tests/with-token.sh (tests/suites/pam-programs.*.test). The
# result of a child authentication after fork depends on the driver: with
# SoftHSM reset_on_fork = true (like real smart cards) the child logs in
# again and succeeds; with false the child inherits the parent's login, so
# its PIN cannot be checked and pam_p11tls refuses (see pam_p11tls(8), "The
# PIN is checked in every authentication").
# Exit status: 0 all passed, 1 a case failed, 77 skipped.

me=pam_programs_test.sh
. "$(dirname "$0")/pam_lib.sh"

peer=$builddir/tests/pam/.libs/pam_peer.so
forktest=$builddir/tests/pam/pam_fork_test
[ -f "$peer" ] || skip "$peer not built (make check builds it)"
[ -x "$forktest" ] || skip "$forktest not built (make check builds it)"
[ -f "${top_srcdir:-${srcdir:-.}}/doc/pam_p11tls.8" ] || skip "doc/pam_p11tls.8 not found"

cp "$P11TLS_TEST_DIR/p256.pem" "$tmp/a-p256"
cp "$P11TLS_TEST_DIR/rsa2048.pem" "$tmp/a-rsa"
tok="pkcs11:token=p11tls-test"
wrong_msg="wrong PIN for token"

# run_prog CYCLES -> the result line of pam_fork_test in $tmp/result
run_prog() {
    LD_PRELOAD=$wrapper PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$tmp/pam.d" \
        PAM_WRAPPER_DEBUGLEVEL=2 timeout 120 "$forktest" "$service" "$user" "$1" \
        >"$tmp/result" 2>"$tmp/log"
    local rc=$?
    cat "$tmp/result" >>"$tmp/log"
    return $rc
}
field() { sed -n "s/.*\\b$1=\\(-\\?[0-9]*\\).*/\\1/p" "$tmp/result"; }

# --- stacks ----------------------------------------------------------------
# Two pam_p11tls instances with different options (key, authorized file,
# debug) and pam_peer, which opens and signs with a key through a p11tls
# context of its own, all in one pamtester process. The second instance
# asks for no PIN: the first checked the token's PIN in this handle.
{
    echo "auth    required $modso uri=$tok;object=p256;type=cert authorized=$tmp/a-p256"
    echo "auth    required $peer key=$tok;object=p384;type=private;pin-value=$pin"
    echo "auth    required $modso uri=$tok;object=rsa2048;type=cert authorized=$tmp/a-rsa debug"
    echo "account required $modso debug"
} > "$tmp/pam.d/$service"
run_pam "$pin"$'\n' authenticate acct_mgmt
check "two instances and pam_peer in one stack: success" 0 \
    "pam_peer: signed with its own context" $? \
    "challenge signed with rsa_pss_rsae_sha256" \
    "account: user $user was authenticated by pam_p11tls"
expect_eq "two instances and pam_peer: PIN prompts" 1 "$(grep -o 'PIN for' "$tmp/log" | wc -l)"

# pam_peer logs in first (its URI carries the PIN): pam_p11tls must still
# check the user's PIN (P11TLS_KEY_OPEN_VERIFY_PIN logs the token out and in
# again), so the right PIN passes and a wrong one is refused, not waved
# through on the existing login.
{
    echo "auth    required $peer key=$tok;object=p384;type=private;pin-value=$pin"
    echo "auth    required $modso uri=$tok;object=p256;type=cert authorized=$tmp/a-p256"
} > "$tmp/pam.d/$service"
run_pam "$pin"$'\n'
check "token logged in by another module first, right PIN: success" 0 "" $?
expect_eq "token logged in by another module first: PIN prompts" 1 "$(grep -o 'PIN for' "$tmp/log" | wc -l)"
run_pam "9999"$'\n'
check "token logged in by another module first, wrong PIN: refused" fail "$wrong_msg" $?

# --- authenticate, fork, authenticate in the child ---------------------------------
printf 'auth required %s uri=%s;object=p256;type=cert authorized=%s\naccount required %s\n' \
    "$modso" "$tok" "$tmp/a-p256" "$modso" > "$tmp/pam.d/$service"
want_child=0
run_prog 1; rc=$?
check "auth, fork, auth in the child: program ran" 0 "" $rc
expect_eq "auth in the parent (PAM code)" 0 "$(field first)"
expect_eq "auth in the child, reset_on_fork=$P11TLS_TEST_RESET_ON_FORK (PAM code)" \
    "$want_child" "$(field child)"

# --- 100 transactions in one process, then fork ----------------------------------------
# Each pam_end unloads pam_p11tls.so. Every transaction checks the PIN
# again (the token stays logged in between them; see above) and succeeds.
# Resident memory after the 100th may exceed that after the first by at
# most 4 MiB: measured growth is under 1 MiB (libraries' one-time state,
# which does not grow with the number of cycles).
run_prog 100; rc=$?
check "100 transactions then fork: program ran" 0 "" $rc
expect_eq "100 transactions: first succeeds" 0 "$(field first)"
expect_eq "100 transactions: successes" 100 "$(field ok)"
expect_eq "100 transactions: child after fork (PAM code)" "$want_child" "$(field child)"
first_kb=$(field rss_first_kb); last_kb=$(field rss_last_kb)
echo "# RSS after transaction 1: ${first_kb} kB, after 100: ${last_kb} kB"
n=$((n + 1))
if [ -n "$first_kb" ] && [ -n "$last_kb" ] && [ $((last_kb - first_kb)) -le 4096 ]; then
    echo "ok $n - 100 transactions: RSS growth $((last_kb - first_kb)) kB <= 4096 kB"
else
    echo "not ok $n - 100 transactions: RSS growth ${first_kb:-?} -> ${last_kb:-?} kB"
    fails=$((fails + 1))
fi

# --- the man page example, as written -------------------------------------------------
# Only the documented placeholders are replaced (man_example, pam_lib.sh).
man_example example-pam.d > "$tmp/pam.d/$service"
man_example example-map > "$tmp/etc/p11tls/pam_map"
cp "$P11TLS_TEST_DIR/p256.pem" "$tmp/etc/p11tls/alice.pem"
expect_eq "man page example: pam.d lines extracted" 4 "$(grep -c . "$tmp/pam.d/$service")"
expect_eq "man page example: mapping file lines extracted" 3 "$(grep -c . "$tmp/etc/p11tls/pam_map")"
run_pam "$pin"$'\n' authenticate acct_mgmt
check "man page example: auth and account succeed" 0 "" $?
# An account module after the example's lines still decides: pam_p11tls's
# account result must not end the group (the old "account sufficient"
# example let a locked or expired account through).
echo "account  required    pam_deny.so" >> "$tmp/pam.d/$service"
run_pam "$pin"$'\n' authenticate acct_mgmt
check "man page example + account required pam_deny.so: authenticated, account denied" fail \
    "successfully authenticated" $? "performing operation - acct_mgmt"

finish
