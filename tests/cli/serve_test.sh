#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# serve_test.sh - tests of 'p11tls serve' against a SoftHSM token: a TLS
# server whose key is on the token, reached with gnutls-cli (TLS 1.3) and
# openssl s_client (TLS 1.2). Run under tests/with-token.sh, which provides
#   P11TLS_TEST_DIR        directory with <label>.pem certificates and ca.pem
#   P11TLS_TEST_PIN        the user PIN (1234)
#   P11TLS_CLI             the tool (default ./src/p11tls)
# openssl s_client runs with -ign_eof so that it reads the server's hello
# rather than racing it to the end of its (empty) standard input.
# Output is TAP-like; exits 0 only if every check passed (77 = skipped when
# gnutls-cli or openssl is missing).
set -u

. "$(dirname "$0")/lib.sh"
need_tools gnutls-cli openssl timeout

# start_server LABEL: serve the token key and certificate LABEL for 2
# connections.
start_server() {
    start_serve "$TMP/server.out" "$TMP/server.err" "$(key_uri "$1")" \
        --cert "$(cert_uri "$1")" --count 2
}

# wait_server: waits up to 20 s for the server; server_status (124: killed).
wait_server() {
    wait_pid "$server_pid" 20
    server_status=$wait_status
}

run_label() {
    local label=$1 gnutls_alg=$2
    if ! start_server "$label"; then
        not_ok "$label: serve prints 'listening on 127.0.0.1:PORT'" \
            "$TMP/server.out" "$TMP/server.err"
        return
    fi
    ok "$label: serve listening on port $port"

    timeout 20 gnutls-cli --x509cafile "$DIR/ca.pem" --port "$port" localhost \
        </dev/null >"$TMP/gnutls.out" 2>&1
    if grep -q "hello from p11tls" "$TMP/gnutls.out"; then
        ok "$label: gnutls-cli handshake, got the hello"
    else
        not_ok "$label: gnutls-cli handshake, got the hello" "$TMP/gnutls.out"
    fi

    timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$DIR/ca.pem" \
        -verify_return_error -tls1_2 -ign_eof </dev/null >"$TMP/openssl.out" 2>&1
    if grep -q "Verify return code: 0" "$TMP/openssl.out" &&
        grep -q "hello from p11tls" "$TMP/openssl.out"; then
        ok "$label: openssl s_client -tls1_2 verifies, got the hello"
    else
        not_ok "$label: openssl s_client -tls1_2 verifies, got the hello" \
            "$TMP/openssl.out"
    fi

    wait_server
    if [ "$server_status" -eq 0 ]; then
        ok "$label: serve exits 0 after 2 connections"
    else
        not_ok "$label: serve exits 0 after 2 connections (status $server_status)" \
            "$TMP/server.out" "$TMP/server.err"
    fi

    if grep -q "^handshake 1: TLS1.3 $gnutls_alg\$" "$TMP/server.out" &&
        grep -q "^handshake 2: TLS1.2 " "$TMP/server.out"; then
        ok "$label: summary lines (TLS1.3 $gnutls_alg, TLS1.2)"
    else
        not_ok "$label: summary lines (TLS1.3 $gnutls_alg, TLS1.2)" \
            "$TMP/server.out" "$TMP/server.err"
    fi
    sed 's/^/#   /' "$TMP/server.out"
}

run_label p256 'ECDSA-SECP256R1-SHA256'
run_label rsa2048 'RSA-PSS-RSAE-SHA[0-9]*'

# A failed handshake is reported and the server goes on to the next one.
if start_server p256; then
    echo "not TLS" | timeout 20 bash -c "cat >/dev/tcp/127.0.0.1/$port" 2>/dev/null
    timeout 20 gnutls-cli --x509cafile "$DIR/ca.pem" --port "$port" localhost \
        </dev/null >"$TMP/gnutls.out" 2>&1
    wait_server
    if [ "$server_status" -eq 1 ] && grep -q "handshake 1 failed" "$TMP/server.err" &&
        grep -q "^handshake 2: " "$TMP/server.out" &&
        grep -q "hello from p11tls" "$TMP/gnutls.out"; then
        ok "a failed handshake is reported, the next one served, exit 1"
    else
        not_ok "a failed handshake is reported, the next one served, exit 1 (status $server_status)" \
            "$TMP/server.out" "$TMP/server.err" "$TMP/gnutls.out"
    fi
else
    not_ok "serve starts for the failed-handshake test" "$TMP/server.err"
fi

# ---- a renewed certificate beside the old one (issue 24, item 4) -------------
# p384's certificate replaced by an expired one (serial 1001) and its
# renewal (1002), both with the key's label and ID, as a smart card keeps
# them. export-cert and info refuse (exit 4) naming both; serve uses the
# one valid now.
. "$(dirname "$0")/../support/renewal.sh"
if renew_on_token p384 04 "$TMP/renewal"; then
    "$CLI" export-cert "$(cert_uri p384)" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 4 ] && grep -q "serial 1001.*(expired)" "$TMP/err" &&
        grep -q "serial 1002" "$TMP/err" && grep -q "of one key" "$TMP/err"; then
        ok "renewal: export-cert exits 4 and names both certificates"
    else
        not_ok "renewal: export-cert exits 4 and names both certificates (exit $rc)" "$TMP/err"
    fi
    "$CLI" info "$(cert_uri p384)" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 4 ] && grep -q "serial 1001.*(expired)" "$TMP/err" && grep -q "serial 1002" "$TMP/err"; then
        ok "renewal: info exits 4 and names both certificates"
    else
        not_ok "renewal: info exits 4 and names both certificates (exit $rc)" "$TMP/err"
    fi
    if start_serve "$TMP/server.out" "$TMP/server.err" "$(key_uri p384)" \
        --cert "$(cert_uri p384)" --count 1; then
        timeout 20 gnutls-cli --x509cafile "$DIR/ca.pem" --port "$port" localhost \
            </dev/null >"$TMP/gnutls.out" 2>&1
        wait_server
        if [ "$server_status" -eq 0 ] && grep -q "serial 0x1002" "$TMP/gnutls.out" &&
            grep -q "hello from p11tls" "$TMP/gnutls.out"; then
            ok "renewal: serve uses the certificate valid now (serial 1002)"
        else
            not_ok "renewal: serve uses the certificate valid now (serial 1002; status $server_status)" \
                "$TMP/server.err" "$TMP/gnutls.out"
        fi
    else
        not_ok "renewal: serve starts with the renewed certificate's URI" "$TMP/server.err"
    fi
else
    not_ok "renewal: the two certificates are written"
fi

finish
