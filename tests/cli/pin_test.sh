#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pin_test.sh - the p11tls tool's PIN input: an empty PIN (empty --pin-fd,
# Enter at the terminal prompt) and a PIN too long for p11tls are refused
# with a clear message and cost no C_Login. Counted with the test module
# (tests/module/testmod.c, forwarding to SoftHSM), loaded with --module.
# The terminal is a pseudo-terminal driven by tests/cli/pty_answer.py.
set -u

. "$(dirname "$0")/lib.sh"
need_tools timeout

testmod=${P11TLS_TESTMOD:-./tests/module/.libs/libp11tls-testmod.so}
[ -f "$testmod" ] || { echo "$(basename "$0"): SKIP: $testmod not built" >&2; exit 77; }
testmod=$(realpath "$testmod")
export P11TLS_TESTMOD_COUNT_DIR="$TMP/count"
mkdir -p "$P11TLS_TESTMOD_COUNT_DIR"
KEY="pkcs11:token=$TOKEN;object=p256;type=private"
logins() { grep -c " C_Login$" "$P11TLS_TESTMOD_COUNT_DIR/calls.log" 2>/dev/null; }
expect_logins() { # expect_logins NAME N: C_Login calls since the last check
    local got
    got=$(logins)
    : > "$P11TLS_TESTMOD_COUNT_DIR/calls.log"
    if [ "${got:-0}" -eq "$2" ]; then ok "$1"; else not_ok "$1 (C_Login calls: ${got:-0}, want $2)"; fi
}
# refused NAME PATTERN: the last run exited 1 and its stderr matches.
refused() {
    if [ "$rc" -eq 1 ] && grep -qi -- "$2" "$TMP/err"; then ok "$1"; else not_ok "$1 (exit $rc)" "$TMP/err"; fi
}

# ---- --pin-fd ------------------------------------------------------------

timeout 60 "$CLI" --no-registered --module "$testmod" --pin-fd 3 info "$KEY" \
    >"$TMP/out" 2>"$TMP/err" 3</dev/null
rc=$?
refused "--pin-fd with no input: refused, says no PIN given" "no PIN given"
expect_logins "--pin-fd with no input: no C_Login" 0

timeout 60 "$CLI" --no-registered --module "$testmod" --pin-fd 3 info "$KEY" \
    >"$TMP/out" 2>"$TMP/err" 3<<<""
rc=$?
refused "--pin-fd with an empty line: refused, says no PIN given" "no PIN given"
expect_logins "--pin-fd with an empty line: no C_Login" 0

long=$(printf "%s%0300d" "$PIN" 0)
timeout 60 "$CLI" --no-registered --module "$testmod" --pin-fd 3 info "$KEY" \
    >"$TMP/out" 2>"$TMP/err" 3<<<"$long"
rc=$?
refused "--pin-fd with a PIN over 255 bytes: refused as too long" "too long"
expect_logins "--pin-fd with a PIN over 255 bytes: no C_Login" 0
check "--pin-fd with a PIN over 255 bytes: the PIN is not printed" bash -c '! grep -qF -- "$0" "$1" "$2"' \
    "000000000000" "$TMP/out" "$TMP/err"

# A stream with no newline is refused after 255 bytes, not read forever
# (one byte per read(2) used to go on until the end of input, which
# /dev/zero never reaches; timeout's 124 would say it hung).
timeout 60 "$CLI" --no-registered --module "$testmod" --pin-fd 3 info "$KEY" \
    >"$TMP/out" 2>"$TMP/err" 3</dev/zero
rc=$?
refused "--pin-fd on /dev/zero: refused as too long, not read forever" "too long"
expect_logins "--pin-fd on /dev/zero: no C_Login" 0

# The right PIN, a NUL byte, junk: cut at the NUL it logged in.
timeout 60 "$CLI" --no-registered --module "$testmod" --pin-fd 3 info "$KEY" \
    >"$TMP/out" 2>"$TMP/err" 3< <(printf '%s\0JUNK\n' "$PIN")
rc=$?
refused "--pin-fd with a NUL inside the PIN: refused" "NUL byte"
expect_logins "--pin-fd with a NUL inside the PIN: no C_Login" 0

timeout 60 "$CLI" --no-registered --module "$testmod" --pin-fd 3 info "$KEY" \
    >"$TMP/out" 2>"$TMP/err" 3<<<"$PIN"
rc=$?
check "--pin-fd with the PIN: works" test "$rc" -eq 0
expect_logins "--pin-fd with the PIN: one C_Login" 1

# ---- the terminal prompt -------------------------------------------------

if ! command -v python3 >/dev/null 2>&1; then
    echo "# SKIP: python3 not found, terminal prompt not tested"
    finish
    exit
fi
pty_answer() { timeout 90 python3 "$(dirname "$0")/pty_answer.py" "$@"; }

pty_answer "PIN for token" '\n' "$CLI" --no-registered --module "$testmod" info "$KEY" \
    >"$TMP/err" 2>&1
rc=$?
refused "Enter at the PIN prompt: refused, says no PIN entered" "no PIN entered"
expect_logins "Enter at the PIN prompt: no C_Login" 0

pty_answer "PIN for token" "$long"'\n' "$CLI" --no-registered --module "$testmod" info "$KEY" \
    >"$TMP/err" 2>&1
rc=$?
refused "a PIN over 255 bytes at the prompt: refused as too long" "too long"
check "a PIN typed at the prompt is not echoed" bash -c '! grep -qF -- "$0" "$1"' "000000000000" "$TMP/err"
expect_logins "a PIN over 255 bytes at the prompt: no C_Login" 0

pty_answer "PIN for token" "$PIN"'\n' "$CLI" --no-registered --module "$testmod" info "$KEY" \
    >"$TMP/err" 2>&1
rc=$?
check "the PIN at the prompt: works (the prompt is really answered)" test "$rc" -eq 0
expect_logins "the PIN at the prompt: one C_Login" 1

finish
