#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# bench/remote.sh [--seconds S] [--rounds N]
#
# Tokens across a link (issue 26, doc/remote.md): the test token served by
# `p11-kit server`, reached through p11-kit-client.so by way of
# bench/delay_proxy.py, which delays every message in each direction by
# 0, 1 or 5 ms. Signatures/s (P-256) with 1 and 8 threads sharing the key,
# through raw PKCS#11 on the client module (one session per thread: the
# link's limit), GnuTLS's built-in PKCS#11 and p11tls, side by side
# (bench/bench_sign, each (delay, threads, impl) its own process, the impls
# back to back in rotated order, N rounds of S seconds; median of the
# rounds). The 1 vs 8 threads columns answer whether p11-kit's client lets
# calls of several threads share its one connection. CSV rows to
# bench/results/<stamp>-remote.csv, the table on stdout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=2
rounds=3
while [ "$#" -gt 0 ]; do
    case $1 in
        --seconds) seconds=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        *) echo "remote.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
cd "$top"
nice make -j2 bench/bench_sign >/dev/null
# shellcheck source=tests/support/softhsm.sh
. tests/support/softhsm.sh
module=$(find_softhsm_module) || { echo "remote.sh: libsofthsm2.so not found" >&2; exit 1; }
client=$(pkg-config --variable=p11_module_path p11-kit-1)/p11-kit-client.so
[ -f "$client" ] || { echo "remote.sh: $client not found (p11-kit-modules)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/p11tls-bench-remote.XXXXXX")
server= proxy=
cleanup() {
    [ -n "$proxy" ] && kill "$proxy" 2>/dev/null
    [ -n "$server" ] && kill "$server" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
template=${P11TLS_TOKEN_TEMPLATE:-$top/tests/token-template}
if [ ! -d "$template/tokens" ]; then
    template=$work/template
    bash tests/fixtures/make-token.sh "$template" >/dev/null
fi
mkdir -p "$work/token"
cp -a "$template/." "$work/token/"
printf 'directories.tokendir = %s/token/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$work" >"$work/softhsm2.conf"
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config
mkdir -p "$HOME"
SOFTHSM2_CONF=$work/softhsm2.conf p11-kit server -f -n "$work/server.sock" --provider "$module" \
    "pkcs11:token=p11tls-test" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do [ -S "$work/server.sock" ] && break; sleep 0.1; done
[ -S "$work/server.sock" ] || { echo "remote.sh: p11-kit server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

mkdir -p bench/results
out=bench/results/$(date -u +%Y%m%d-%H%M)-remote.csv
: >"$out"
export BENCH_MODULE=$client BENCH_TOKEN=p11tls-test BENCH_PIN=1234
export P11_KIT_SERVER_ADDRESS="unix:path=$work/proxy.sock"
impls=(raw gnutls p11tls)
for delay in 0 1 5; do
    [ -n "$proxy" ] && { kill "$proxy"; wait "$proxy" 2>/dev/null || true; }
    rm -f "$work/proxy.sock"  # the wait below must see the new relay's socket
    python3 bench/delay_proxy.py "$work/proxy.sock" "$work/server.sock" "$delay" &
    proxy=$!
    for _ in $(seq 100); do [ -S "$work/proxy.sock" ] && break; sleep 0.1; done
    for threads in 1 8; do
        for ((r = 0; r < rounds; r++)); do
            for ((i = 0; i < ${#impls[@]}; i++)); do
                impl=${impls[$(((i + r) % ${#impls[@]}))]}
                bench/bench_sign --impl "$impl" --key p256 --threads "$threads" --seconds "$seconds" |
                    sed "s/^/$r,$delay,/" >>"$out"
            done
        done
    done
done
python3 - "$out" <<'PY'
import csv, statistics, sys
rows = {}
for rec in csv.reader(open(sys.argv[1])):
    if len(rec) < 8:
        continue
    r, delay, bench, case, impl, param, value, unit = rec[:8]
    rows.setdefault((int(delay), int(param.split("=")[-1]), impl), []).append(float(value))
print("| link delay (each way) | threads | raw PKCS#11 | GnuTLS built-in | p11tls | p11tls / GnuTLS |")
print("|---|---:|---:|---:|---:|---:|")
for delay in (0, 1, 5):
    for threads in (1, 8):
        m = {i: statistics.median(rows.get((delay, threads, i), [0])) for i in ("raw", "gnutls", "p11tls")}
        ratio = m["p11tls"] / m["gnutls"] if m["gnutls"] else 0
        print(f"| {delay} ms | {threads} | {m['raw']:,.0f} | {m['gnutls']:,.0f} | {m['p11tls']:,.0f} | {ratio:.2f}x |")
PY
echo "remote.sh: rows in $out" >&2
