#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# bench/modules.sh [ROUNDS [SECONDS]]: signatures per second through p11tls
# vs the module called directly (raw PKCS#11), one thread, for each module
# suite for another module (NSS softokn, opencryptoki soft token, tpm2-pkcs11
# on swtpm). Each suite (tests/run.sh {nss,opencryptoki,tpm2}) sets up its
# module as in make check and runs bench/bench_sign in that environment
# (P11TLS_SUITE_HOOK), ROUNDS (default 3) interleaved rounds of SECONDS
# (default 2) per case. Prints the CSV rows and a Markdown table of the
# medians (the one in doc/performance.md). Needs root and the packages the
# suites need; run from the build directory after 'make bench' and
# 'make check' (for tests/fork_storm and tests/fork_parent).
set -euo pipefail
rounds=${1:-3}
seconds=${2:-2}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
[ -x bench/bench_sign ] || make -j2 bench >/dev/null

for suite in nss:"p256 rsa2048" opencryptoki:rsa2048 tpm2:"p256 rsa2048"; do
    name=${suite%%:*}
    keys=${suite#*:}
    export P11TLS_SUITE_HOOK="
        for r in \$(seq $rounds); do
            for key in $keys; do
                for impl in raw p11tls; do
                    '$PWD/bench/bench_sign' --impl \$impl --key \$key --threads 1 --seconds $seconds |
                        sed \"s/^/$name,\$r,/\" >>'$out'
                done
            done
        done"
    bash tests/run.sh "$name" >/dev/null 2>&1 || echo "modules.sh: suite $name failed or skipped" >&2
done
cat "$out"
python3 - "$out" <<'PY'
import csv, statistics, sys
rows = {}
for mod, rnd, bench, key, impl, param, value, unit in csv.reader(open(sys.argv[1])):
    rows.setdefault((mod, key, impl), []).append(float(value))
print()
print("| module | key | raw PKCS#11 (sig/s) | p11tls C API (sig/s) | p11tls / raw | spread |")
print("|---|---|---:|---:|---:|---:|")
for (mod, key, impl) in sorted(rows):
    if impl != "raw" or (mod, key, "p11tls") not in rows:
        continue
    raw, p = rows[(mod, key, "raw")], rows[(mod, key, "p11tls")]
    mr, mp = statistics.median(raw), statistics.median(p)
    spread = max((max(v) - min(v)) / statistics.median(v) for v in (raw, p))
    print(f"| {mod} | {key} | {mr:,.0f} | {mp:,.0f} | {mp / mr:.3f}x | {spread * 100:.1f}% |")
PY
