#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# cli_test.sh - tests of the p11tls command-line tool against a SoftHSM
# token. Run under the wrapper that sets up the token; it provides:
#   P11TLS_TEST_DIR        directory with <label>.pem certificates and ca.pem
#   P11TLS_TEST_PIN        the user PIN (1234)
#   P11TLS_TEST_TOKEN_URI  pkcs11:token=p11tls-test
#   P11TLS_CLI             the tool (default ./src/p11tls)
# Output is TAP-like ("ok N - name" / "not ok N - name"); exits 0 only if
# every check passed.
set -u

CLI=${P11TLS_CLI:-./src/p11tls}
TOKEN_URI=${P11TLS_TEST_TOKEN_URI:-pkcs11:token=p11tls-test}
PIN=${P11TLS_TEST_PIN:-1234}
DIR=${P11TLS_TEST_DIR:?P11TLS_TEST_DIR must name the test certificate directory}
TOKEN_LABEL=p11tls-test
WRONG_PIN=97531864   # unlikely to occur by chance in any output

TMP=$(mktemp -d "${TMPDIR:-/tmp}/p11tls-cli-test.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
    if [ -s "$TMP/err" ]; then sed 's/^/#   stderr: /' "$TMP/err"; fi
}
check() { # check NAME COMMAND...: ok if COMMAND succeeds
    local name=$1; shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# p11 ARGS...: runs the tool with a timeout; stdout to $TMP/out, stderr to
# $TMP/err, exit status in $rc.
p11() {
    timeout 60 "$CLI" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
}
# p11_pin ARGS...: same, with the PIN on file descriptor 3.
p11_pin() {
    timeout 60 "$CLI" --pin-fd 3 "$@" >"$TMP/out" 2>"$TMP/err" 3<<<"$PIN"
    rc=$?
}

to_der() { # to_der PEM DER: normalises a PEM certificate to DER
    if command -v openssl >/dev/null 2>&1; then
        openssl x509 -in "$1" -outform DER -out "$2" 2>/dev/null
    else
        certtool --certificate-info --infile "$1" --outder --outfile "$2" >/dev/null 2>&1
    fi
}

one_line_stderr() { [ "$(wc -l <"$TMP/err")" -eq 1 ]; }

# ---- list-tokens ---------------------------------------------------------

p11 list-tokens
check "list-tokens exits 0" test "$rc" -eq 0
check "list-tokens shows $TOKEN_LABEL" grep -q "Label: $TOKEN_LABEL\$" "$TMP/out"

p11 list-tokens --json
check "list-tokens --json exits 0" test "$rc" -eq 0
check "list-tokens --json is valid JSON" \
    timeout 60 python3 -m json.tool "$TMP/out" /dev/null
check "list-tokens --json finds $TOKEN_LABEL" timeout 60 python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
assert isinstance(doc, list)
assert any(t.get("type") == "token" and t.get("label") == sys.argv[2] for t in doc)
' "$TMP/out" "$TOKEN_LABEL"

p11 list-tokens "$TOKEN_URI"
check "list-tokens URI shows only matching token" \
    test "$rc" -eq 0 -a "$(grep -c '^Token ' "$TMP/out")" -eq 1

# ---- list ----------------------------------------------------------------

p11_pin list "$TOKEN_URI" --login
check "list --login --pin-fd exits 0" test "$rc" -eq 0
for label in rsa2048 rsa3072 p256 p384 p521 ed25519; do
    check "list --login shows private key $label" awk -v l="$label" '
        /^Object / { cls = ""; lab = "" }
        /^\tClass: /  { sub(/^\tClass: /, ""); cls = $0 }
        /^\tLabel: /  { sub(/^\tLabel: /, ""); lab = $0 }
        /^$/ { if (cls == "private key" && lab == l) found = 1 }
        END { if (cls == "private key" && lab == l) found = 1; exit !found }
    ' "$TMP/out"
done
check "list --login leaves stderr empty" test ! -s "$TMP/err"

p11_pin --json list "$TOKEN_URI" --login
check "list --json is a JSON array with the p256 private key" \
    timeout 60 python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
assert isinstance(doc, list)
assert any(o["label"] == "p256" and o["class"] == "private key"
           and o["algorithm"] == "ECDSA" for o in doc)
' "$TMP/out"

# ---- export-cert ---------------------------------------------------------

p11 export-cert "$TOKEN_URI;object=p256;type=cert" --pem
check "export-cert --pem exits 0" test "$rc" -eq 0
cp "$TMP/out" "$TMP/p256-token.pem"
if to_der "$TMP/p256-token.pem" "$TMP/a.der" && to_der "$DIR/p256.pem" "$TMP/b.der" &&
    cmp -s "$TMP/a.der" "$TMP/b.der"; then
    ok "export-cert --pem equals p256.pem"
else
    not_ok "export-cert --pem equals p256.pem"
fi

p11 export-cert "$TOKEN_URI;object=p256;type=cert"
check "export-cert DER equals p256.pem" cmp -s "$TMP/out" "$TMP/b.der"

# ---- sign ----------------------------------------------------------------

head -c 1000 /dev/urandom >"$TMP/msg"

# sign_verify LABEL SCHEME [openssl -sigopt ...]
sign_verify() {
    local label=$1 scheme=$2; shift 2
    timeout 60 "$CLI" --pin-fd 3 sign "$TOKEN_URI;object=$label;type=private" \
        --scheme "$scheme" <"$TMP/msg" >"$TMP/sig" 2>"$TMP/err" 3<<<"$PIN"
    rc=$?
    check "sign $label $scheme exits 0" test "$rc" -eq 0
    openssl x509 -in "$DIR/$label.pem" -pubkey -noout >"$TMP/pub.pem" 2>/dev/null
    check "sign $label $scheme verifies with openssl" bash -c \
        'timeout 60 openssl dgst -sha256 -verify "$1" -signature "$2" "${@:4}" "$3" >/dev/null 2>&1' \
        _ "$TMP/pub.pem" "$TMP/sig" "$TMP/msg" "$@"
}
sign_verify p256 ecdsa_secp256r1_sha256
sign_verify rsa2048 rsa_pss_rsae_sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1

# --prehashed: stdin is the SHA-256 of the message
openssl dgst -sha256 -binary <"$TMP/msg" >"$TMP/hash"
timeout 60 "$CLI" --pin-fd 3 sign "$TOKEN_URI;object=p256;type=private" \
    --scheme ecdsa_secp256r1_sha256 --prehashed <"$TMP/hash" >"$TMP/sig" \
    2>"$TMP/err" 3<<<"$PIN"
rc=$?
openssl x509 -in "$DIR/p256.pem" -pubkey -noout >"$TMP/pub.pem" 2>/dev/null
check "sign --prehashed p256 verifies" bash -c \
    'test "$1" -eq 0 && timeout 60 openssl dgst -sha256 -verify "$2" -signature "$3" "$4" >/dev/null 2>&1' \
    _ "$rc" "$TMP/pub.pem" "$TMP/sig" "$TMP/msg"

# ---- errors --------------------------------------------------------------

BAD_URI='pkcs11:token=p11tls-test;object=%zz;type=private'
p11 info "$BAD_URI"
check "malformed URI exits 1" test "$rc" -eq 1
check "malformed URI gives one stderr line" one_line_stderr
check "malformed URI error names the URI" grep -qF -- "$BAD_URI" "$TMP/err"

timeout 60 "$CLI" --pin-fd 3 info "$TOKEN_URI;object=p256;type=private" \
    >"$TMP/out" 2>"$TMP/err" 3<<<"$WRONG_PIN"
rc=$?
check "wrong PIN exits 1" test "$rc" -eq 1
check "wrong PIN gives one stderr line mentioning PIN" \
    bash -c 'test "$(wc -l <"$1")" -eq 1 && grep -q PIN "$1"' _ "$TMP/err"
check "wrong PIN is not printed" bash -c '! grep -qF -- "$0" "$1" "$2"' \
    "$WRONG_PIN" "$TMP/out" "$TMP/err"

p11 info "$TOKEN_URI;object=p256;type=private;pin-value=$WRONG_PIN"
check "pin-value in a URI is not printed" bash -c \
    'test "$0" -ne 0 && ! grep -qF -- "$1" "$2" "$3"' \
    "$rc" "$WRONG_PIN" "$TMP/out" "$TMP/err"

# With debugging on, p11tls logs the failed login, never the PIN (from a
# URI or from --pin-fd). The first check proves that debugging was on.
P11TLS_DEBUG=1 p11 info "$TOKEN_URI;object=p256;type=private;pin-value=$WRONG_PIN"
cp "$TMP/err" "$TMP/debug-uri"
timeout 60 env P11TLS_DEBUG=1 "$CLI" --pin-fd 3 info "$TOKEN_URI;object=p256;type=private" \
    >"$TMP/out" 2>"$TMP/err" 3<<<"$WRONG_PIN"
check "P11TLS_DEBUG logs the failed login" \
    bash -c 'grep -q "^p11tls\[[0-9]*\]: .*C_Login" "$0" && grep -q "^p11tls\[[0-9]*\]: .*C_Login" "$1"' \
    "$TMP/debug-uri" "$TMP/err"
check "P11TLS_DEBUG output has no PIN" bash -c '! grep -qF -- "$0" "$1" "$2"' \
    "$WRONG_PIN" "$TMP/debug-uri" "$TMP/err"

# A typo in the token name: info fails and list warns, each naming the
# tokens there are.
p11 info "pkcs11:token=${TOKEN_LABEL}-typo;object=p256;type=private"
check "info with a token typo lists the tokens present" \
    bash -c 'test "$0" -ne 0 && grep -q "no token matches the URI; tokens present: .*'"'$TOKEN_LABEL'"'" "$1"' \
    "$rc" "$TMP/err"
p11 list "pkcs11:token=${TOKEN_LABEL}-typo"
check "list with a token typo exits 3 (nothing matches) and warns with the tokens present" \
    bash -c 'test "$0" -eq 3 && grep -q "^p11tls: warning: no token matches the URI; tokens present: .*'"'$TOKEN_LABEL'"'" "$1"' \
    "$rc" "$TMP/err"

# Errors that say what is wrong (issue 28): the attribute or type not
# recognized, with the near name; a missing file with its path and the
# system's reason; the empty slot said for what it is.
p11 info "$TOKEN_URI;objekt=p256"
check "a misspelt attribute is named, with the near name" bash -c \
    'test "$0" -eq 1 && grep -qF "unrecognized attribute \"objekt\" (did you mean \"object\"?)" "$1"' \
    "$rc" "$TMP/err"
p11 info "$TOKEN_URI;object=p256;type=privat"
check "a misspelt type is named, with the near type" bash -c \
    'test "$0" -eq 1 && grep -qF "unrecognized type \"privat\" (did you mean \"private\"?)" "$1"' \
    "$rc" "$TMP/err"
for cmd in "import-cert $TOKEN_URI $TMP/no-such.pem --label x" "verify $TMP/no-such.pem --trust $TOKEN_URI" \
           "connect --port 1 --ca $TMP/no-such.pem" \
           "serve $TOKEN_URI;object=p256;type=private;pin-value=$PIN --cert $TMP/no-such.pem"; do
    # shellcheck disable=SC2086  # $cmd is the command line
    p11 $cmd
    check "a missing file is named with the system's reason: ${cmd%% *}" \
        grep -qF "'$TMP/no-such.pem': No such file or directory" "$TMP/err"
done
p11 list-tokens "pkcs11:token=${TOKEN_LABEL}-typo"
check "the warning says what an empty slot is, not ''" bash -c \
    'grep -q "tokens present: .*uninitialized token in slot" "$0" && ! grep -qF "'"''"'" "$0"' "$TMP/err"

p11 no-such-command
check "unknown subcommand exits 2" test "$rc" -eq 2

p11 list --no-such-option
check "unknown option exits 2" test "$rc" -eq 2

p11 sign "$TOKEN_URI;object=p256;type=private"
check "sign without --scheme exits 2" test "$rc" -eq 2

p11 sign "$TOKEN_URI;object=p256;type=private" --scheme no_such_scheme </dev/null
check "unknown scheme exits 2" test "$rc" -eq 2

p11 --help
check "--help exits 0" test "$rc" -eq 0 -a -s "$TMP/out"

p11 --version
check "--version exits 0" test "$rc" -eq 0 -a -s "$TMP/out"

# ---- modules that fail ---------------------------------------------------
# Beside SoftHSM: a copy of the test module whose C_Initialize fails, a
# path with no file, and a copy failing 30% of its calls at random that
# forwards to a copy of SoftHSM (copies: one library instance each, each
# configured by its PATH.env; see tests/module/testmod.c).
TESTMOD=${P11TLS_TESTMOD:-./tests/module/.libs/libp11tls-testmod.so}
SOFTHSM=${P11TLS_SOFTHSM_MODULE:-}
if [ -f "$TESTMOD" ] && [ -n "$SOFTHSM" ]; then
    mods=$TMP/mods
    mkdir -p "$mods/failinit" "$mods/random" "$mods/softhsm"
    failinit=$mods/failinit/libp11tls-testmod.so
    random=$mods/random/libp11tls-testmod.so
    missing=$mods/missing/libnothing.so
    cp "$TESTMOD" "$failinit"
    echo "P11TLS_TESTMOD_FAIL_INIT=1" >"$failinit.env"
    cp "$SOFTHSM" "$mods/softhsm/libsofthsm2.so"
    cp "$TESTMOD" "$random"
    printf 'P11TLS_TESTMOD_RANDOM_FAIL=300:7\nP11TLS_SOFTHSM_MODULE=%s\n' \
        "$mods/softhsm/libsofthsm2.so" >"$random.env"
    bad_modules="--no-registered --module $SOFTHSM --module $failinit --module $missing --module $random"

    # shellcheck disable=SC2086  # $bad_modules is deliberately split
    p11 $bad_modules list-tokens
    check "list-tokens with bad modules exits 0" test "$rc" -eq 0
    check "list-tokens with bad modules shows the good token" \
        grep -q "Label: $TOKEN_LABEL\$" "$TMP/out"
    check "list-tokens names the module whose C_Initialize failed, with the CKR_ value" \
        bash -c 'grep -F -- "$0" "$1" | grep -q "C_Initialize: CKR_GENERAL_ERROR"' "$failinit" "$TMP/out"
    check "list-tokens names the module that cannot be loaded, and why" \
        bash -c 'grep -F -- "$0" "$1" | grep -q "cannot load module .*No such file"' "$missing" "$TMP/out"
    check "list-tokens does not list a working module as failed" \
        bash -c '! grep -q "^	$0" "$1" && ! grep -qF "	$2" "$1"' "$SOFTHSM" "$TMP/out" "$random"

    # shellcheck disable=SC2086
    p11 $bad_modules list-tokens --json
    check "list-tokens --json with bad modules: token and both failed modules" \
        timeout 60 python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
failed = {m["path"]: m for m in doc if m.get("type") == "module"}
assert any(t.get("type") == "token" and t.get("label") == sys.argv[2] and t.get("module") == sys.argv[3] for t in doc)
f = failed[sys.argv[4]]
assert f["status_name"] == "P11TLS_E_MODULE" and "C_Initialize: CKR_GENERAL_ERROR" in f["error"], f
m = failed[sys.argv[5]]
assert m["status_name"] == "P11TLS_E_MODULE" and "cannot load module" in m["error"], m
assert sys.argv[3] not in failed and sys.argv[6] not in failed, failed
' "$TMP/out" "$TOKEN_LABEL" "$SOFTHSM" "$failinit" "$missing" "$random"

    # A --module that loads but fails to initialize: said, exit 1, not
    # "no token matches"; list-tokens lists it and, without a URI, does
    # not speak of one.
    p11 --no-registered --module "$failinit" list
    check "a --module that fails to initialize: list says so (exit 1)" bash -c \
        'test "$0" -eq 1 && grep -F -- "$2" "$1" | grep -q "C_Initialize: CKR_GENERAL_ERROR" &&
         ! grep -q "no token matches" "$1"' "$rc" "$TMP/err" "$failinit"
    p11 --no-registered --module "$failinit" info "pkcs11:object=p256;type=cert"
    check "a --module that fails to initialize: info says so (exit 1)" bash -c \
        'test "$0" -eq 1 && grep -qF -- "module '"'"'$2'"'"'" "$1" && ! grep -q "no token matches" "$1"' \
        "$rc" "$TMP/err" "$failinit"
    p11 --no-registered --module "$failinit" list-tokens
    check "list-tokens without a URI lists the failed --module, and speaks of no URI" bash -c \
        'test "$0" -eq 0 && grep -qF -- "$3" "$2" && ! grep -q "matches the URI" "$1"' \
        "$rc" "$TMP/err" "$TMP/out" "$failinit"

    # Any other command still stops at a module that cannot be loaded.
    p11 --no-registered --module "$SOFTHSM" --module "$missing" \
        export-cert "$TOKEN_URI;object=p256;type=cert"
    check "a module that cannot be loaded stops other commands (exit 1, one line)" \
        bash -c 'test "$0" -eq 1 && [ "$(wc -l <"$1")" -eq 1 ] && grep -qF -- "$2" "$1"' "$rc" "$TMP/err" "$missing"
else
    echo "# skipped the bad-module checks: no $TESTMOD or no P11TLS_SOFTHSM_MODULE"
fi

echo "1..$n"
if [ "$failed" -ne 0 ]; then
    echo "# $failed of $n checks failed"
    exit 1
fi
exit 0
