#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# trust_cli_test.sh - trust through PKCS#11 in the tool, on the SoftHSM test
# token (under tests/with-token.sh) with tests/trust/make-pki.sh's root
# written as trusted CA and its intermediate written plainly:
#  1. p11tls verify: a leaf alone verifies (issuer from the token), with
#     --chain too; another CA's leaf and a leaf of the CA present but not
#     marked trusted do not (exit 1, "unknown issuer"); errors exit 2, a
#     trust URI that names no token 3.
#  2. p11tls connect --trust against gnutls-serv and openssl s_server: a
#     server under the token's anchor (with and without its intermediate)
#     is accepted, one under another CA refused with the reason.
#  3. p11tls serve --require-client-cert --trust: gnutls-cli's client
#     certificate under the anchor is accepted, one under another CA refused.
# TAP-like output; 77 if a tool is missing.
set -u

. "$(dirname "$0")/../cli/lib.sh"
need_tools gnutls-cli gnutls-serv openssl certtool p11tool python3 timeout
export SOFTHSM2_CONF

bash "$(dirname "$0")/make-pki.sh" "$TMP/pki" token || exit 99
P=$TMP/pki
T="pkcs11:token=$TOKEN"

# --- 1. verify ----------------------------------------------------------------
verify_is "verify: a leaf alone, its intermediate on the token" 0 "^trusted: CN=localhost" \
    "$P/leaf.pem" --trust "$T"
verify_is "verify: a leaf with --chain" 0 "^trusted:" "$P/leaf.pem" --chain "$P/inter.pem" \
    --trust "$T;object=trust-root"
verify_is "verify: another CA's leaf: unknown issuer" 1 "^not trusted: .*: unknown issuer" \
    "$P/other-leaf.pem" --trust "$T"
verify_is "verify: the CA on the token but not marked trusted is no anchor" 1 "unknown issuer" \
    "$DIR/p256.pem" --trust "$T"
verify_is "verify --json: the verdict and the reason" 1 '"trusted":false,"reason":"unknown issuer"' \
    "$P/other-leaf.pem" --trust "$T" --json
verify_is "verify: a missing file is an error" 2 "certificate file" "$P/none.pem" --trust "$T"
# --json: the verdict alone is the document (also when not trusted, exit 1);
# an error is one error document saying the status the tool exits with.
json_verify_is() {
    local name=$1 want=$2 check=$3 st=0
    shift 3
    timeout 30 "$CLI" verify --json "$@" >"$TMP/v.json" 2>"$TMP/v.err" || st=$?
    if [ "$st" -eq "$want" ] && python3 -c "import json, sys
doc = json.loads(open(sys.argv[1]).read())  # exactly one document
$check" "$TMP/v.json"; then
        ok "$name"
    else
        not_ok "$name (status $st)" "$TMP/v.json" "$TMP/v.err"
    fi
}
json_verify_is "verify --json: not trusted is the verdict alone" 1 \
    'assert doc["trusted"] is False and "error" not in doc, doc' "$P/other-leaf.pem" --trust "$T"
json_verify_is "verify --json: trusted is the verdict alone" 0 \
    'assert doc["trusted"] is True and doc["reason"] is None, doc' "$P/leaf.pem" --trust "$T"
json_verify_is "verify --json: a missing file is a failure document, exit_status 2" 2 \
    'assert doc["error"] == "P11TLS_CLI_E_FAILURE" and doc["exit_status"] == 2, doc' \
    "$P/none.pem" --trust "$T"
# A trust URI naming no token: nothing matches, exit 3 as for every command.
json_verify_is "verify --json: a trust URI naming no token: exit_status 3" 3 \
    'assert doc["exit_status"] == 3 and "no token matches" in doc["detail"], doc' \
    "$P/leaf.pem" --trust "pkcs11:token=no-such-token"
verify_is "verify: a trust URI naming no token exits 3" 3 "no token matches" \
    "$P/leaf.pem" --trust "pkcs11:token=no-such-token"
verify_is "verify: --trust is required" 2 "needs --trust" "$P/leaf.pem"

# --- 2. connect --trust ---------------------------------------------------------
# connect_is NAME OK|REFUSED PATTERN: p11tls connect --trust $T to $port.
connect_is() {
    local st=0
    timeout 30 "$CLI" connect --port "$port" --trust "$T" >"$TMP/c.out" 2>&1 || st=$?
    local want=0
    [ "$2" = OK ] || want=1
    if [ "$st" -eq "$want" ] && grep -q -- "$3" "$TMP/c.out"; then
        ok "$1"
    else
        not_ok "$1 (status $st)" "$TMP/c.out" "$peer_log"
    fi
}
# gnutls_serv|openssl_serv NAME [CHAIN]: a server with NAME.pem and its
# key, sending CHAIN's certificates after it.
gnutls_serv() {
    port=$(free_port)
    cat "$P/$1.pem" ${2:+"$2"} >"$TMP/served.pem"
    start_peer "$TMP/gs.log" gnutls-serv --echo --x509certfile "$TMP/served.pem" \
        --x509keyfile "$P/$1-key.pem" -p "$port"
}
openssl_serv() {
    port=$(free_port)
    start_peer "$TMP/os.log" openssl s_server -accept "127.0.0.1:$port" -cert "$P/$1.pem" \
        -key "$P/$1-key.pem" ${2:+-cert_chain "$2"} -rev
}
for peer_kind in gnutls openssl; do
    "${peer_kind}_serv" leaf "$P/inter.pem" || not_ok "$peer_kind: listens"
    connect_is "connect --trust: $peer_kind server with the chain under the token anchor" OK \
        "^handshake: TLS1.3"
    kill "$peer" 2>/dev/null
    "${peer_kind}_serv" leaf || not_ok "$peer_kind: listens"
    connect_is "connect --trust: $peer_kind server sending its leaf alone (issuer from the token)" OK \
        "^handshake: TLS1.3"
    kill "$peer" 2>/dev/null
    "${peer_kind}_serv" other-leaf || not_ok "$peer_kind: listens"
    connect_is "connect --trust: $peer_kind server under another CA refused" REFUSED \
        "handshake failed: .*unknown issuer"
    kill "$peer" 2>/dev/null
done

# --- 3. serve --require-client-cert --trust ------------------------------------------
# The server's own identity is the token's p256 (test CA); clients trust ca.pem.
if start_serve "$TMP/s.out" "$TMP/s.err" "$(key_uri p256)" --cert "$(cert_uri p256)" \
    --count 2 --require-client-cert --trust "$T"; then
    for who in leaf other-leaf; do
        timeout 20 gnutls-cli --x509cafile "$DIR/ca.pem" --port "$port" \
            --x509certfile "$P/$who.pem" --x509keyfile "$P/$who-key.pem" localhost \
            </dev/null >"$TMP/cli-$who.out" 2>&1
    done
    wait_pid "$server_pid" 20
    if grep -q "^handshake 1: TLS1.3" "$TMP/s.out" && grep -q "hello from p11tls" "$TMP/cli-leaf.out"; then
        ok "serve --require-client-cert --trust: a client under the token anchor accepted"
    else
        not_ok "serve --require-client-cert --trust: a client under the token anchor accepted" \
            "$TMP/s.out" "$TMP/s.err" "$TMP/cli-leaf.out"
    fi
    if grep -q "handshake 2 failed: .*unknown issuer" "$TMP/s.err"; then
        ok "serve --require-client-cert --trust: a client under another CA refused, with the reason"
    else
        not_ok "serve --require-client-cert --trust: a client under another CA refused, with the reason" \
            "$TMP/s.out" "$TMP/s.err" "$TMP/cli-other-leaf.out"
    fi
else
    not_ok "serve --require-client-cert --trust starts" "$TMP/s.out" "$TMP/s.err"
fi
finish
