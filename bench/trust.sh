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
#
# Then every root: each certificate of the bundle presented alone, and
# chains of 1, 2 and 3 intermediates under the test root, through the PEM
# file and through p11tls in one process, interleaved in short windows
# (bench/trust_roots.c), N rounds (each its own process); per certificate
# the median over the rounds of its ratio p11tls / PEM (each round's the
# median of its window pairs), and over all certificates the minimum and
# median ratio, with the five lowest (bench/results/<stamp>-trust-roots.csv).
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
nice make -j2 bench/bench_trust bench/bench_trust_roots >/dev/null
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

# --- every root, and chains of a few intermediates ---------------------------
# Chains of 1, 2 and 3 intermediates under the test root (certtool, EC).
chains=$work/chains
mkdir -p "$chains"
prev=inter
cat "$work/pki/leaf.pem" "$work/pki/inter.pem" >"$chains/chain-1.pem"
sent=$work/pki/inter.pem
for depth in 2 3; do
    name=inter$depth
    certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
        --outfile "$chains/$name-key.pem" 2>/dev/null
    printf 'cn = "bench inter %s"\nca\ncert_signing_key\nexpiration_days = 3650\n' "$depth" \
        >"$chains/$name.tmpl"
    issuer_cert=$work/pki/$prev.pem issuer_key=$work/pki/$prev-key.pem
    [ "$prev" = inter ] || { issuer_cert=$chains/$prev.pem; issuer_key=$chains/$prev-key.pem; }
    certtool --generate-certificate --load-privkey "$chains/$name-key.pem" \
        --load-ca-certificate "$issuer_cert" --load-ca-privkey "$issuer_key" \
        --template "$chains/$name.tmpl" --outfile "$chains/$name.pem" 2>/dev/null
    certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
        --outfile "$chains/leaf$depth-key.pem" 2>/dev/null
    printf 'cn = "localhost"\ndns_name = "localhost"\ntls_www_server\nsigning_key\nexpiration_days = 3650\n' \
        >"$chains/leaf.tmpl"
    certtool --generate-certificate --load-privkey "$chains/leaf$depth-key.pem" \
        --load-ca-certificate "$chains/$name.pem" --load-ca-privkey "$chains/$name-key.pem" \
        --template "$chains/leaf.tmpl" --outfile "$chains/leaf$depth.pem" 2>/dev/null
    sent="$chains/$name.pem $sent"
    # shellcheck disable=SC2086
    cat "$chains/leaf$depth.pem" $sent >"$chains/chain-$depth.pem"
    prev=$name
done
rout=bench/results/$(date -u +%Y%m%d-%H%M)-trust-roots.csv
: >"$rout"
for r in $(seq "$rounds"); do
    ./bench/bench_trust_roots --store "$work/store" --pem "$work/anchors.pem" --roots "$bundle" \
        --chains "$chains" --window-ms 5 --windows 21 | sed "s/^/$r,/" >>"$rout"
done
echo "trust.sh: $(grep -c . "$rout") rows in $rout" >&2
python3 - "$rout" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
rates = {}
for r in rows:
    rates.setdefault(r[2], {}).setdefault(r[3], []).append(float(r[5]))
n = max(int(r[0]) for r in rows)
ratio = {k: statistics.median(v["ratio"]) for k, v in rates.items() if "ratio" in v}
ratio = {k: x for k, x in ratio.items() if not k.startswith("refresh")}
roots = sorted((x, k) for k, x in ratio.items() if k.startswith("root:"))
chains = sorted((k, x) for k, x in ratio.items() if k.startswith("chain:"))
vals = [x for x, _ in roots]
print()
print(f"Every root of the bundle presented alone ({len(roots)}), p11tls / PEM file, "
      f"CPU time, medians of {n} rounds of paired windows: minimum {min(vals):.2f}x, median "
      f"{statistics.median(vals):.2f}x, maximum {max(vals):.2f}x.")
print()
print("| lowest roots | PEM file | p11tls | p11tls / PEM |")
print("|---|---:|---:|---:|")
for x, k in roots[:5]:
    v = rates[k]
    print(f"| {k.split(':', 2)[2]} | {statistics.median(v['pem']):,.0f}/s | "
          f"{statistics.median(v['p11tls']):,.0f}/s | {x:.2f}x |")
print()
print("| chain sent (leaf + intermediates) | PEM file | p11tls | p11tls / PEM |")
print("|---|---:|---:|---:|")
for k, x in chains:
    v = rates[k]
    print(f"| {k.split(':', 1)[1]} | {statistics.median(v['pem']):,.0f}/s | "
          f"{statistics.median(v['p11tls']):,.0f}/s | {x:.2f}x |")
print()
print(f"Staleness bound: p11tls_gnutls_trust_list_refresh(P11TLS_TRUST_REFRESH_IF_DUE) while "
      f"not due {statistics.median(rates['refresh-if-due']['p11tls']):.0f} ns per call; a read of "
      f"the store when due {statistics.median(rates['refresh']['p11tls']):.1f} ms (CPU).")
PY
