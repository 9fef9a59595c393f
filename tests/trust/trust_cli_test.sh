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
#  4. import-cert --trusted --ca (the SO PIN from --so-pin-fd; a wrong one
#     refused, nothing written) makes a CA an anchor; --distrust is refused
#     on SoftHSM; p11tls(1)'s trust example as written.
#  5. Distrust by issuer and serial number only (p11-kit's trust module on a
#     private store beside SoftHSM, tests/trust/make-store.sh distrust):
#     verify, connect --trust and serve --require-client-cert --trust refuse
#     an intermediate the store names (sent by the peer) and a leaf.
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

# --- 4. import-cert --trusted --ca, --distrust --------------------------------------
import_is() { # NAME STATUS PATTERN ARGS...: p11tls import-cert ARGS
    local name=$1 want=$2 pattern=$3 st=0
    shift 3
    timeout 30 "$CLI" import-cert "$@" >"$TMP/i.out" 2>&1 || st=$?
    if [ "$st" -eq "$want" ] && grep -q -- "$pattern" "$TMP/i.out"; then ok "$name"; else
        not_ok "$name (status $st)" "$TMP/i.out"; fi
}
import_is "import-cert --trusted: a wrong SO PIN is refused" 1 "Incorrect PIN" \
    "$T" "$P/other-root.pem" --label other-root --trusted --ca --so-pin-fd 3 3<<<"87654321"
verify_is "... and nothing was written" 1 "unknown issuer" "$P/other-leaf.pem" --trust "$T"
import_is "import-cert --trusted --ca --so-pin-fd writes the CA marked trusted" 0 "object=other-root" \
    "$T" "$P/other-root.pem" --label other-root --trusted --ca --so-pin-fd 3 3<<<"$P11TLS_TEST_SO_PIN"
verify_is "... an anchor now" 0 "^trusted:" "$P/other-leaf.pem" --trust "$T"
import_is "import-cert --trusted of a certificate marked already: left as it is" 0 "object=other-root" \
    "$T" "$P/other-root.pem" --label other-root-2 --trusted --ca --so-pin-fd 3 3</dev/null
import_is "import-cert --distrust on SoftHSM: refused, it has no CKA_X_DISTRUSTED" 1 \
    "cannot mark a certificate distrusted" "$T" "$P/leaf2.pem" --label bad --distrust \
    --pin-fd 3 3<<<"$PIN"
import_is "import-cert --trusted --distrust: usage error" 2 "not both" \
    "$T" "$P/leaf2.pem" --label bad --trusted --distrust
import_is "import-cert --so-pin-fd without --trusted: usage error" 2 "is for --trusted" \
    "$T" "$P/leaf2.pem" --label bad --so-pin-fd 3
# p11tls(1)'s trust example, as written, with the test CA and the SO PIN.
ex=$TMP/example
mkdir -p "$ex/bin"
cp "$DIR/ca.pem" "$DIR/p256.pem" "$ex/"
(umask 077; printf '%s\n' "$P11TLS_TEST_SO_PIN" >"$ex/so-pin.txt")
ln -s "$(cd "$(dirname "$CLI")" && pwd)/$(basename "$CLI")" "$ex/bin/p11tls"
python3 "$(dirname "$0")/../support/man_example.py" "$(dirname "$0")/../../doc/p11tls.1" trust \
    >"$ex/example.sh"
if [ -s "$ex/example.sh" ] &&
    (cd "$ex" && PATH="$ex/bin:$PATH" timeout 60 bash -e example.sh) >"$TMP/ex.out" 2>&1 &&
    grep -q "^trusted: CN=p256" "$TMP/ex.out"; then
    ok "the trust example of p11tls(1) runs as written"
else
    not_ok "the trust example of p11tls(1) runs as written" "$ex/example.sh" "$TMP/ex.out"
fi

# --- 5. distrust by issuer and serial number only ----------------------------------
trust_so=
for f in /usr/lib/*/pkcs11/p11-kit-trust.so /usr/lib64/pkcs11/p11-kit-trust.so; do
    [ -f "$f" ] && { trust_so=$f; break; }
done
if [ -z "$trust_so" ]; then
    echo "trust_cli_test.sh: note: p11-kit-trust.so not found (p11-kit-modules): part 5 not run" >&2
    finish
    exit
fi
bash "$(dirname "$0")/make-store.sh" "$TMP/dist" distrust "$P" || exit 99
# Beside SoftHSM in this test's private p11-kit configuration.
printf 'module: %s\nx-init-reserved: paths=%s\n' "$trust_so" "$TMP/dist" >"$TMP/dist.module"
. "$(dirname "$0")/../p11kit-isolate.sh"
p11kit_register_more "$P11TLS_TEST_DIR" "$TMP/dist.module"
D="pkcs11:token=dist"
verify_is "verify: an intermediate distrusted by serial number only, sent" 1 "distrusted" \
    "$P/leaf2.pem" --chain "$P/inter2.pem" --trust "$D"
verify_is "verify: a leaf distrusted by serial number only" 1 "distrusted" \
    "$P/leaf.pem" --chain "$P/inter.pem" --trust "$D"
verify_is "verify: another anchor's leaf there (control)" 0 "^trusted:" "$P/other-leaf.pem" --trust "$D"
T=$D
gnutls_serv leaf2 "$P/inter2.pem" || not_ok "gnutls: listens"
connect_is "connect --trust: a server sending an intermediate distrusted by serial number" REFUSED \
    "handshake failed: .*distrusted"
kill "$peer" 2>/dev/null
if start_serve "$TMP/s5.out" "$TMP/s5.err" "$(key_uri p256)" --cert "$(cert_uri p256)" \
    --count 2 --require-client-cert --trust "$D"; then
    for who in leaf other-leaf; do
        cat "$P/$who.pem" >"$TMP/client.pem"
        [ "$who" = leaf ] && cat "$P/inter.pem" >>"$TMP/client.pem"
        timeout 20 gnutls-cli --x509cafile "$DIR/ca.pem" --port "$port" \
            --x509certfile "$TMP/client.pem" --x509keyfile "$P/$who-key.pem" localhost \
            </dev/null >"$TMP/cli5-$who.out" 2>&1
    done
    wait_pid "$server_pid" 20
    if grep -q "handshake 1 failed: .*distrusted" "$TMP/s5.err" &&
        grep -q "^handshake 2: TLS1.3" "$TMP/s5.out"; then
        ok "serve --require-client-cert --trust: a client leaf distrusted by serial number refused, another accepted"
    else
        not_ok "serve --require-client-cert --trust: a client leaf distrusted by serial number refused" \
            "$TMP/s5.out" "$TMP/s5.err"
    fi
else
    not_ok "serve --require-client-cert --trust $D starts" "$TMP/s5.out" "$TMP/s5.err"
fi
finish
