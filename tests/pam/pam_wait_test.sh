#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pam_wait_test.sh — option wait=SECONDS: the user is asked to insert the
# token and pam_p11tls waits for it. SoftHSM never shows a token created
# after it started, so the token is the test module's, present while a file
# exists (P11TLS_TESTMOD_HOTPLUG, tests/module/testmod.c), with the test
# module as the only module p11-kit registers. Nothing depends on timing:
# the file appears once the module has logged that it waits. Under
# pam_wrapper and pamtester (helpers in pam_lib.sh); run through
# tests/suites/pam-wait.rof-false.test.

me=pam_wait_test.sh
. "$(dirname "$0")/pam_lib.sh"

[ -f "$testmod" ] || skip "$testmod not built (make check builds it)"
only_testmod
plug=$tmp/plugged
export P11TLS_TESTMOD_HOTPLUG=$plug
cp "$P11TLS_TEST_DIR/p256.pem" "$tmp/authorized"
svc() { # OPTIONS...
    echo "auth required $modso uri=pkcs11:token=p11tls-test;object=p256;type=cert authorized=$tmp/authorized $*" \
        > "$tmp/pam.d/$service"
}

# run_bg INPUT: pamtester in the background (stdin from $tmp/in), pid in
# $bg; its log is $tmp/log.
run_bg() {
    LD_PRELOAD=$wrapper PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$tmp/pam.d" \
        PAM_WRAPPER_DEBUGLEVEL=2 \
        timeout 30 pamtester -v "$service" "$user" authenticate < "$1" > "$tmp/log" 2>&1 &
    bg=$!
}
# until_log PATTERN: waits (at most 30 s) until PATTERN is in $tmp/log.
until_log() {
    local i
    for i in $(seq 300); do
        grep -q -e "$1" "$tmp/log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "# never logged: $1"
    return 1
}

# --- the token is plugged in while pam_p11tls waits -----------------------------
rm -f "$plug"
printf '%s\n' "$pin" > "$tmp/in"
# pam_p11tls(8)'s example line, with this test's authorized file.
man_example example-wait | sed "s#\$# authorized=$tmp/authorized#" > "$tmp/pam.d/$service"
expect_eq "pam_p11tls(8) wait example: lines" 1 "$(grep -c . "$tmp/pam.d/$service")"
run_bg "$tmp/in"
until_log "waiting up to 30 s for a token matching"
sleep 1 # the user takes a second to find the token
touch "$plug"
wait $bg
check "token plugged in 1 s after the prompt (the man page's example): authenticated" 0 \
    "Please insert your token (waiting up to 30 seconds)." $?

# Already there: no prompt, no wait.
svc wait=30
run_pam "$pin"$'\n'
rc=$?
check "token already there: authenticated" 0 "" $rc
n=$((n + 1))
if grep -q "Please insert" "$tmp/log"; then
    echo "not ok $n - token already there: no insert prompt"; fails=$((fails + 1))
else
    echo "ok $n - token already there: no insert prompt"
fi

# --- never plugged in: refused after the wait --------------------------------------
rm -f "$plug"
svc wait=2
t0=$(date +%s%N)
run_pam "$pin"$'\n'
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "no token within wait=2: refused" fail \
    "no token: none matching pkcs11:token=p11tls-test;object=p256;type=cert was inserted within 2 s" $rc
n=$((n + 1))
if [ "$ms" -ge 2000 ] && [ "$ms" -lt 20000 ]; then
    echo "ok $n - no token within wait=2: refused after $ms ms"
else
    echo "not ok $n - no token within wait=2: refused after $ms ms (want 2 s to 20 s)"; fails=$((fails + 1))
fi

# Without wait=, no waiting: refused at once as before.
svc
run_pam "$pin"$'\n'
check "no token, no wait=: refused" fail "no token: no token matches" $?
svc wait=soon
run_pam "$pin"$'\n'
check "wait=soon: warned, not waiting" fail "wait=soon: not a number of seconds" $? \
    "no token: no token matches"

# --- removed while the user types the PIN ----------------------------------------------
touch "$plug"
rm -f "$tmp/fifo"
mkfifo "$tmp/fifo"
svc wait=30
reset_count
run_bg "$tmp/fifo"
exec 7>"$tmp/fifo" # opened after pamtester's open, which waits for a writer
until_log "PIN for p11tls-test"
rm -f "$plug"
printf '%s\n' "$pin" >&7
exec 7>&-
wait $bg
check "token removed at the PIN prompt: refused, says removed" fail \
    "no token: p11tls-test removed while opening" $?

finish
