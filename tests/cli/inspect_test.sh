#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# inspect_test.sh - what an operator inspecting a token relies on: list
# shows certificates (subject, issuer, validity, key) and key flags as
# OpenSSL and pkcs11-tool see them, list-tokens decodes token flags and
# shows SoftHSM's spare slot as uninitialized, info works on any object,
# URIs that match nothing give a message and their own exit status, and
# --json failures give one error document on stdout (p11tls(1), EXIT
# STATUS and JSON OUTPUT). Run by tests/run.sh (suite inspect) on a private
# copy of the SoftHSM test token, which it adds objects to.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools python3 openssl certtool pkcs11-tool

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

# serve and connect name a key and a certificate: the same statuses.
p11 serve --json "$(key_uri no-such-object)" --cert "$(cert_uri p256)" --port 0
json_error "serve --json: a key URI matching nothing exits 3" \
    3 P11TLS_E_NOT_FOUND "no-such-object"
p11 serve "pkcs11:token=$TOKEN;type=private;pin-value=$PIN" --cert "$(cert_uri p256)" --port 0
expect "serve: a key URI matching several keys exits 4" 4 "more than one private key"
p11 serve "$(key_uri p256)" --cert "$(cert_uri no-such-object)" --port 0
expect "serve: a certificate URI matching nothing exits 3" 3 "no-such-object"
p11 connect --json "$(key_uri no-such-object)" --cert "$(cert_uri p256)" --port 1 --ca "$DIR/ca.pem"
json_error "connect --json: a client key URI matching nothing exits 3" \
    3 P11TLS_E_NOT_FOUND "no-such-object"
p11 connect "$(key_uri p256)" --cert "pkcs11:token=$TOKEN;type=cert" --port 1 --ca "$DIR/ca.pem"
expect "connect: a client certificate URI matching several exits 4" 4 "more than one certificate"

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

# ---- objects added for this test ---------------------------------------------

T="pkcs11:token=$TOKEN"
tool() {
    pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label "$TOKEN" --login --pin "$PIN" "$@" \
        >>"$TMP/setup.log" 2>&1
}
# A certificate that expired in 2002, signed by the test CA; a data
# object; a key pair made extractable and always-authenticate.
cat >"$TMP/old.tmpl" <<'EOF'
cn = "old server"
organization = "p11tls tests"
serial = 99
activation_date = "2001-01-01 00:00:00"
expiration_date = "2002-01-01 00:00:00"
EOF
if certtool --generate-privkey --key-type=ecdsa --outfile "$TMP/old-key.pem" >>"$TMP/setup.log" 2>&1 &&
    certtool --generate-certificate --load-privkey "$TMP/old-key.pem" \
        --load-ca-certificate "$DIR/ca.pem" --load-ca-privkey "$DIR/ca-key.pem" \
        --template "$TMP/old.tmpl" --outfile "$TMP/old.pem" >>"$TMP/setup.log" 2>&1 &&
    openssl x509 -in "$TMP/old.pem" -outform DER -out "$TMP/old.der" &&
    tool --write-object "$TMP/old.der" --type cert --label old --id 44 &&
    printf 'operator notes\n' >"$TMP/notes" &&
    tool --write-object "$TMP/notes" --type data --label notes &&
    tool --keypairgen --key-type EC:prime256v1 --label xkey --id 43 --extractable --always-auth; then
    ok "setup: expired certificate, data object, extractable always-authenticate key written"
else
    not_ok "setup: expired certificate, data object, extractable always-authenticate key written" "$TMP/setup.log"
    finish
    exit 1
fi

# ---- certificates ------------------------------------------------------------------

# field NAME: the value of "NAME: " in $OUT (text output of one object).
field() { sed -n "s/^[[:space:]]*$1: //p" "$OUT" | head -n 1; }
# openssl_date PEM: its notAfter as "YYYY-MM-DD HH:MM:SS UTC".
openssl_date() {
    date -u -d "$(openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//')" '+%Y-%m-%d %H:%M:%S UTC'
}
cert_fields_match() { # cert_fields_match PEM: subject, issuer, not-after as OpenSSL reads them
    [ "$(field Subject)" = "$(openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')" ] &&
    [ "$(field Issuer)" = "$(openssl x509 -in "$1" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')" ] &&
    [ "$(field 'Not after' | sed 's/ (expired)$//')" = "$(openssl_date "$1")" ]
}

p11 list "$T;object=p256;type=cert"
check "list: a certificate's subject, issuer and not-after are OpenSSL's" cert_fields_match "$DIR/p256.pem"
check "list: a valid certificate is not marked expired" \
    bash -c 'grep -q "^	Not after: 20" "$0" && ! grep -q "(expired)" "$0"' "$OUT"
check "list: a certificate's key type and size" grep -q $'^\tKey: ECDSA, 256 bits$' "$OUT"
p11 list "$T;object=rsa3072;type=cert"
check "list: an RSA certificate's key type and size" grep -q $'^\tKey: RSA, 3072 bits$' "$OUT"

p11 list "$T;object=old;type=cert"
check "list: the expired certificate's fields are OpenSSL's" cert_fields_match "$TMP/old.pem"
check "list: the expired certificate says expired" grep -q $'^\tNot after: 2002-01-01 00:00:00 UTC (expired)$' "$OUT"
p11 --json list "$T;type=cert"
check "list --json: subject, issuer, not_after, expired, key for certificates" python3 -c '
import json, sys
doc = {o["label"]: o for o in json.load(open(sys.argv[1]))}
old, p384 = doc["old"], doc["p384"]
assert old["expired"] is True and old["not_after"] == "2002-01-01T00:00:00Z", old
assert old["subject"] == "CN=old server,O=p11tls tests" and old["issuer"].startswith("CN=p11tls test CA"), old
assert p384["expired"] is False and p384["key_algorithm"] == "ECDSA" and p384["bits"] == 384, p384
assert all(o["class"] == "certificate" and o["algorithm"] is None for o in doc.values())
' "$OUT"

# ---- keys: flags as pkcs11-tool reads them ---------------------------------------------

pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label "$TOKEN" --login --pin "$PIN" \
    --list-objects --type privkey >"$TMP/pkcs11-tool.txt" 2>/dev/null
p11_pin list "$T;type=private" --login
cp "$OUT" "$TMP/keys.txt"
# same_flags LABEL: every word of pkcs11-tool's Access line is in our Flags,
# and our Flags has none of those words that it lacks.
same_flags() {
    python3 - "$TMP/pkcs11-tool.txt" "$TMP/keys.txt" "$1" <<'EOF'
import re, sys
tool, ours, label = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
names = {"always authenticate", "sensitive", "always sensitive", "extractable", "never extractable", "local"}
block = re.search(r"label:\s+%s\n(?:.*\n)*?\s+Access:\s+(.*)" % re.escape(label), tool)
want = {w.strip() for w in block.group(1).split(",")} & names
obj = [b for b in ours.split("\n\n") if "\tLabel: %s\n" % label in b and "Class: private key" in b][0]
got = {w.strip() for w in re.search(r"\tFlags: (.*)", obj).group(1).split(",")} & names
assert want == got, (label, want, got)
EOF
}
for label in rsa2048 p256 ed25519 xkey; do
    check "list --login: $label private key flags are pkcs11-tool's" same_flags "$label"
done
check "list --login: the always-authenticate extractable key says so" \
    bash -c 'awk "/Label: xkey/,/^\$/" "$0" | grep -q "Flags: private, sensitive, always sensitive, extractable, always authenticate, local"' \
    "$TMP/keys.txt"
check "list --login: key sizes" bash -c 'awk "/Label: rsa3072/,/^\$/" "$0" | grep -q "Bits: 3072" &&
    awk "/Label: p521/,/^\$/" "$0" | grep -q "Bits: 521"' "$TMP/keys.txt"
p11_pin --json list "$T;object=xkey;type=private" --login
check "list --json: attributes and bits of a key" python3 -c '
import json, sys
[k] = json.load(open(sys.argv[1]))
assert {"private", "sensitive", "extractable", "always_authenticate", "local"} <= set(k["attributes"]), k
assert "never_extractable" not in k["attributes"] and k["bits"] == 256 and k["algorithm"] == "ECDSA", k
' "$OUT"

# ---- info on any object ---------------------------------------------------------

p11 info "$T;object=p256;type=cert"
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$OUT" >"$TMP/info-cert.pem"
check "info on a certificate: exit 0, subject and not-after shown" \
    bash -c 'test "$0" -eq 0 && grep -q "^Class: certificate$" "$1" && grep -q "^Subject: CN=p256" "$1"' "$rc" "$OUT"
check "info on a certificate: its PEM is the certificate" \
    bash -c 'openssl x509 -in "$0" -outform DER | cmp -s - <(openssl x509 -in "$1" -outform DER)' \
    "$TMP/info-cert.pem" "$DIR/p256.pem"

for label in p256 ed25519 rsa2048; do
    p11 info "$T;object=$label;type=public"
    sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' "$OUT" >"$TMP/info-pub.pem"
    check "info on a $label public key: its PEM is the certificate's public key" \
        bash -c 'test "$0" -eq 0 && grep -q "^Class: public key$" "$1" &&
                 cmp -s "$2" <(openssl x509 -in "$3" -noout -pubkey)' \
        "$rc" "$OUT" "$TMP/info-pub.pem" "$DIR/$label.pem"
done

p11 info "$T;object=notes"
check "info on a data object (no type given): shown, no PIN asked" \
    bash -c 'test "$0" -eq 0 && grep -q "^Class: data$" "$1" && grep -q "^Label: notes$" "$1"' "$rc" "$OUT"
p11 --json info "$T;object=old;type=cert"
check "info --json on a certificate: fields and pem" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["class"] == "certificate" and d["expired"] is True and "BEGIN CERTIFICATE" in d["pem"], d
' "$OUT"
p11_pin info "$T;object=p256;type=private"
check "info on a private key: as before, with its class" \
    bash -c 'test "$0" -eq 0 && grep -q "^Class: private key$" "$1" && grep -q "^Schemes: ecdsa_secp256r1_sha256" "$1"' \
    "$rc" "$OUT"
p11_pin info "$T;object=xkey;type=private"
check "info on a private key: its label and flags (always authenticate, extractable)" \
    bash -c 'test "$0" -eq 0 && grep -q "^Label: xkey$" "$1" &&
             grep -q "^Flags: private, sensitive, always sensitive, extractable, always authenticate, local" "$1"' \
    "$rc" "$OUT"
p11_pin --json info "$T;object=p256;type=private"
check "info --json on a private key: the members as before, and attributes" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert {"uri", "algorithm", "bits", "schemes", "spki_pem"} <= set(d), d
assert d["class"] == "private key" and d["label"] == "p256" and d["id"] == "03", d
assert {"sensitive", "never_extractable", "local"} <= set(d["attributes"]), d
' "$OUT"
p11_pin info "$T;object=p256"
check "info on a key pair's URI without type: the private key, as before" \
    bash -c 'test "$0" -eq 0 && grep -q "^Class: private key$" "$1"' "$rc" "$OUT"
p11 info "$T;type=cert"
expect "info: a URI matching several certificates exits 4" 4 "objects match"

# ---- tokens ---------------------------------------------------------------------

p11 list-tokens
awk '/^Token /,/^$/' "$OUT" >"$TMP/token.txt"
check "list-tokens: the test token's flags decoded" \
    grep -q $'^\tFlags: token initialized, RNG, login required, user PIN initialized$' "$TMP/token.txt"
check "list-tokens: SoftHSM's spare slot is an uninitialized token, not an empty label" \
    bash -c 'grep -q "^Uninitialized token in slot [0-9]*:$" "$0" && ! grep -q "^	Label: *$" "$0"' "$OUT"
p11 --json list-tokens
check "list-tokens --json: initialized and flag_names" python3 -c '
import json, sys
toks = [t for t in json.load(open(sys.argv[1])) if t["type"] == "token"]
test = [t for t in toks if t["label"] == sys.argv[2]]
spare = [t for t in toks if not t["initialized"]]
assert len(test) == 1 and test[0]["initialized"] is True, toks
assert {"rng", "login_required", "token_initialized", "user_pin_initialized"} == set(test[0]["flag_names"]), test
assert len(spare) == 1 and "token_initialized" not in spare[0]["flag_names"], spare
' "$OUT" "$TOKEN"
p11 list
check "list without a URI skips the uninitialized token (exit 0)" test "$rc" -eq 0

# One wrong PIN: the token now says its count is low; list-tokens reads the
# flags afresh.
pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label "$TOKEN" --login --pin 97531864 \
    --list-objects >/dev/null 2>&1
p11 list-tokens "$T"
check "list-tokens: user PIN count low after a wrong PIN" \
    grep -q $'^\tFlags: .*user PIN count low' "$OUT"

finish
