#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# inspect_test.sh - what an operator inspecting a token relies on: URIs that
# match nothing give a message and their own exit status, --json failures
# give one error document on stdout (p11tls(1), EXIT STATUS and JSON
# OUTPUT). Run by tests/run.sh (suite inspect) on a private SoftHSM token.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools python3

OUT=$TMP/out ERR=$TMP/err
# p11 ARGS...: the tool with a timeout; stdout in $OUT, stderr in $ERR,
# exit status in $rc.
p11() {
    timeout 60 "$CLI" "$@" >"$OUT" 2>"$ERR"
    rc=$?
}
# p11_pin ARGS...: the same, with the PIN on file descriptor 3.
p11_pin() {
    timeout 60 "$CLI" --pin-fd 3 "$@" >"$OUT" 2>"$ERR" 3<<<"$PIN"
    rc=$?
}
# expect NAME STATUS PATTERN: the last run exited STATUS, wrote nothing to
# stdout and one line on stderr (after any warnings) matching PATTERN.
expect() {
    if [ "$rc" -eq "$2" ] && [ ! -s "$OUT" ] &&
        [ "$(grep -vc '^p11tls: warning:' "$ERR")" -eq 1 ] &&
        grep -v '^p11tls: warning:' "$ERR" | grep -q -- "$3"; then
        ok "$1"
    else
        not_ok "$1 (exit $rc)" "$OUT" "$ERR"
    fi
}
# json_error NAME STATUS ERROR DETAIL-PART: the last run (with --json)
# exited STATUS and stdout is exactly one error document with these values.
json_error() {
    if [ "$rc" -eq "$2" ] && python3 - "$OUT" "$2" "$3" "$4" <<'EOF'; then ok "$1"; else not_ok "$1 (exit $rc)" "$OUT" "$ERR"; fi
import json, sys
path, status, name, part = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
doc = json.loads(open(path).read())  # one document, nothing else
assert set(doc) >= {"error", "code", "detail", "exit_status"}, doc
assert doc["error"] == name and doc["exit_status"] == status, doc
assert part in doc["detail"], doc
assert doc["code"] is None if name.startswith("P11TLS_CLI_E_") else doc["code"] < 0, doc
EOF
}

NOOBJ="pkcs11:token=$TOKEN;object=no-such-object"

# ---- URIs that match nothing ------------------------------------------------

p11 list "$NOOBJ"
expect "list: a URI matching nothing exits 3, says so" 3 "no object matches '$NOOBJ'"
p11 --json list "$NOOBJ"
json_error "list --json: a URI matching nothing is a P11TLS_E_NOT_FOUND document" \
    3 P11TLS_E_NOT_FOUND "no object matches"
p11 list-tokens "pkcs11:token=no-such-token"
expect "list-tokens: a URI matching no token exits 3" 3 "no token matches"

# Without a type, info may name a private key: it logs in to look.
p11_pin info "$NOOBJ"
expect "info: a URI matching nothing exits 3, says so" 3 "no-such-object"
p11_pin info "$NOOBJ" --json
json_error "info --json: a URI matching nothing is a P11TLS_E_NOT_FOUND document" \
    3 P11TLS_E_NOT_FOUND "no-such-object"

p11 export-cert "$NOOBJ;type=cert"
expect "export-cert: a URI matching nothing exits 3, says so" 3 "no-such-object"
p11 export-cert "$NOOBJ;type=cert" --pem --json
json_error "export-cert --json: a URI matching nothing is a P11TLS_E_NOT_FOUND document" \
    3 P11TLS_E_NOT_FOUND "no-such-object"

p11 export-cert "pkcs11:token=$TOKEN;type=cert"
expect "export-cert: a URI matching several certificates exits 4" 4 "type=cert"
p11 --json export-cert "pkcs11:token=$TOKEN;type=cert"
json_error "export-cert --json: several certificates is a P11TLS_E_AMBIGUOUS document" \
    4 P11TLS_E_AMBIGUOUS "type=cert"

# ---- other failures, in the same schema ---------------------------------------

p11 --json no-such-command
json_error "--json: an unknown command is a P11TLS_CLI_E_USAGE document" \
    2 P11TLS_CLI_E_USAGE "no-such-command"
p11 list --no-such-option --json
json_error "--json after a bad option still gives the document" \
    2 P11TLS_CLI_E_USAGE "--no-such-option"
p11 --json info "pkcs11:object=%zz"
json_error "--json: a malformed URI is a P11TLS_E_INVALID_URI document (exit 1)" \
    1 P11TLS_E_INVALID_URI "%zz"
WRONG=97531864
timeout 60 "$CLI" --json --pin-fd 3 info "$(cert_uri p256 | sed 's/type=cert/type=private/')" \
    >"$OUT" 2>"$ERR" 3<<<"$WRONG"
rc=$?
json_error "--json: a wrong PIN is a P11TLS_E_PIN_INCORRECT document" \
    1 P11TLS_E_PIN_INCORRECT "p256"
check "--json: the wrong PIN is in neither output" bash -c '! grep -qF -- "$0" "$1" "$2"' \
    "$WRONG" "$OUT" "$ERR"

finish
