#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# forwarded_test.sh PROGRAM - the SoftHSM test token forwarded by
# `p11-kit server` over a Unix socket, used through p11-kit-client.so by
# PROGRAM (tests/forwarded_sign: open, sign, fork, the child signs).
# Runs inside tests/with-token.sh (SOFTHSM2_CONF, P11TLS_TEST_DIR, ...).
#
# The server is always killed on exit (trap); every wait is bounded.
# Exit status: PROGRAM's; 77 (skip) if p11-kit or p11-kit-client.so is
# missing; 99 if the server does not come up.
set -u

prog=${1:?usage: $0 PROGRAM}
me=$(basename "$0")

# shellcheck source=client_module.sh
. "$(dirname "$0")/client_module.sh"

sock=$P11TLS_TEST_DIR/p11-kit-server.sock
log=$P11TLS_TEST_DIR/p11-kit-server.log
# -f: stay in the foreground, so that $! is the server and the trap can
# kill it; -n: the socket path. Only the test token is exported.
p11-kit server -f -n "$sock" --provider "$P11TLS_SOFTHSM_MODULE" \
    "$P11TLS_TEST_TOKEN_URI" >"$log" 2>&1 </dev/null &
server=$!
stop_server() {
    kill "$server" 2>/dev/null
    # Bounded: SIGKILL if it has not gone after 5 s.
    for _ in $(seq 50); do
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$server" 2>/dev/null
    wait "$server" 2>/dev/null
}
trap stop_server EXIT

for _ in $(seq 100); do  # at most 10 s
    [ -S "$sock" ] && break
    if ! kill -0 "$server" 2>/dev/null; then
        echo "$me: p11-kit server exited:" >&2
        cat "$log" >&2
        exit 99
    fi
    sleep 0.1
done
if [ ! -S "$sock" ]; then
    echo "$me: p11-kit server did not create $sock within 10 s" >&2
    cat "$log" >&2
    exit 99
fi

export P11_KIT_SERVER_ADDRESS="unix:path=$sock"
uri="pkcs11:token=p11tls-test;object=p256;type=private;pin-value=$P11TLS_TEST_PIN"
timeout -k 5 120 "$prog" "$client" "$uri" "$P11TLS_TEST_DIR/p256.pem"
rc=$?
[ "$rc" -eq 0 ] || { echo "$me: $prog failed with status $rc; server log:" >&2; cat "$log" >&2; }
exit "$rc"
