# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# lib.sh - shared by the CLI test scripts (sourced, not run): TAP-like
# results, a private temporary directory, and TLS servers run in the
# background with bounded waits. Every process started here is killed on
# exit.
#
# Needs: P11TLS_TEST_DIR (certificates, ca.pem), P11TLS_TEST_PIN; P11TLS_CLI
# names the tool (default ./src/p11tls).

CLI=${P11TLS_CLI:-./src/p11tls}
PIN=${P11TLS_TEST_PIN:-1234}
DIR=${P11TLS_TEST_DIR:?P11TLS_TEST_DIR must name the test certificate directory}
TOKEN=p11tls-test

TMP=$(mktemp -d "${TMPDIR:-/tmp}/p11tls-cli.XXXXXX") || exit 99
bg_pids=()
cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
# not_ok NAME [FILE...]: a failure, with the files shown as TAP comments.
not_ok() {
    local f
    n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
    shift
    for f in "$@"; do
        [ -s "$f" ] && tail -n 40 "$f" | sed "s|^|#   $(basename "$f"): |"
    done
    return 0
}
# check NAME COMMAND...: ok if COMMAND succeeds.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
finish() {
    echo "1..$n"
    [ "$failed" -eq 0 ]
}

# verify_is NAME STATUS PATTERN ARGS...: p11tls verify ARGS exits STATUS and
# prints a line matching PATTERN (stdout and stderr).
verify_is() {
    local name=$1 want=$2 pattern=$3 st=0
    shift 3
    timeout 30 "$CLI" verify "$@" >"$TMP/v.out" 2>&1 || st=$?
    if [ "$st" -eq "$want" ] && grep -q -- "$pattern" "$TMP/v.out"; then
        ok "$name"
    else
        not_ok "$name (status $st)" "$TMP/v.out"
    fi
}

# start_peer LOG COMMAND...: runs a peer server (listening on $port) in the
# background as $peer, its output in LOG ($peer_log); returns 1 if it is
# not listening within 10 s.
start_peer() {
    peer_log=$1
    shift
    "$@" </dev/null >"$peer_log" 2>&1 &
    peer=$!
    bg_pids+=("$peer")
    wait_listening "$port"
}

need_tools() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$(basename "$0"): SKIP: $tool not found" >&2
            exit 77
        fi
    done
}

key_uri() { echo "pkcs11:token=$TOKEN;object=$1;type=private;pin-value=$PIN"; }
cert_uri() { echo "pkcs11:token=$TOKEN;object=$1;type=cert"; }

# start_serve OUT ERR SERVE-ARGS...: runs 'p11tls serve --port 0 ARGS' in
# the background; sets server_pid and port. Returns 1 if no
# "listening on" line appeared within 10 s.
start_serve() {
    local out=$1 err=$2 i line
    shift 2
    : >"$out"
    : >"$err"
    "$CLI" serve --port 0 "$@" >"$out" 2>"$err" &
    server_pid=$!
    bg_pids+=("$server_pid")
    port=
    for i in $(seq 100); do
        line=$(head -n 1 "$out")
        case $line in
            "listening on 127.0.0.1:"*) port=${line##*:}; return 0 ;;
        esac
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# wait_pid PID SECONDS: waits for PID to exit, kills it after SECONDS.
# Sets wait_status (124 on timeout).
wait_pid() {
    local pid=$1 i
    wait_status=124
    for i in $(seq $(($2 * 10))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            wait_status=$?
            return 0
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
}

# free_port: a TCP port on 127.0.0.1 free right now (for peers that cannot
# bind port 0 and report it).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_listening PORT: waits up to 10 s for a listener on 127.0.0.1:PORT
# (read from /proc, so no connection is made to the server).
wait_listening() {
    local hex i
    hex=$(printf '%04X' "$1")
    for i in $(seq 100); do
        if grep -q "^ *[0-9]*: [0-9A-F]*:$hex [0-9A-F]*:0000 0A " /proc/net/tcp 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}
