#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# tls_peers_test.sh - p11tls's TLS commands against independent peers on
# loopback, with SoftHSM keys (run under tests/with-token.sh, which gives
# P11TLS_TEST_DIR with ca.pem/ca-key.pem and the token's certificates):
#  1. p11tls serve against gnutls-cli and openssl s_client: TLS 1.3 with
#     ECDSA P-256/P-384, Ed25519, RSA-PSS; TLS 1.2 ECDHE with RSA PKCS#1 v1.5
#     and the RSA key exchange (the token decrypts). Peers verify the server
#     against the test CA.
#  2. The chain: a certificate issued by an intermediate CA that is only on
#     the token; peers that trust only the root succeed only if serve sent
#     the intermediate (p11tls_gnutls_certificate_set_key).
#  3. p11tls connect with a token client certificate against gnutls-serv and
#     openssl s_server requiring one, and against p11tls serve.
#  4. Prefork: serve opens its key, forks 4 workers, each completes 50
#     handshakes with gnutls-cli.
#  5. Errors: wrong PIN, missing object, a peer insisting on a scheme the
#     key cannot make: clear errors, and the server lives on.
# Output is TAP-like; exits 0 only if every check passed, 77 if a peer is
# missing.
set -u

. "$(dirname "$0")/lib.sh"
need_tools gnutls-cli gnutls-serv openssl certtool p11tool python3 timeout

export SOFTHSM2_CONF

# gnutls_cli LOG PRIORITY: one gnutls-cli connection to $port that verifies
# the server as localhost against ca.pem; succeeds if it got the hello.
gnutls_cli() {
    timeout 20 gnutls-cli --x509cafile "$DIR/ca.pem" --port "$port" \
        --priority "$2" localhost </dev/null >"$1" 2>&1
    grep -q "hello from p11tls" "$1"
}

# openssl_client LOG ARGS...: one openssl s_client connection to $port that
# must verify the server; succeeds if it got the hello.
openssl_client() {
    local log=$1
    shift
    timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$DIR/ca.pem" \
        -verify_return_error -verify_hostname localhost -ign_eof "$@" \
        </dev/null >"$log" 2>&1
    grep -q "Verify return code: 0" "$log" && grep -q "hello from p11tls" "$log"
}

# --- 1. the matrix -----------------------------------------------------------
# serve_matrix LABEL CERT: one server, 4 connections: gnutls-cli TLS 1.3,
# openssl TLS 1.3, then the TLS 1.2 cases given as "tool:priority-or-args".
serve_matrix() {
    local label=$1 expect13=$2 expect12=$3 gprio12=$4 oargs12=$5
    local out=$TMP/m-$label
    if ! start_serve "$out.server" "$out.err" "$(key_uri "$label")" \
        --cert "$(cert_uri "$label")" --count 4; then
        not_ok "$label: serve starts" "$out.server" "$out.err"
        return
    fi
    check "$label: gnutls-cli TLS 1.3" \
        gnutls_cli "$out.g13" "NORMAL:-VERS-ALL:+VERS-TLS1.3"
    check "$label: openssl s_client TLS 1.3" \
        openssl_client "$out.o13" -tls1_3
    check "$label: gnutls-cli TLS 1.2 ($gprio12)" \
        gnutls_cli "$out.g12" "NORMAL:-VERS-ALL:+VERS-TLS1.2$gprio12"
    # shellcheck disable=SC2086
    check "$label: openssl s_client TLS 1.2 ($oargs12)" \
        openssl_client "$out.o12" -tls1_2 $oargs12
    wait_pid "$server_pid" 20
    if [ "$wait_status" -eq 0 ] &&
        [ "$(grep -c "^handshake [12]: TLS1.3 $expect13\$" "$out.server")" -eq 2 ] &&
        [ "$(grep -c "^handshake [34]: TLS1.2 $expect12\$" "$out.server")" -eq 2 ]; then
        ok "$label: server saw TLS1.3 $expect13 x2, TLS1.2 $expect12 x2, exit 0"
    else
        not_ok "$label: server saw TLS1.3 $expect13 x2, TLS1.2 $expect12 x2, exit 0 (status $wait_status)" \
            "$out.server" "$out.err" "$out.g13" "$out.o13" "$out.g12" "$out.o12"
    fi
}

serve_matrix p256 ECDSA-SECP256R1-SHA256 ECDSA-SHA256 ":-SIGN-ALL:+SIGN-ECDSA-SHA256" "-sigalgs ECDSA+SHA256"
serve_matrix p384 ECDSA-SECP384R1-SHA384 ECDSA-SHA384 ":-SIGN-ALL:+SIGN-ECDSA-SHA384" "-sigalgs ECDSA+SHA384"
serve_matrix ed25519 EdDSA-Ed25519 EdDSA-Ed25519 "" "-sigalgs ed25519"
# RSA: TLS 1.3 is RSA-PSS; TLS 1.2 once with ECDHE + PKCS#1 v1.5 and once
# with the RSA key exchange, where the token decrypts the premaster secret.
serve_matrix rsa2048 'RSA-PSS-RSAE-SHA[0-9]*' '\(RSA-SHA256\|RSA\)' \
    ":-SIGN-ALL:+SIGN-RSA-SHA256:-KX-ALL:+ECDHE-RSA" "-cipher AES128-GCM-SHA256"
if grep -q "^handshake 4: TLS1.2 RSA\$" "$TMP/m-rsa2048.server" &&
    grep -q "^handshake 3: TLS1.2 RSA-SHA256\$" "$TMP/m-rsa2048.server"; then
    ok "rsa2048: TLS 1.2 ECDHE-RSA signed with PKCS#1 v1.5, RSA key exchange decrypted"
else
    not_ok "rsa2048: TLS 1.2 ECDHE-RSA signed with PKCS#1 v1.5, RSA key exchange decrypted" \
        "$TMP/m-rsa2048.server"
fi

# --- 2. the chain ------------------------------------------------------------
# An intermediate CA (software key), and a certificate for the token's P-256
# key issued by it; both certificates are written to the token.
make_chain() {
    cat >"$TMP/int.tmpl" <<'TMPL'
cn = "p11tls test intermediate"
ca
cert_signing_key
expiration_days = 3650
TMPL
    cat >"$TMP/leaf.tmpl" <<'TMPL'
cn = "localhost"
dns_name = "localhost"
signing_key
encryption_key
tls_www_server
tls_www_client
expiration_days = 3650
TMPL
    certtool --generate-privkey --key-type ecdsa --no-text --outfile "$TMP/int-key.pem" &&
        certtool --generate-certificate --load-privkey "$TMP/int-key.pem" \
            --load-ca-certificate "$DIR/ca.pem" --load-ca-privkey "$DIR/ca-key.pem" \
            --template "$TMP/int.tmpl" --outfile "$TMP/int.pem" &&
        certtool --pubkey-info --load-certificate "$DIR/p256.pem" --outfile "$TMP/p256.pub" &&
        certtool --generate-certificate --load-pubkey "$TMP/p256.pub" \
            --load-ca-certificate "$TMP/int.pem" --load-ca-privkey "$TMP/int-key.pem" \
            --template "$TMP/leaf.tmpl" --outfile "$TMP/chained.pem" &&
        p11tool --provider "$P11TLS_SOFTHSM_MODULE" --login --set-pin="$PIN" --write \
            --label p11tls-test-int --id 7e --load-certificate "$TMP/int.pem" \
            "pkcs11:token=$TOKEN" &&
        p11tool --provider "$P11TLS_SOFTHSM_MODULE" --login --set-pin="$PIN" --write \
            --label p256-chained --id 03 --load-certificate "$TMP/chained.pem" \
            "pkcs11:token=$TOKEN"
} >"$TMP/chain.log" 2>&1

if make_chain; then
    if start_serve "$TMP/c.server" "$TMP/c.err" "$(key_uri p256)" \
        --cert "$(cert_uri p256-chained)" --count 2; then
        check "chain: gnutls-cli trusting only the root verifies" \
            gnutls_cli "$TMP/c.g" "NORMAL"
        check "chain: openssl s_client trusting only the root verifies" \
            openssl_client "$TMP/c.o"
        wait_pid "$server_pid" 20
        if grep -q "p11tls test intermediate" "$TMP/c.o"; then
            ok "chain: the intermediate was sent"
        else
            not_ok "chain: the intermediate was sent" "$TMP/c.o" "$TMP/c.err"
        fi
    else
        not_ok "chain: serve starts" "$TMP/c.server" "$TMP/c.err"
    fi
else
    not_ok "chain: intermediate and certificate written to the token" "$TMP/chain.log"
fi

# --- 3. p11tls connect -------------------------------------------------------
# A software server identity for the peers (they need a key file).
cat >"$TMP/srv.tmpl" <<'TMPL'
cn = "localhost"
dns_name = "localhost"
signing_key
encryption_key
tls_www_server
expiration_days = 3650
TMPL
{
    certtool --generate-privkey --key-type ecdsa --no-text --outfile "$TMP/srv-key.pem" &&
        certtool --generate-certificate --load-privkey "$TMP/srv-key.pem" \
            --load-ca-certificate "$DIR/ca.pem" --load-ca-privkey "$DIR/ca-key.pem" \
            --template "$TMP/srv.tmpl" --outfile "$TMP/srv.pem"
} >"$TMP/srv.log" 2>&1 || not_ok "software server certificate" "$TMP/srv.log"

# connect_client LOG CONNECT-ARGS...: p11tls connect to $port, verifying
# the server against the test CA.
connect_client() {
    local log=$1
    shift
    timeout 30 "$CLI" connect --port "$port" --ca "$DIR/ca.pem" "$@" >"$log" 2>&1
}

# connect_check NAME LABEL REPLY PEERLOG: p11tls connect presenting the
# token's LABEL certificate and key must complete TLS 1.3, send it, and get
# REPLY back.
connect_check() {
    local log=$TMP/connect-$2
    if connect_client "$log" "$(key_uri "$2")" --cert "$(cert_uri "$2")" &&
        grep -q "^handshake: TLS1.3 .*(client certificate sent)" "$log" &&
        grep -q "$3" "$log"; then
        ok "$1"
    else
        not_ok "$1" "$log" "$4"
    fi
}

port=$(free_port)
if start_peer "$TMP/gs.out" gnutls-serv --echo --verify-client-cert --x509cafile "$DIR/ca.pem" \
    --x509keyfile "$TMP/srv-key.pem" --x509certfile "$TMP/srv.pem" -p "$port"; then
    connect_check "connect: gnutls-serv verified the token client certificate, echoed" \
        rsa2048 "hello from p11tls connect" "$TMP/gs.out"
else
    not_ok "connect: gnutls-serv listens" "$TMP/gs.out"
fi
kill "$peer" 2>/dev/null

port=$(free_port)
if start_peer "$TMP/os.out" openssl s_server -accept "127.0.0.1:$port" -cert "$TMP/srv.pem" \
    -key "$TMP/srv-key.pem" -CAfile "$DIR/ca.pem" -Verify 1 -verify_return_error -rev; then
    connect_check "connect: openssl s_server -Verify accepted the token client certificate" \
        p384 "tcennoc slt11p morf olleh" "$TMP/os.out"
    # Without a client certificate the same server refuses.
    if ! connect_client "$TMP/os.nocert" && ! grep -q "hello from p11tls connect" "$TMP/os.nocert"; then
        ok "connect: without a client certificate the peer refuses"
    else
        not_ok "connect: without a client certificate the peer refuses" "$TMP/os.nocert"
    fi
else
    not_ok "connect: openssl s_server listens" "$TMP/os.out"
fi
kill "$peer" 2>/dev/null

if start_serve "$TMP/pp.server" "$TMP/pp.err" "$(key_uri p256)" --cert "$(cert_uri p256)" \
    --ca "$DIR/ca.pem" --require-client-cert --count 1; then
    if connect_client "$TMP/pp.connect" "$(key_uri ed25519)" --cert "$(cert_uri ed25519)" &&
        grep -q "hello from p11tls" "$TMP/pp.connect" &&
        wait_pid "$server_pid" 20 && [ "$wait_status" -eq 0 ]; then
        ok "connect: p11tls connect to p11tls serve, client certificates on both sides"
    else
        not_ok "connect: p11tls connect to p11tls serve, client certificates on both sides" \
            "$TMP/pp.connect" "$TMP/pp.err"
    fi
else
    not_ok "connect: serve --require-client-cert starts" "$TMP/pp.err"
fi

# --- 4. prefork --------------------------------------------------------------
# Not with SoftHSM reset_on_fork = true: there each worker's first call runs
# C_Initialize, which reads the token file, and C_Login, which rewrites it
# (SoftHSM 2.6.1 truncates it before taking its lock), so a worker that
# initializes while a sibling logs in is shown an empty or unreadable token
# for good (seen in about one run of three: C_GetTokenInfo ->
# CKR_GENERAL_ERROR, label ''), and that worker's key is
# P11TLS_E_TOKEN_NOT_PRESENT until the process ends. p11tls cannot heal this
# without re-initializing the module; see doc/fork-model.md, "What a module
# can still do wrong".
if [ "${P11TLS_TEST_RESET_ON_FORK:-false}" = true ]; then
    n=$((n + 1)); echo "ok $n - prefork # SKIP SoftHSM reset_on_fork=true: a sibling's C_Login rewrites the token file under another's C_Initialize"
elif start_serve "$TMP/w.server" "$TMP/w.err" "$(key_uri p256)" --cert "$(cert_uri p256)" \
    --workers 4 --count 50; then
    for c in 1 2 3 4; do
        (
            fails=0
            for i in $(seq 50); do
                gnutls_cli "$TMP/w.client$c" NORMAL || fails=$((fails + 1))
            done
            echo "$fails" >"$TMP/w.fails$c"
        ) &
    done
    wait_pid "$server_pid" 300
    wait  # the client loops
    fails=$(cat "$TMP"/w.fails? 2>/dev/null | awk '{s += $1} END {print s + 0}')
    per_worker=$(for w in 1 2 3 4; do grep -c "^worker $w: handshake [0-9]*: TLS" "$TMP/w.server"; done | tr '\n' ' ')
    if [ "$wait_status" -eq 0 ] && [ "$fails" -eq 0 ] && [ "$per_worker" = "50 50 50 50 " ]; then
        ok "prefork: 4 workers x 50 handshakes, all ok (key opened before fork)"
    else
        not_ok "prefork: 4 workers x 50 handshakes (status $wait_status, client failures $fails, per worker: $per_worker)" \
            "$TMP/w.err"
    fi
else
    not_ok "prefork: serve --workers 4 starts" "$TMP/w.err"
fi

# --- 5. errors -----------------------------------------------------------------
WRONG_PIN=86420975
timeout 30 "$CLI" serve --port 0 \
    "pkcs11:token=$TOKEN;object=p256;type=private;pin-value=$WRONG_PIN" \
    --cert "$(cert_uri p256)" >"$TMP/e1.out" 2>"$TMP/e1.err"
st=$?
if [ "$st" -eq 1 ] && grep -qi "pin" "$TMP/e1.err" && ! grep -q "$WRONG_PIN" "$TMP/e1.err" &&
    ! grep -q listening "$TMP/e1.out"; then
    ok "wrong PIN: serve refuses to start, says PIN, never shows it"
else
    not_ok "wrong PIN: serve refuses to start, says PIN, never shows it (status $st)" "$TMP/e1.err"
fi

timeout 30 "$CLI" serve --port 0 "$(key_uri no-such-key)" --cert "$(cert_uri p256)" \
    >"$TMP/e2.out" 2>"$TMP/e2.err"
st=$?
if [ "$st" -eq 3 ] && grep -q "no-such-key" "$TMP/e2.err" && grep -qi "no .*matches\|not found" "$TMP/e2.err"; then
    ok "missing key: serve says which and why"
else
    not_ok "missing key: serve says which and why (status $st)" "$TMP/e2.err"
fi

timeout 30 "$CLI" serve --port 0 "$(key_uri p384)" --cert "$(cert_uri p256)" \
    >"$TMP/e4.out" 2>"$TMP/e4.err"
st=$?
if [ "$st" -eq 1 ] && grep -q "the private key (EC/ECDSA 384 bits) does not belong to the certificate 'CN=" "$TMP/e4.err"; then
    ok "key and certificate mismatch: serve says which halves differ"
else
    not_ok "key and certificate mismatch: serve says which halves differ (status $st)" "$TMP/e4.err"
fi

# The peer accepts only ECDSA P-384 signatures; the key is P-256.
if start_serve "$TMP/e3.server" "$TMP/e3.err" "$(key_uri p256)" --cert "$(cert_uri p256)" --count 2; then
    if gnutls_cli "$TMP/e3.bad" "NORMAL:-VERS-ALL:+VERS-TLS1.3:-SIGN-ALL:+SIGN-ECDSA-SECP384R1-SHA384"; then
        not_ok "scheme the key cannot make: the handshake fails" "$TMP/e3.bad"
    else
        ok "scheme the key cannot make: the handshake fails"
    fi
    check "scheme the key cannot make: the server serves the next client" \
        gnutls_cli "$TMP/e3.good" NORMAL
    wait_pid "$server_pid" 20
    if [ "$wait_status" -eq 1 ] && grep -q "handshake 1 failed" "$TMP/e3.err" &&
        grep -q "^handshake 2: TLS1.3" "$TMP/e3.server"; then
        ok "scheme the key cannot make: reported on stderr, exit 1 after serving both"
    else
        not_ok "scheme the key cannot make: reported on stderr, exit 1 after serving both (status $wait_status)" \
            "$TMP/e3.server" "$TMP/e3.err"
    fi
else
    not_ok "serve starts for the scheme test" "$TMP/e3.err"
fi

finish
