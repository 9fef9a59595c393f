#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pam_test.sh — pam_p11tls.so under pam_wrapper and pamtester: one case per
# outcome, each checking pamtester's result and the module's syslog line.
#
# Run through tests/with-token.sh (tests/suites/pam.*.test): needs
# P11TLS_TEST_DIR (<label>.pem certificates) and the test token p11tls-test
# (PIN in P11TLS_TEST_PIN). Helpers in pam_lib.sh.
# Exit status: 0 all passed, 1 a case failed, 77 skipped (missing tools).

me=pam_test.sh
. "$(dirname "$0")/pam_lib.sh"

peer=$builddir/tests/pam/.libs/pam_peer.so
[ -f "$peer" ] || skip "$peer not built (make check builds it)"
[ -f "$testmod" ] || skip "$testmod not built (make check builds it)"

p256=$P11TLS_TEST_DIR/p256.pem
rsa=$P11TLS_TEST_DIR/rsa2048.pem
# Through the counting module: module= loads it, the query attribute
# module-path selects its view of the token (SoftHSM is also registered).
curi="pkcs11:token=p11tls-test;object=p256;type=cert?module-path=$testmod"

# --- the authorized file ------------------------------------------------------
cp "$p256" "$tmp/authorized"
write_service p256 "$tmp/authorized"
run_pam "$pin"$'\n' authenticate acct_mgmt
check "p256 authorized, right PIN: auth and account succeed" 0 "" $?

run_pam $'0000\n'
check "p256 wrong PIN: refused" fail "wrong PIN for token p11tls-test (from the prompt)" $?

cp "$rsa" "$tmp/authorized-rsa"
write_service rsa2048 "$tmp/authorized-rsa"
run_pam "$pin"$'\n'; check "rsa2048 authorized, right PIN: success" 0 "" $?

write_service p256 "$tmp/authorized-rsa"
run_pam "$pin"$'\n'; check "p256 not authorized: refused" fail "no authorized key on the token" $?

: > "$tmp/authorized-empty"
write_service p256 "$tmp/authorized-empty"
run_pam "$pin"$'\n'; check "empty authorized file: refused" fail "no authorized key in $tmp/authorized-empty" $?

write_service p256 "$tmp/does-not-exist"
run_pam "$pin"$'\n'
check "missing authorized file: refused" fail "cannot read authorized file $tmp/does-not-exist: cannot open: No such file" $?

# Unreadable: permissions do not stop root, so as root the unreadable
# "file" is a directory.
if [ "$(id -u)" = 0 ]; then
    mkdir "$tmp/authorized-unreadable"
    why="not a regular file"
else
    cp "$p256" "$tmp/authorized-unreadable"
    chmod 000 "$tmp/authorized-unreadable"
    why="Permission denied"
fi
write_service p256 "$tmp/authorized-unreadable"
run_pam "$pin"$'\n'
check "unreadable authorized file: refused" fail "cannot read authorized file $tmp/authorized-unreadable: .*$why" $?

cp "$p256" "$tmp/authorized-gw"
chmod 664 "$tmp/authorized-gw"
write_service p256 "$tmp/authorized-gw"
run_pam "$pin"$'\n'
check "group-writable authorized file: refused" fail "writable by group or others" $?

{ echo "# a private key has no business here"; cat "$P11TLS_TEST_DIR/ca-key.pem"; } > "$tmp/authorized-priv"
write_service p256 "$tmp/authorized-priv"
run_pam "$pin"$'\n'
check "private key in the authorized file: refused with the line" fail \
    "authorized file $tmp/authorized-priv line 2: unsupported PEM block" $?

{ echo "# my token's public key"; certtool --pubkey-info --infile "$p256" 2>/dev/null |
    sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p'; } > "$tmp/authorized-pub"
grep -q 'BEGIN PUBLIC KEY' "$tmp/authorized-pub" || echo "# certtool gave no public key"
write_service p256 "$tmp/authorized-pub" debug
run_pam "$pin"$'\n'
check "PEM PUBLIC KEY entry: success" 0 "1 authorized key(s) in $tmp/authorized-pub" $?

mkdir -p "$tmp/pam.d"
echo "auth required $modso uri=pkcs11:token=no-such-token;type=cert authorized=$tmp/authorized" \
    > "$tmp/pam.d/$service"
run_pam "$pin"$'\n'; check "no token: refused" fail "no token: no token matches pkcs11:token=no-such-token" $?
echo "auth required $modso uri=pkcs11:token=p11tls-test;object=no-such-object;type=cert authorized=$tmp/authorized" \
    > "$tmp/pam.d/$service"
run_pam "$pin"$'\n'; check "no matching certificate: refused" fail "no certificate on 1 token(s) matches" $?

cat "$rsa" "$p256" > "$tmp/authorized-both"
echo "auth required $modso uri=pkcs11:token=p11tls-test;type=cert authorized=$tmp/authorized-both" \
    > "$tmp/pam.d/$service"
run_pam "$pin"$'\n'; check "two authorized certs, token-wide URI: success" 0 "" $?

write_service p256 "$tmp/authorized" debug
run_pam "$pin"$'\n'
check "debug, right PIN: success with debug log" 0 "challenge signed with ecdsa_secp256r1_sha256" $?

# --- the mapping file -----------------------------------------------------------
b64=$(sed '1d;$d' "$p256" | tr -d '\n')
printf '# user: file or base64\nnobody: %s\n%s: %s\n' "$tmp/authorized-rsa" "$user" "$tmp/authorized" \
    > "$tmp/map-file"
printf '%s: %s\n' "$user" "$b64" > "$tmp/map-inline"
printf 'nobody: %s\n' "$tmp/authorized" > "$tmp/map-other"
printf '%s: %s\n%s %s\n' "$user" "$tmp/authorized" "$user" "$tmp/authorized" > "$tmp/map-bad"
for m in map-file map-inline; do
    echo "auth required $modso uri=pkcs11:token=p11tls-test;object=p256;type=cert mapfile=$tmp/$m" \
        > "$tmp/pam.d/$service"
    run_pam "$pin"$'\n'; check "mapping file ($m): success" 0 "" $?
done
echo "auth required $modso uri=pkcs11:token=p11tls-test;object=p256;type=cert mapfile=$tmp/map-other" \
    > "$tmp/pam.d/$service"
run_pam "$pin"$'\n'; check "user not in the mapping file: refused" fail "no authorized key in $tmp/map-other" $?
echo "auth required $modso uri=pkcs11:token=p11tls-test;object=p256;type=cert mapfile=$tmp/map-bad" \
    > "$tmp/pam.d/$service"
run_pam "$pin"$'\n'
check "malformed mapping file: refused with the line" fail "mapping file $tmp/map-bad line 2: expected 'user: entry'" $?

# --- account ---------------------------------------------------------------------
printf 'account required %s debug\n' "$modso" > "$tmp/pam.d/$service"
run_pam "" acct_mgmt
check "account without auth: not granted by pam_p11tls alone" fail "account: no user authenticated by pam_p11tls" $?
printf 'account required %s\naccount required pam_permit.so\n' "$modso" > "$tmp/pam.d/$service"
run_pam "" acct_mgmt
check "account without auth: PAM_IGNORE, the other modules decide" 0 "" $?

{
    echo "auth    required $modso uri=pkcs11:token=p11tls-test;object=p256;type=cert authorized=$tmp/authorized"
    echo "account required $peer user=nobody"
    echo "account required $modso"
} > "$tmp/pam.d/$service"
run_pam "$pin"$'\n' authenticate acct_mgmt
check "account after a user change: denied" fail "account: user is nobody, but pam_p11tls authenticated $user" $?

# --- PIN sources: try_first_pass / use_first_pass -------------------------------------
svc_first() { # PEER_OPTIONS P11TLS_OPTIONS
    {
        echo "auth required $peer $1"
        echo "auth required $modso uri=$curi module=$testmod authorized=$tmp/authorized $2"
    } > "$tmp/pam.d/$service"
}
svc_first "authtok=$pin" use_first_pass
run_pam "" ; check "use_first_pass with PAM_AUTHTOK: success without a prompt" 0 "" $?
svc_first "" use_first_pass
run_pam "$pin"$'\n'
check "use_first_pass without PAM_AUTHTOK: refused, no prompt" fail "use_first_pass: no PAM_AUTHTOK" $?
svc_first "" try_first_pass
run_pam "$pin"$'\n'; check "try_first_pass without PAM_AUTHTOK: prompts, success" 0 "" $?
reset_count
svc_first "authtok=9999" try_first_pass
run_pam "$pin"$'\n'
check "try_first_pass, wrong PAM_AUTHTOK: refused, not retried with a prompt" fail \
    "wrong PIN for token p11tls-test (from PAM_AUTHTOK)" $?
expect_eq "try_first_pass, wrong PAM_AUTHTOK: C_Login calls" 1 "$(count_logins)"

# --- counted logins, locked PIN ---------------------------------------------------------
echo "auth required $modso uri=$curi module=$testmod authorized=$tmp/authorized" > "$tmp/pam.d/$service"
reset_count
run_pam $'0000\n1234\n1234\n'
check "wrong PIN through the counting module: refused" fail "wrong PIN for token" $?
expect_eq "wrong PIN: C_Login calls" 1 "$(count_logins)"
reset_count
run_pam "$pin"$'\n'
check "right PIN through the counting module: success" 0 "" $?
expect_eq "right PIN: C_Login calls" 1 "$(count_logins)"

reset_count
P11TLS_TESTMOD_FAIL=C_Login:1:0xa4 run_pam "$pin"$'\n'   # CKR_PIN_LOCKED
check "locked PIN: refused" fail "the PIN of token p11tls-test is locked" $?

# --- signature mismatch (last: it changes the token) ---------------------------------------
# A certificate labelled like the p256 key but holding the p384 public key:
# the p256 key signs, the p384 key cannot verify.
certtool --certificate-info --infile "$P11TLS_TEST_DIR/p384.pem" --outder \
    --outfile "$tmp/p384.der" >/dev/null 2>&1
p11() {
    pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label p11tls-test --login \
        --pin "$pin" "$@" >"$tmp/log" 2>&1 || echo "# pkcs11-tool failed: $(cat "$tmp/log")"
}
p11 --delete-object --type cert --label p256
p11 --write-object "$tmp/p384.der" --type cert --label p256 --id 03
cp "$P11TLS_TEST_DIR/p384.pem" "$tmp/authorized-p384"
write_service p256 "$tmp/authorized-p384"
run_pam "$pin"$'\n'; check "key does not match its certificate: refused" fail "signature mismatch" $?

# --- a renewed certificate beside the old one (issue 24, item 4) --------------------
# The p256 key with two certificates of its own label and ID, an expired
# one and its renewal: every certificate of the key is checked (the URI
# names both, and reading it as one certificate was "ambiguous").
. "$(dirname "$0")/../support/renewal.sh"
if renew_on_token p256 03 "$tmp/renewal"; then
    cp "$tmp/renewal/new.pem" "$tmp/authorized-renewed"
    write_service p256 "$tmp/authorized-renewed" debug
    run_pam "$pin"$'\n'
    check "renewed certificate authorized beside the expired one: success" 0 "authenticated with" $?
else
    check "renewed certificate: the two certificates are written" 0 "" 1
fi

finish
