#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# lifecycle_test.sh - provisioning with p11tls alone (run by tests/run.sh
# under tests/with-token.sh, suite lifecycle): the lifecycle example of
# doc/p11tls.1 run as written, then generate for every key type (signature
# checked with the public key that pkcs11-tool or p11tool reads back),
# import-cert, delete, set-pin, mechanisms, and their error cases, checked
# on the token with pkcs11-tool. Faults a real token cannot show (a
# write-protected token, a missing mechanism, a failure half way through
# generation) come from the test module (tests/module/testmod.c).
set -u
. "$(dirname "$0")/lib.sh"
need_tools openssl gnutls-cli pkcs11-tool p11tool python3 timeout

SRC=$(cd "$(dirname "$0")/../.." && pwd)
CLI=$(cd "$(dirname "$CLI")" && pwd)/$(basename "$CLI")
T="pkcs11:token=$TOKEN"
P="$T?pin-value=$PIN"
TESTMOD=${P11TLS_TESTMOD:-$PWD/tests/module/.libs/libp11tls-testmod.so}
p11() { pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label "$TOKEN" "$@" </dev/null 2>/dev/null; }
# count_objects LABEL: objects with that label (private ones too).
count_objects() { p11 --login --pin "$PIN" --list-objects | grep -c "label: *$1\$"; }
# with_testmod VAR=VALUE... -- CLI ARGS: the tool over the test module.
with_testmod() {
    local vars=()
    while [ "$1" != -- ]; do vars+=("$1"); shift; done
    shift
    env "${vars[@]}" "$CLI" --no-registered --module "$TESTMOD" "$@"
}

# --- a test CA: root and intermediate ---------------------------------------
ca=$TMP/ca
mkdir -p "$ca"
(
    cd "$ca" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
        -subj /CN=lifecycle-root -days 30 -out root.pem \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout inter.key \
        -subj /CN=lifecycle-intermediate -out inter.csr &&
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >ext &&
    openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 \
        -extfile ext -out inter.pem
) >"$TMP/ca.log" 2>&1 || { cat "$TMP/ca.log" >&2; echo "cannot make the test CA" >&2; exit 99; }

# --- the man page's lifecycle example, as written ----------------------------
# Between its markers, the lines of its .EX block with roff escapes undone.
python3 "$SRC/tests/support/man_example.py" "$SRC/doc/p11tls.1" lifecycle >"$TMP/example.sh"
ex=$TMP/example
mkdir -p "$ex/bin"
cp "$ca/root.pem" "$ca/inter.pem" "$ca/inter.key" "$ex/"
printf '%s\n' "$PIN" >"$ex/pin.txt"
chmod 600 "$ex/pin.txt"
ln -s "$CLI" "$ex/bin/p11tls"
if [ "$(grep -c . "$TMP/example.sh")" -ge 20 ] &&
   (cd "$ex" && PATH="$ex/bin:$PATH" timeout 120 bash -e "$TMP/example.sh") >"$TMP/example.out" 2>&1; then
    ok "the lifecycle example of p11tls(1) runs as written"
else
    not_ok "the lifecycle example of p11tls(1) runs as written" "$TMP/example.sh" "$TMP/example.out"
fi
check "example: the request verifies" openssl req -in "$ex/www.csr" -verify -noout
check "example: export-chain gave the certificate and the intermediate" \
    test "$(grep -c 'BEGIN CERTIFICATE' "$ex/chain.pem" 2>/dev/null)" = 2
check "example: the served chain was verified by gnutls-cli" \
    grep -q "handshake 1:" "$ex/serve.out"
check "example: the old and the rotated key are gone, the intermediate stays" \
    test "$(count_objects www)$(count_objects www2)$(count_objects inter)" = 001

# --- generate: every type signs, checked with the public key read back -------
# type, scheme, how openssl verifies
while read -r type scheme; do
    label="g-${type/:/-}"
    rm -f "$TMP/pub.pem" "$TMP/sig"
    if ! "$CLI" generate "$P" --type "$type" --label "$label" </dev/null >"$TMP/uri" 2>"$TMP/gen.err"; then
        not_ok "generate $type" "$TMP/gen.err"
        continue
    fi
    grep -q "^generating $type on token" "$TMP/gen.err" && grep -q "^pkcs11:.*type=private" "$TMP/uri" ||
        not_ok "generate $type: a line before, the URI after" "$TMP/gen.err" "$TMP/uri"
    head -c 1000 /dev/urandom >"$TMP/data"
    "$CLI" sign "$(cat "$TMP/uri");pin-value=$PIN" --scheme "$scheme" <"$TMP/data" >"$TMP/sig" 2>"$TMP/sign.err"
    # p11tool reads the public key back: pkcs11-tool 0.23 cannot export
    # P-384 ("cannot create EVP_PKEY") nor Edwards public keys.
    p11tool --provider "$P11TLS_SOFTHSM_MODULE" --login --set-pin="$PIN" --export-pubkey \
        "$T;object=$label;type=public" --outfile "$TMP/pub.pem" </dev/null >/dev/null 2>&1
    case $type in
        ed*) openssl pkeyutl -verify -pubin -inkey "$TMP/pub.pem" -rawin -in "$TMP/data" \
                -sigfile "$TMP/sig" >"$TMP/verify.out" 2>&1 ;;
        *)   openssl dgst "-${scheme##*_}" -verify "$TMP/pub.pem" \
                -signature "$TMP/sig" "$TMP/data" >"$TMP/verify.out" 2>&1 ;;
    esac
    if [ $? -eq 0 ]; then ok "generate $type: signs, verified with the public key read back"
    else not_ok "generate $type: signs, verified with the public key read back" "$TMP/sign.err" "$TMP/verify.out"; fi
    p11 --login --pin "$PIN" --list-objects --type privkey | grep -A4 "label: *$label\$" >"$TMP/attrs"
    check "generate $type: the private key is sensitive and never extractable" \
        grep -q "Access: *sensitive, always sensitive, never extractable, local" "$TMP/attrs"
done <<'TYPES'
rsa:2048 rsa_pkcs1_sha256
rsa:3072 rsa_pkcs1_sha384
rsa:4096 rsa_pkcs1_sha512
ec:p256 ecdsa_secp256r1_sha256
ec:p384 ecdsa_secp384r1_sha384
ec:p521 ecdsa_secp521r1_sha512
ed25519 ed25519
ed448 ed448
TYPES

# The default ID is the SHA-1 of the public key (DER SubjectPublicKeyInfo).
"$CLI" --json generate "$P" --type ec:p256 --label idcheck >"$TMP/gen.json" 2>/dev/null
p11 --read-object --type pubkey --label idcheck -o "$TMP/id.der"
want=$(openssl pkey -pubin -inform DER -in "$TMP/id.der" -outform DER | sha1sum | cut -c1-40)
got=$(python3 -c 'import json,sys,urllib.parse as u; x=json.load(open(sys.argv[1]))["uri"];
print(u.unquote_to_bytes(x.split("id=")[1].split(";")[0]).hex())' "$TMP/gen.json" 2>/dev/null)
check "generate --json: the URI's ID is the SHA-1 of the public key" test -n "$want" -a "$got" = "$want"
"$CLI" generate "$P" --type ec:p256 --label withid --id 0a0b0c >/dev/null 2>&1
check "generate --id: both halves have the ID" test "$(p11 --login --pin "$PIN" --list-objects |
    grep -B2 -A2 'label: *withid$' | grep -c 'ID: *0a0b0c')" = 2

# --- generate: errors -----------------------------------------------------------
"$CLI" generate "$P" --type ec:p256 --label g-ec-p256 >/dev/null 2>"$TMP/err"
check "generate: a label taken is refused" \
    grep -q "An object with that label or ID exists" "$TMP/err"
check "generate: ... and nothing was added" test "$(count_objects g-ec-p256)" = 2
"$CLI" generate "$P" --type ec:p256 --label other --id 0a0b0c >/dev/null 2>"$TMP/err"
check "generate: an ID taken is refused" grep -q "with ID 0a0b0c" "$TMP/err"
"$CLI" generate "$P" --type dsa:1024 --label x >/dev/null 2>"$TMP/err"
check "generate: an unknown type is refused" grep -q "unknown key type 'dsa:1024'" "$TMP/err"
with_testmod P11TLS_TESTMOD_TOKEN_FLAGS=0x2 -- generate "$P" --type ec:p256 --label ro \
    >/dev/null 2>"$TMP/err"
check "generate: a write-protected token is refused" grep -q "write-protected" "$TMP/err"
with_testmod P11TLS_TESTMOD_FAIL=C_GetMechanismList:1:0x6 -- generate "$P" --type ec:p256 \
    --label nomech >/dev/null 2>"$TMP/err"
check "generate: a mechanism the token lacks is refused" \
    grep -q "Operation not supported.*has no CKM_EC_KEY_PAIR_GEN" "$TMP/err"
# C_SetAttributeValue (the ID, after C_GenerateKeyPair) fails: no half stays.
with_testmod P11TLS_TESTMOD_FAIL=C_SetAttributeValue:1:0x5 -- generate "$P" --type ec:p256 \
    --label half >/dev/null 2>"$TMP/err"
check "generate: failing after C_GenerateKeyPair leaves nothing on the token" \
    test "$?" = 1 -a "$(count_objects half)" = 0
# ... and when the token will not remove the private half either, the error
# says so, exactly (it said "both halves removed" regardless).
with_testmod P11TLS_TESTMOD_FAIL=C_SetAttributeValue:1:0x5,C_DestroyObject:1:0x5 -- generate "$P" \
    --type ec:p256 --label stuck >/dev/null 2>"$TMP/err"
rc=$?
check "generate: a rollback that cannot remove the private key says so" \
    grep -q "could not remove this call's private key (C_DestroyObject: CKR_GENERAL_ERROR): left on token $TOKEN, labelled 'stuck'; delete it by hand; its public key was removed" "$TMP/err"
check "generate: ... exit 1, and exactly that half is on the token" \
    test "$rc" = 1 -a "$(count_objects stuck)" = 1 -a "$(p11 --login --pin "$PIN" --list-objects --type privkey | grep -c "label: *stuck\$")" = 1
check "generate: ... and nothing says both were removed" bash -c '! grep -q "both halves removed" "$0"' "$TMP/err"
"$CLI" delete --yes "$T;object=stuck;type=private?pin-value=$PIN" >/dev/null 2>&1

# --- two writers of one label at once ------------------------------------------------
# A token has no "create if absent": each run checks that the label is free,
# then creates. Runs of the tool over the test module, held inside FUNCTION
# (P11TLS_TESTMOD_SLOW*, released by a file) so that the others run while one
# is between its check and its write. Output in $TMP/race/{out,err}N.
TMK=(--no-registered --module "$TESTMOD")
# race_start N HOLD FUNCTION ARGS...: run N in the background (pids[N]), held
# in FUNCTION (HOLD: SLOW before it is forwarded, SLOW_AFTER after) until
# $TMP/race/goN exists; @I@ in ARGS is N. Its calls: $TMP/race/callsN.
race_start() {
    local i=$1 hold=$2 fn=$3
    shift 3
    mkdir -p "$TMP/race/calls$i"
    env P11TLS_DEBUG=1 P11TLS_TESTMOD_COUNT_DIR="$TMP/race/calls$i" \
        "P11TLS_TESTMOD_$hold=$fn:90000:$TMP/race/go$i" \
        timeout 150 "$CLI" "${TMK[@]}" "${@//@I@/$i}" >"$TMP/race/out$i" 2>"$TMP/race/err$i" &
    pids[i]=$!
}
# race_wait N WHAT...: waits (30 s at most) until run N is inside
# FUNCTION (its call logged) or its stderr says one of WHAT; 0 if so.
race_wait() {
    local i=$1 t w
    shift
    for t in $(seq 300); do
        grep -q " $race_fn\$" "$TMP/race/calls$i/calls.log" 2>/dev/null && return 0
        for w in "$@"; do grep -q -- "$w" "$TMP/race/err$i" && return 0; done
        kill -0 "${pids[i]}" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
race_release() { touch "$TMP/race/go$1"; wait "${pids[$1]}"; rcs[$1]=$?; }

# Three runs of the tool: the first held inside FUNCTION, between its check
# and its write; the two others started then, each until it waits for the
# first (p11tls's provisioning lock: "waiting for another p11tls") or, had
# it passed its check too, is held in FUNCTION as well; then let go one
# after the other. Exactly one writes; the others find the label taken.
three_tools() {
    local name=$1 label=$2 per=$3 i have fails=0
    race_fn=$4
    shift 4
    rm -rf "$TMP/race"
    mkdir -p "$TMP/race"
    race_start 1 SLOW "$race_fn" "$@"
    race_wait 1
    local ready=0
    for i in 2 3; do
        race_start "$i" SLOW "$race_fn" "$@"
        race_wait "$i" "waiting for another p11tls" && ready=$((ready + 1))
    done
    for i in 1 2 3; do race_release "$i"; done
    check "$name: the second and third waited for the first (or passed their checks)" test "$ready" = 2
    check "$name: the first succeeded" test "${rcs[1]}" = 0
    for i in 2 3; do
        [ "${rcs[i]}" != 0 ] && grep -q "already has .*labelled '$label'" "$TMP/race/err$i" &&
            fails=$((fails + 1))
    done
    if [ "$fails" = 2 ]; then
        ok "$name: the two others were refused, the label being taken"
    else
        not_ok "$name: the two others were refused, the label being taken" "$TMP/race/err2" "$TMP/race/err3"
    fi
    have=$(count_objects "$label")
    check "$name: no duplicates on the token ($have objects, want $per)" test "$have" = "$per"
}
three_tools "three generates at once" raced 2 C_GenerateKeyPair generate "$P" --type ec:p256 --label raced
for i in 1 2 3 4 5; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/race$i.key" \
        -subj "/CN=race $i" -days 30 -out "$TMP/race$i.pem" 2>/dev/null
done
# Each run its own certificate, one label.
three_tools "three import-certs at once" raced-cert 1 C_CreateObject import-cert "$P" "$TMP/race@I@.pem" \
    --label raced-cert

# Another writer that knows nothing of p11tls (another tool, another host)
# makes an object with the label while p11tls's write is in flight: p11tls
# checks again after writing, removes what it wrote and says so.
# outside_writer NAME LABEL FUNCTION TOOL-ARGS -- PKCS11-TOOL-ARGS
outside_writer() {
    local name=$1 label=$2 have
    race_fn=$3
    shift 3
    local tool=()
    while [ "$1" != -- ]; do tool+=("$1"); shift; done
    shift
    rm -rf "$TMP/race"
    mkdir -p "$TMP/race"
    race_start 1 SLOW_AFTER "$race_fn" "${tool[@]}"
    if race_wait 1; then
        p11 --login --pin "$PIN" "$@" >"$TMP/race/outside.log" 2>&1
    fi
    race_release 1
    check "$name: the tool's run fails" test "${rcs[1]}" != 0
    check "$name: ... saying another appeared, and what it removed" \
        grep -Eq "appeared on token $TOKEN.*this call's .* (was|were) removed" "$TMP/race/err1"
    have=$(count_objects "$label")
    check "$name: only the other writer's object has the label ($have objects)" test "$have" = 1
}
openssl x509 -in "$TMP/race4.pem" -outform DER -out "$TMP/race4.der" 2>/dev/null
outside_writer "generate while another tool writes the label" outside C_GenerateKeyPair \
    generate "$P" --type ec:p256 --label outside -- \
    --write-object "$TMP/race4.der" --type cert --label outside
outside_writer "import-cert while another tool writes the label" outside-cert C_CreateObject \
    import-cert "$P" "$TMP/race5.pem" --label outside-cert -- \
    --write-object "$TMP/race4.der" --type cert --label outside-cert

# --- import-cert --------------------------------------------------------------------
# A certificate for the key "withid" (ID 0a0b0c, not the hash of its public
# key), signed by the intermediate, in one file with its issuers: the
# intermediate (on the token since the example) and the root.
"$CLI" csr "$(key_uri withid)" --subject CN=g384 >"$TMP/g384.csr" 2>"$TMP/err"
openssl x509 -req -in "$TMP/g384.csr" -CA "$ca/inter.pem" -CAkey "$ca/inter.key" \
    -CAcreateserial -days 30 -out "$TMP/g384.pem" 2>/dev/null
cat "$TMP/g384.pem" "$ca/inter.pem" "$ca/root.pem" >"$TMP/g384-chain.pem"
"$CLI" --json import-cert "$P" "$TMP/g384-chain.pem" --label cert384 >"$TMP/imp.json" 2>"$TMP/err"
check "import-cert: a chain file writes the certificate and the issuer not there yet" \
    test "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["written"]))' \
        "$TMP/imp.json" 2>/dev/null)$(count_objects lifecycle-root)$(count_objects inter)" = 211
check "import-cert: the certificate takes its key pair's ID" test "$(p11 --list-objects --type cert |
    grep -A3 'label: *cert384$' | sed -n 's/.*ID: *//p')" = 0a0b0c
"$CLI" import-cert "$P" "$TMP/g384.pem" --label cert384 >/dev/null 2>"$TMP/err"
check "import-cert: the same certificate again is refused" grep -q "exists" "$TMP/err"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/other.key" \
    -subj /CN=other -days 30 -out "$TMP/other.pem" 2>/dev/null
"$CLI" import-cert "$P" "$TMP/other.pem" --label cert384 >/dev/null 2>"$TMP/err"
check "import-cert: a label taken by a certificate is refused" \
    grep -q "already has a certificate labelled 'cert384'" "$TMP/err"
"$CLI" import-cert "$P" "$TMP/g384.csr" --label x >/dev/null 2>"$TMP/err"
check "import-cert: a file without a certificate is refused" grep -q "holds no certificate" "$TMP/err"
"$CLI" export-chain --pem "$T;object=cert384;type=cert" >"$TMP/chain.pem" 2>"$TMP/err"
openssl crl2pkcs7 -nocrl -certfile "$TMP/chain.pem" | openssl pkcs7 -print_certs -noout |
    sed -n 's/^subject=//p' | tr '\n' '|' >"$TMP/subjects"
check "export-chain: leaf, intermediate, then the root the token has" \
    test "$(cat "$TMP/subjects")" = "CN = g384|CN = lifecycle-intermediate|CN = lifecycle-root|"

# --- delete -------------------------------------------------------------------------------
before=$(count_objects g-ec-p256)
"$CLI" delete "$T;object=g-ec-p256?pin-value=$PIN" --yes >/dev/null 2>"$TMP/err"
check "delete: a URI matching several objects deletes nothing (exit 4)" \
    test "$?" = 4 -a "$before" = 2 -a "$(count_objects g-ec-p256)" = 2
check "delete: ... and lists them" test "$(grep -c 'object=g-ec-p256;type=' "$TMP/err")" = 2
"$CLI" delete "$T;object=g-ec-p256;type=public?pin-value=$PIN" </dev/null >/dev/null 2>"$TMP/err"
check "delete: without --yes and without a terminal, nothing is deleted" \
    test "$(count_objects g-ec-p256)" = 2
# On a terminal it asks (tests/cli/pty_answer.py types the answer).
pty_answer() { timeout 90 python3 "$(dirname "$0")/pty_answer.py" "$@"; }
pty_answer "Delete 1 object? [y/N]" 'n\n' "$CLI" delete \
    "$T;object=g-ec-p256;type=public?pin-value=$PIN" >"$TMP/pty.out" 2>&1
check "delete: on a terminal, answering no deletes nothing" \
    test "$(grep -c 'not confirmed; nothing deleted' "$TMP/pty.out")$(count_objects g-ec-p256)" = 12
pty_answer "Delete 1 object? [y/N]" 'y\n' "$CLI" delete \
    "$T;object=g-rsa-2048;type=public?pin-value=$PIN" >"$TMP/pty.out" 2>&1
check "delete: on a terminal, answering yes deletes" test "$(count_objects g-rsa-2048)" = 1
"$CLI" --json delete "$T;object=g-ec-p256;type=public?pin-value=$PIN" --yes >"$TMP/del.json" 2>"$TMP/err"
check "delete: exactly the one object named" test "$(count_objects g-ec-p256)" = 1 -a \
    "$(p11 --list-objects --type pubkey | grep -c 'label: *g-ec-p256$')" = 0
check "delete --json: the count and the object" \
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["deleted"] == 1 and "type=public" in d["objects"][0]))' "$TMP/del.json"
"$CLI" delete "$T;object=g-ed448?pin-value=$PIN" --all --yes >/dev/null 2>"$TMP/err"
check "delete --all: the key pair" test "$(count_objects g-ed448)" = 0
"$CLI" delete "$T;object=nothing-here?pin-value=$PIN" --yes >/dev/null 2>"$TMP/err"
check "delete: a URI that matches nothing fails (exit 3)" \
    bash -c 'test "$0" = 3 && grep -q "no object matches" "$1"' "$?" "$TMP/err"
"$CLI" delete "$T?pin-value=$PIN" --yes --all >/dev/null 2>"$TMP/err"
check "delete --yes --all: a URI naming no object is refused (exit 2) before anything is listed" \
    bash -c 'test "$0" = 2 && grep -q "names no object" "$1" && ! grep -q "to delete" "$1"' \
    "$?" "$TMP/err"

# --- mechanisms -------------------------------------------------------------------------------
check "mechanisms: by name, with what they do" \
    grep -q "^CKM_EC_KEY_PAIR_GEN .*generate-key-pair" <("$CLI" mechanisms "$T")
check "mechanisms --json" python3 -c 'import json,sys; m=json.load(sys.stdin);
sys.exit(not any(x["name"] == "CKM_ECDSA" and "sign" in x["flags"] for x in m))' \
    < <("$CLI" --json mechanisms "$T")

# --- set-pin ---------------------------------------------------------------------------------------
printf '%s\n%s\n' "$PIN" 98765 | "$CLI" --pin-fd 0 set-pin "$T" >/dev/null 2>"$TMP/err"
check "set-pin: the new PIN logs in" eval 'p11 --login --pin 98765 --list-objects >/dev/null'
check "set-pin: the old one no longer" eval '! p11 --login --pin "$PIN" --list-objects >/dev/null'
printf '%s\n%s\n' 11111 "$PIN" | "$CLI" --pin-fd 0 set-pin "$T" >/dev/null 2>"$TMP/err"
check "set-pin: a wrong current PIN is refused" grep -q "Incorrect PIN" "$TMP/err"
printf '%s\n%s\n' 98765 12 | "$CLI" --pin-fd 0 set-pin "$T" >/dev/null 2>"$TMP/err"
check "set-pin: a new PIN too short is refused, saying the range" grep -q "4 to 255" "$TMP/err"
printf '%s\n' 98765 | "$CLI" --pin-fd 0 set-pin "$T" >/dev/null 2>"$TMP/err"
check "set-pin: no new PIN is a cancel" grep -q "no new PIN on --pin-fd" "$TMP/err"
printf '%s\n%s\n' 98765 "$PIN" | "$CLI" --json --pin-fd 0 set-pin "$T" >"$TMP/pin.json" 2>"$TMP/err"
check "set-pin --json, and back to the first PIN" grep -q '"changed":true' "$TMP/pin.json"
check "set-pin: the first PIN logs in again" eval 'p11 --login --pin "$PIN" --list-objects >/dev/null'
# On a terminal: the current PIN, then the new one twice.
NEWPIN=24681357
pty_answer "Current PIN for token" "$PIN"'\n' "New PIN for token" "$NEWPIN"'\n' \
    "New PIN again for token" '11112222\n' -- "$CLI" set-pin "$T" >"$TMP/pty.out" 2>&1
st=$?
check "set-pin on a terminal: two different new PINs are refused" \
    test "$st$(grep -c 'the two new PINs differ' "$TMP/pty.out")" = 11
check "set-pin on a terminal: ... and the PIN is unchanged" \
    eval 'p11 --login --pin "$PIN" --list-objects >/dev/null'
pty_answer "Current PIN for token" "$PIN"'\n' "New PIN for token" "$NEWPIN"'\n' \
    "New PIN again for token" "$NEWPIN"'\n' -- "$CLI" set-pin "$T" >"$TMP/pty.out" 2>&1
check "set-pin on a terminal: the same new PIN twice changes it" \
    eval 'p11 --login --pin "$NEWPIN" --list-objects >/dev/null && ! p11 --login --pin "$PIN" --list-objects >/dev/null'
check "set-pin on a terminal: no PIN echoed" \
    bash -c '! grep -qF -e "$0" -e "$1" "$2"' "$PIN" "$NEWPIN" "$TMP/pty.out"
pty_answer "Current PIN for token" "$NEWPIN"'\n' "New PIN for token" "$PIN"'\n' \
    "New PIN again for token" "$PIN"'\n' -- "$CLI" set-pin "$T" >"$TMP/pty.out" 2>&1
check "set-pin on a terminal: and back" eval 'p11 --login --pin "$PIN" --list-objects >/dev/null'

finish
