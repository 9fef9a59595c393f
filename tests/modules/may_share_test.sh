#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# may_share_test.sh - a module p11tls does not know to share its state with
# forked children (the test module over SoftHSM, tests/module/testmod.c)
# fails in the parent after a child used it: the detail says the module
# "may share its state with forked children", and the module is still
# called (the next signature works). Without a child, the same failure has
# no such note. Run under tests/with-token.sh. TAP-like output.
set -u
. "$(dirname "$0")/../cli/lib.sh"
export P11TLS_FORK_PARENT_MODULE=${P11TLS_TESTMOD:-$PWD/tests/module/.libs/libp11tls-testmod.so}
fork_parent=${P11TLS_FORK_PARENT:-./tests/fork_parent}
key="pkcs11:token=$TOKEN;object=p256;type=private;pin-value=$PIN"

# The parent's second C_Sign (its first after the fork) fails with
# CKR_DEVICE_ERROR; the child's first succeeds.
P11TLS_TESTMOD_FAIL=C_Sign:2:0x30 timeout 60 "$fork_parent" "$key" ecdsa_secp256r1_sha256 \
    >"$TMP/out" 2>"$TMP/err"
sed 's/^/#   /' "$TMP/out"
if grep -q "^parent-before=0 " "$TMP/out" && grep -q "^child=0$" "$TMP/out" &&
   grep -q "^parent-after=-14 .*CKR_DEVICE_ERROR; module .* may share its state with forked children" "$TMP/out"; then
    ok "a failure after a child used the module says it may share its state with forked children"
else
    not_ok "a failure after a child used the module says it may share its state with forked children" \
        "$TMP/out" "$TMP/err"
fi
if grep -q "^parent-again=0 " "$TMP/out"; then ok "an unknown module is still called after that failure"
else not_ok "an unknown module is still called after that failure" "$TMP/out"; fi

# Without a child: the parent's first C_Sign fails, and nothing is said
# about forked children.
P11TLS_TESTMOD_FAIL=C_Sign:1:0x30 timeout 60 "$fork_parent" "$key" ecdsa_secp256r1_sha256 \
    >"$TMP/out" 2>"$TMP/err"
sed 's/^/#   /' "$TMP/out"
if grep -q "^parent-before=-14 .*CKR_DEVICE_ERROR" "$TMP/out" && ! grep -q "^parent-before=.*forked" "$TMP/out"; then
    ok "the same failure before any fork says nothing about forked children"
else
    not_ok "the same failure before any fork says nothing about forked children" "$TMP/out" "$TMP/err"
fi
finish
