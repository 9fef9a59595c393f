#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# bench/trust.sh [--seconds S] [--rounds N]
#
# Trust lists (issue 17): verifications/s through p11tls
# (p11tls_gnutls_trust_list_add), a PEM file and GnuTLS's own pkcs11: trust
# URL, side by side in one run, for a trusted chain (leaf + intermediate
# under an anchor), the leaf alone (its intermediate on the token: only
# p11tls verifies it), a leaf of an unknown issuer and a trusted root alone.
# The anchors: the system's CA bundle (/etc/ssl/certs/ca-certificates.crt)
# plus the root of tests/trust/make-pki.sh, once as one PEM file and once
# as a p11-kit trust module directory (anchors/, the intermediate beside).
# Every (impl, case) runs in its own process, the three impls back to back
# in rotated order, N rounds (default 5, S = 1 second each); prints the
# CSV rows (bench,case,impl,param,value,unit, prefixed with the round;
# value: verifications per second of the process's CPU time) to
# bench/results/<stamp>-trust.csv and the medians with the ratios to p11tls
# and GnuTLS as a markdown table on stdout (for doc/performance.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=1
rounds=5
while [ "$#" -gt 0 ]; do
    case $1 in
        --seconds) seconds=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        *) echo "trust.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
cd "$top"
nice make -j2 bench/bench_trust >/dev/null
bundle=/etc/ssl/certs/ca-certificates.crt
root=/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt
[ -f "$bundle" ] && [ -f "$root" ] || { echo "trust.sh: needs ca-certificates" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/p11tls-bench-trust.XXXXXX")
trap 'rm -rf "$work"' EXIT
bash tests/trust/make-pki.sh "$work/pki"
mkdir -p "$work/store/anchors"
cat "$bundle" "$work/pki/root.pem" >"$work/anchors.pem"
cp "$work/anchors.pem" "$work/store/anchors/"
cp "$work/pki/inter.pem" "$work/store/"
# p11-kit sees only what the programs add (no registered modules in HOME).
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config
mkdir -p "$HOME"

mkdir -p bench/results
out=bench/results/$(date -u +%Y%m%d-%H%M)-trust.csv
: >"$out"
impls=(pem p11tls gnutls)
for r in $(seq "$rounds"); do
    for c in chain leaf unknown root; do
        for k in 0 1 2; do
            i=${impls[$(((k + r) % 3))]}
            ./bench/bench_trust --impl "$i" --case "$c" --store "$work/store" \
                --pem "$work/anchors.pem" --pki "$work/pki" --root "$root" \
                --seconds "$seconds" | sed "s/^/$r,/" >>"$out"
        done
    done
done
echo "trust.sh: $(grep -c . "$out") rows in $out" >&2
python3 - "$out" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
med = {}
for r in rows:
    med.setdefault((r[2], r[3]), []).append(float(r[5]))
med = {k: statistics.median(v) for k, v in med.items()}
n = max(int(r[0]) for r in rows)
names = {"chain": "trusted chain (leaf + intermediate)",
         "leaf": "leaf alone (intermediate on the token)", "unknown": "unknown issuer",
         "root": "trusted root alone"}
print(f"| case (median of {n} rounds) | PEM file | p11tls | GnuTLS pkcs11: URL | p11tls / PEM | p11tls / GnuTLS |")
print("|---|---:|---:|---:|---:|---:|")
for c in ("chain", "leaf", "unknown", "root"):
    p11, gt = med[(c, "p11tls")], med.get((c, "gnutls"))
    pem = med.get((c, "pem"))
    if pem is None:
        print(f"| {names[c]} | not trusted | {p11:,.0f}/s | not trusted | - | - |")
    else:
        print(f"| {names[c]} | {pem:,.0f}/s | {p11:,.0f}/s | {gt:,.0f}/s | {p11/pem:.2f}x | {p11/gt:.1f}x |")
PY
