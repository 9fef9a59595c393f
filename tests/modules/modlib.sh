# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# modlib.sh - sourced by the module suites (functions only: own_namespaces
# before anything else, the others after tests/cli/lib.sh).

# own_namespaces VAR SCRIPT [ARGS...]: re-executes SCRIPT once in private
# mount, IPC and PID namespaces (with its own /proc), so that the module's
# daemons, sockets and files are the suite's alone; VAR marks the re-executed
# run. Exits 77 (skip) where unshare cannot make them.
own_namespaces() {
    local var=$1
    shift
    [ "${!var:-}" = 1 ] && return 0
    export "$var=1"
    if ! unshare -m -i -p -f --mount-proc --propagation private true 2>/dev/null; then
        echo "$me: SKIP: cannot make private mount, IPC and PID namespaces (unshare)" >&2
        exit 77
    fi
    exec unshare -m -i -p -f --mount-proc --propagation private bash "$@"
}

# sign_verify KEY_URI PUB_PEM SCHEME: signs a message with p11tls and
# verifies it with openssl and the public key PUB_PEM (ECDSA, RSA PKCS#1
# v1.5 and RSA-PSS with a salt as long as the hash). Errors in $TMP/err and
# $TMP/verify.
sign_verify() {
    local key=$1 pub=$2 scheme=$3 hash
    local -a opts=()
    hash=${scheme##*_sha}
    case $scheme in
        rsa_pss_*) opts=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1) ;;
    esac
    echo "message for $scheme" >"$TMP/msg"
    "$CLI" sign "$key" --scheme "$scheme" <"$TMP/msg" >"$TMP/sig" 2>"$TMP/err" &&
    openssl dgst "-sha$hash" "${opts[@]}" -verify "$pub" -signature "$TMP/sig" "$TMP/msg" \
        >"$TMP/verify" 2>&1
}

# public_key KEY_URI OUT_PEM: the key's public key, from p11tls info.
public_key() {
    "$CLI" info "$1" 2>"$TMP/err" | sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' >"$2" && [ -s "$2" ]
}

# storm KEY_URI SCHEME THREADS FORKS: tests/fork_storm against the key
# (threads sign while the main thread forks; every child signs with the
# inherited key and a fresh one). Output in $TMP/storm.out. Not under ASan
# (returns 0 with a note): see tests/run.sh.
storm() {
    if [ "${P11TLS_SANITIZER:-}" = asan ]; then
        echo "fork storm not run under ASan (tests/run.sh says why)" >"$TMP/storm.out"
        return 0
    fi
    P11TLS_STORM_KEY_URI=$1 P11TLS_STORM_SCHEME=$2 \
        timeout 120 "${P11TLS_FORK_STORM:-./tests/fork_storm}" "$3" "$4" >"$TMP/storm.out" 2>&1
}

# serve_workers LABEL WORKERS ALG CAFILE SERVE-ARGS...: p11tls serve
# SERVE-ARGS --count 1 (--workers WORKERS unless 0), one gnutls-cli
# handshake per worker, verified with CAFILE; with workers every handshake
# is signed in a forked child. One ok/not_ok line: every handshake done,
# the server's status 0, ALG (a regular expression) the signature.
serve_workers() {
    local label=$1 workers=$2 alg=$3 ca=$4 i good=0 want
    shift 4
    local args=("$@" --count 1)
    [ "$workers" -gt 0 ] && args+=(--workers "$workers")
    want=$((workers > 0 ? workers : 1))
    if ! start_serve "$TMP/server.out" "$TMP/server.err" "${args[@]}"; then
        not_ok "$label: serve (workers $workers) listening" "$TMP/server.out" "$TMP/server.err"
        return
    fi
    for i in $(seq "$want"); do
        timeout 20 gnutls-cli --x509cafile "$ca" --port "$port" localhost </dev/null >"$TMP/gnutls.out" 2>&1
        grep -q "hello from p11tls" "$TMP/gnutls.out" && good=$((good + 1))
    done
    wait_pid "$server_pid" 20
    if [ "$wait_status" -eq 0 ] && [ "$good" -eq "$want" ] && grep -q "TLS1.3 $alg" "$TMP/server.out"; then
        ok "$label: serve (workers $workers) + gnutls-cli: $good handshake(s), $alg"
    else
        not_ok "$label: serve (workers $workers) + gnutls-cli: $good handshake(s), status $wait_status" \
            "$TMP/server.out" "$TMP/server.err" "$TMP/gnutls.out"
    fi
}

# api ARGS...: tests/modules/api.py on the built library (ctypes). Not in a
# sanitizer build, where the library cannot be loaded into python: returns
# 77 there.
api() {
    [ -z "${P11TLS_SANITIZER:-}" ] || return 77
    timeout 60 python3 "$(dirname "$0")/api.py" "${P11TLS_LIB:-./lib/.libs/libp11tls.so}" "$@"
}

# suite_hook MODULE TOKEN PIN [INIT_RESERVED]: runs $P11TLS_SUITE_HOOK (a
# shell command; bench/modules.sh sets it) in the suite's environment, with
# BENCH_MODULE, BENCH_TOKEN, BENCH_PIN and BENCH_INIT_RESERVED set. Not
# part of the tests: nothing happens when the variable is unset.
suite_hook() {
    [ -n "${P11TLS_SUITE_HOOK:-}" ] || return 0
    BENCH_MODULE=$1 BENCH_TOKEN=$2 BENCH_PIN=$3 BENCH_INIT_RESERVED=${4:-} \
        bash -c "$P11TLS_SUITE_HOOK" || echo "# suite hook failed: $P11TLS_SUITE_HOOK"
}
