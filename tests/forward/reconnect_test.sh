#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# reconnect_test.sh PROGRAM - the SoftHSM test token forwarded by
# `p11-kit server`, used through p11-kit-client.so by PROGRAM
# (tests/reconnect_sign) while threads sign; the server is killed (with the
# connection process it forked) and started again a second later:
#   1 thread and 4 threads, the same token back: signing resumes;
#   4 threads, another token back (same label, another key under the URI):
#   nothing is signed with it (P11TLS_E_KEY_MISMATCH);
#   `p11tls serve --workers 2` (P11TLS_CLI): handshakes before and after.
# Runs inside tests/with-token.sh. Prints TAP; every wait is bounded; the
# server is always killed on exit. 77 (skip) without p11-kit-client.so.
set -u

prog=${1:?usage: $0 PROGRAM}
me=$(basename "$0")

# shellcheck source=client_module.sh
. "$(dirname "$0")/client_module.sh"

dir=$P11TLS_TEST_DIR
sock=$dir/p11-kit-server.sock
sock_b=$dir/p11-kit-server-b.sock
server= server_b=
# start_at VAR SOCKET SOFTHSM2_CONF: a server on SOCKET exporting the test
# token of that SoftHSM configuration, its pid in VAR; in a session and
# process group of its own (setsid), so that stop_at kills it and the
# p11-kit-remote it forks for each connection at once.
start_at() {
    local -n pid_var=$1
    rm -f "$2"
    SOFTHSM2_CONF=$3 setsid p11-kit server -f -n "$2" --provider "$P11TLS_SOFTHSM_MODULE" \
        "$P11TLS_TEST_TOKEN_URI" >>"$dir/server.log" 2>&1 </dev/null &
    pid_var=$!
    for _ in $(seq 100); do  # at most 10 s
        [ -S "$2" ] && return 0
        kill -0 "$pid_var" 2>/dev/null || break
        sleep 0.1
    done
    echo "$me: p11-kit server did not come up:" >&2
    cat "$dir/server.log" >&2
    return 1
}
# stop_at VAR: the link drops as when a key server dies; waits (bounded)
# until no process of the group is left.
stop_at() {
    local -n pid_var=$1
    [ -n "$pid_var" ] || return 0
    kill -KILL -- "-$pid_var" 2>/dev/null
    for _ in $(seq 100); do kill -0 -- "-$pid_var" 2>/dev/null || break; sleep 0.05; done
    wait "$pid_var" 2>/dev/null
    pid_var=
}
start_server() { start_at server "$sock" "$1"; }
stop_server() { stop_at server; }
trap 'stop_at server; stop_at server_b' EXIT

# Another token, labelled as the test token, whose key "p256" is another
# key (the private and the public object remade with the same label and ID).
other_conf=$dir/other/softhsm2.conf
mkdir -p "$dir/other"
cp -a "$dir/tokens" "$dir/other/tokens"
sed "s|$dir/tokens|$dir/other/tokens|" "$SOFTHSM2_CONF" >"$other_conf"
id=$(SOFTHSM2_CONF=$other_conf pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label p11tls-test \
        --login --pin "$P11TLS_TEST_PIN" --list-objects --type privkey 2>/dev/null | awk '/label:/ {l=$2} /ID:/ && l=="p256" {print $2; exit}')
for type in privkey pubkey; do
    SOFTHSM2_CONF=$other_conf pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --token-label p11tls-test \
        --login --pin "$P11TLS_TEST_PIN" --delete-object --type "$type" --label p256 >/dev/null 2>&1
done
if [ -z "$id" ] || ! SOFTHSM2_CONF=$other_conf pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" \
        --token-label p11tls-test --login --pin "$P11TLS_TEST_PIN" --keypairgen \
        --key-type EC:prime256v1 --label p256 --id "$id" >/dev/null 2>&1; then
    echo "$me: could not make the other token's key (ID '$id')" >&2
    exit 99
fi

export P11_KIT_SERVER_ADDRESS="unix:path=$sock"
uri="pkcs11:token=p11tls-test;object=p256;type=private;pin-value=$P11TLS_TEST_PIN"
n=0 failed=0
# launch CTL CLIENT THREADS MODE: PROGRAM in the background (pid in the
# caller's pid), waiting at most 30 s for its threads to have signed (CTL/ready).
launch() {
    timeout -k 5 120 "$prog" "$2" "$uri" "$dir/p256.pem" "$1" "$3" "$4" >"$1/out" 2>&1 &
    pid=$!
    for _ in $(seq 300); do
        [ -e "$1/ready" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
}
run_case() { # run_case THREADS same|other DESCRIPTION
    local ctl=$dir/ctl.$n out rc back_conf=$SOFTHSM2_CONF
    n=$((n + 1))
    mkdir -p "$ctl"
    [ "$2" = other ] && back_conf=$other_conf
    start_server "$SOFTHSM2_CONF" || return 1
    local pid
    launch "$ctl" "$client" "$1" "$2"
    if [ -e "$ctl/ready" ]; then
        stop_server
        sleep 1
        start_server "$back_conf" && date +%s%N >"$ctl/back.tmp" && mv "$ctl/back.tmp" "$ctl/back"
    fi
    wait "$pid"
    rc=$?
    stop_server
    sed 's/^/# /' "$ctl/out"
    if [ "$rc" -eq 0 ]; then
        echo "ok $n - $3"
    else
        echo "not ok $n - $3 (status $rc)"
        failed=$((failed + 1))
    fi
}
# serve_case: `p11tls serve --workers 2` through the client module; two
# handshakes, the server killed and back after 1 s, four more: every one
# completes (each worker connected again by itself).
serve_case() {
    local name="serve --workers 2: handshakes before and after the server was killed and back after 1 s"
    local spid port="" i good=0 out=$dir/serve.out
    n=$((n + 1))
    start_server "$SOFTHSM2_CONF" || { echo "not ok $n - $name (no server)"; failed=$((failed + 1)); return; }
    "$P11TLS_CLI" --no-registered --module "$client" serve "$uri" --cert "$dir/p256.pem" --port 0 \
        --count 3 --workers 2 >"$out" 2>"$dir/serve.err" </dev/null &
    spid=$!
    for _ in $(seq 200); do  # at most 20 s
        port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" | head -n 1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    hs() {
        timeout 20 gnutls-cli --x509cafile "$dir/ca.pem" --port "$port" localhost </dev/null 2>&1 |
            grep -q "hello from p11tls"
    }
    if [ -n "$port" ]; then
        for i in 1 2; do hs && good=$((good + 1)); done
        stop_server
        sleep 1
        start_server "$SOFTHSM2_CONF"
        for i in 1 2 3 4; do hs && good=$((good + 1)); done
    fi
    # 6 handshakes: both workers have served their 3 and exit.
    for _ in $(seq 200); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$spid" 2>/dev/null
    wait "$spid"
    local st=$?
    stop_server
    if [ "$good" -eq 6 ] && [ "$st" -eq 0 ]; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name ($good of 6 handshakes, serve status $st)"
        sed 's/^/#   /' "$out" "$dir/serve.err" | tail -n 30
        failed=$((failed + 1))
    fi
}
if command -v gnutls-cli >/dev/null 2>&1 && [ -x "${P11TLS_CLI:-}" ]; then
    serve_case
else
    n=$((n + 1))
    echo "ok $n - # SKIP serve --workers 2: gnutls-cli or the p11tls tool not found"
fi
run_case 1 same "1 thread signs; the server is killed and back after 1 s: signing resumes, every signature verifies"
run_case 4 same "4 threads sign; the server is killed and back after 1 s: signing resumes, every signature verifies"
run_case 4 other "4 threads sign; the server comes back with another key under the URI: refused, never signed"
# --- replicas: two servers export the key, as two "remote:" modules
# registered in p11-kit (and SoftHSM itself no longer).
rm -f "$XDG_CONFIG_HOME"/pkcs11/modules/*.module "$dir"/p11-kit/modules/*.module
printf 'remote: unix:path=%s\n' "$sock" >"$dir/replica-a.module"
printf 'remote: unix:path=%s\n' "$sock_b" >"$dir/replica-b.module"
for f in "$dir/replica-a.module" "$dir/replica-b.module"; do
    cp "$f" "$XDG_CONFIG_HOME/pkcs11/modules/"
    cp "$f" "$dir/p11-kit/modules/"
done
unset P11_KIT_SERVER_ADDRESS

replica_case() { # replica_case THREADS DESCRIPTION
    local ctl=$dir/ctl.r$n pid rc
    n=$((n + 1))
    mkdir -p "$ctl"
    if ! start_server "$SOFTHSM2_CONF" || ! start_at server_b "$sock_b" "$SOFTHSM2_CONF"; then
        echo "not ok $n - $2 (servers did not start)"; failed=$((failed + 1)); return
    fi
    launch "$ctl" - "$1" replica
    if [ -e "$ctl/ready" ]; then
        # Each replica away in turn, whichever the key was opened on.
        stop_server
        sleep 1
        start_server "$SOFTHSM2_CONF"
        sleep 1
        stop_at server_b
        sleep 1
        date +%s%N >"$ctl/back.tmp" && mv "$ctl/back.tmp" "$ctl/back"
    fi
    wait "$pid"
    rc=$?
    stop_server
    stop_at server_b
    sed 's/^/# /' "$ctl/out"
    if [ "$rc" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2 (status $rc)"; failed=$((failed + 1)); fi
}
replica_case 4 "replicas: two servers export the key; each killed in turn while 4 threads sign: no call fails, every signature verifies"

# Two servers, another key under the URI on the second: not replicas.
n=$((n + 1))
if start_server "$SOFTHSM2_CONF" && start_at server_b "$sock_b" "$other_conf"; then
    mkdir -p "$dir/ctl.amb"
    if timeout -k 5 60 "$prog" - "$uri" "$dir/p256.pem" "$dir/ctl.amb" 1 ambiguous >"$dir/amb.out" 2>&1; then
        echo "ok $n - two servers with different keys under one URI: P11TLS_E_AMBIGUOUS"
    else
        echo "not ok $n - two servers with different keys under one URI: P11TLS_E_AMBIGUOUS"
        failed=$((failed + 1))
    fi
    sed 's/^/# /' "$dir/amb.out"
else
    echo "not ok $n - two servers with different keys under one URI (servers did not start)"
    failed=$((failed + 1))
fi
stop_server
stop_at server_b

echo "1..$n"
[ "$failed" -eq 0 ]
