#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# bench/run.sh [--quick] [--only LIST] [--rounds N] [--no-doc]
#
# The p11tls benchmark suite (issue 6), in one command: builds what it
# needs, makes a throw-away SoftHSM2 token, measures p11tls against the raw
# module and against GnuTLS's built-in PKCS#11, and writes
#
#   bench/results/<UTC stamp>-<mode>.csv          every measurement, per round
#   bench/results/<UTC stamp>-<mode>-summary.csv  medians and ratios
#   doc/performance.md                            tables (generated part only)
#   doc/perf-threads.png, doc/perf-lookup.png     plots (gnuplot)
#
#   --quick     smoke test, about 2 minutes (short windows, 2 rounds)
#   --only L    comma-separated subset of sign,tls,fork,lookup,mem,profile
#               (profile: instructions per signature under valgrind's
#               callgrind, noise-free; in the full run only)
#   --rounds N  rounds of the interleaved benchmarks (default 5, quick 2)
#   --no-doc    leave doc/ alone (results are still written)
#
# Default run: about 5 minutes, plus once about 3 minutes to fill the
# cached lookup tokens (bench/.cache/lookup20-N, reused by later runs; delete
# them to start over). Run it on a quiet machine: every figure is a
# median over rounds, and every round runs all configurations one after
# the other (the configurations of one comparison back to back, their
# order rotated each round), so that drift hits them alike.
#
# Tokens follow tests/with-token.sh: template from
# tests/fixtures/make-token.sh (${P11TLS_TOKEN_TEMPLATE} if set), a private
# copy with its own softhsm2.conf, user PIN 1234, HOME isolated from the
# user's p11-kit configuration. Benchmarks are never tests: nothing here is
# part of 'make check'.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
mode=full
only=
rounds=
doc=1
while [ "$#" -gt 0 ]; do
    case $1 in
        --quick) mode=quick ;;
        --only) only=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        --no-doc) doc=0 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
want() { case ",$only," in *",$1,"*) return 0 ;; esac; return 1; }

# Durations: the full run's windows are long enough for ~1% run-to-run
# spread on an idle machine; the quick run only shows that all works.
if [ "$mode" = quick ]; then
    : "${only:=sign,tls,fork,lookup,mem}"
    : "${rounds:=2}"; sign_s=0.15; tls_s=0.25; fork_iters=20; child_iters=8
    lookup_sizes=10,100,1000; lookup_reps=1; mem_gens=6
else
    : "${only:=sign,tls,fork,lookup,mem,profile}"
    : "${rounds:=5}"; sign_s=0.5; tls_s=0.6; fork_iters=100; child_iters=30
    lookup_sizes=10,100,1000,5000,10000; lookup_reps=3; mem_gens=20
fi

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- build --------------------------------------------------------------------
cd "$top"
if [ ! -f Makefile ]; then
    log "configuring"
    ./autogen.sh >/dev/null
    ./configure >/dev/null
fi
log "building (make bench)"
nice make -j2 bench >/dev/null

if ! command -v gnuplot >/dev/null 2>&1; then
    log "installing gnuplot (for the plots)"
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y gnuplot-nox >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 && apt-get install -y gnuplot-nox >/dev/null 2>&1; } ||
            log "gnuplot not installed: no plots"
    else
        log "gnuplot missing and not root: no plots"
    fi
fi

# shellcheck source=tests/support/softhsm.sh
. "$top/tests/support/softhsm.sh"
module=$(find_softhsm_module) || { echo "run.sh: libsofthsm2.so not found" >&2; exit 1; }

# --- the throw-away token ---------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/p11tls-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
template=${P11TLS_TOKEN_TEMPLATE:-$work/template}
if [ ! -d "$template/tokens" ]; then
    log "building the token template (tests/fixtures/make-token.sh)"
    bash tests/fixtures/make-token.sh "$template"
fi
mkdir -p "$work/token" "$work/home/.config" "$work/tls"
cp -a "$template/." "$work/token/"
for rof in false true; do
    cat >"$work/softhsm2-rof-$rof.conf" <<EOF
directories.tokendir = $work/token/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
library.reset_on_fork = $rof
EOF
done
export SOFTHSM2_CONF="$work/softhsm2-rof-false.conf"
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
export BENCH_MODULE="$module" BENCH_TOKEN=p11tls-test BENCH_PIN=1234
export BENCH_TLS_DIR="$work/tls"
export BENCH_TESTMOD="$top/tests/module/.libs/libp11tls-testmod.so"

# TLS server keys: made in software, so the same key exists as PEM (for the
# software baseline) and on the token (imported with its certificate).
if want tls; then
    log "TLS keys: software keys imported into the token"
    id=0
    for alg in rsa ecdsa; do
        id=$((id + 1))
        case $alg in
            rsa) kt="--key-type=rsa --bits=2048" ;;
            ecdsa) kt="--key-type=ecdsa --curve=secp256r1" ;;
        esac
        # shellcheck disable=SC2086
        certtool --generate-privkey $kt --no-text --outfile "$work/tls/bench-$alg-key.pem" 2>/dev/null
        printf 'cn = "bench-%s"\nserial = %d\nexpiration_days = 30\ndns_name = "localhost"\ntls_www_server\nsigning_key\nencryption_key\n' \
            "$alg" $((100 + id)) >"$work/tls/$alg.tmpl"
        certtool --generate-certificate --load-privkey "$work/tls/bench-$alg-key.pem" \
            --load-ca-certificate "$work/token/ca.pem" --load-ca-privkey "$work/token/ca-key.pem" \
            --template "$work/tls/$alg.tmpl" --outfile "$work/tls/bench-$alg-cert.pem" 2>/dev/null
        for what in "--load-privkey $work/tls/bench-$alg-key.pem" \
                    "--load-certificate $work/tls/bench-$alg-cert.pem"; do
            # shellcheck disable=SC2086
            p11tool --provider "$module" --login --set-pin=1234 --write "pkcs11:token=p11tls-test" \
                $what --label "bench-$alg" --id "b$id" >/dev/null 2>&1
        done
    done
fi

# --- measurements -----------------------------------------------------------------------
mkdir -p bench/results
stamp=$(date -u +%Y%m%d-%H%M)
csv="bench/results/$stamp-$mode.csv"
echo "round,bench,case,impl,param,value,unit" >"$csv"
meta="$work/meta.txt"
{
    echo "mode=$mode"
    echo "rounds=$rounds"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "nproc=$(nproc)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel=$(uname -r)"
    echo "gnutls=$(pkg-config --modversion gnutls)"
    echo "p11kit=$(pkg-config --modversion p11-kit-1)"
    echo "softhsm=$(softhsm2-util --version)"
    echo "p11tls=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "commit_date=$(git -C "$top" log -1 --format=%cd --date=short 2>/dev/null || echo unknown)"
} >"$meta"

# One measurement: the program's CSV rows, tagged with the round. A
# failing configuration is reported and skipped, not fatal to the run.
run() {
    local r=$1; shift
    local out
    if out=$("$@" 2>"$work/err"); then
        [ -z "$out" ] || printf '%s\n' "$out" | sed "s/^/$r,/" >>"$csv"
    else
        log "FAILED: $* ($(tail -1 "$work/err"))"
    fi
}
# Rotates a word list by n: round r runs the configurations of one
# comparison in a different order each time.
rotate() { local n=$1; shift; local a=("$@"); local i; for ((i = 0; i < ${#a[@]}; i++)); do
    printf '%s ' "${a[$(((i + n) % ${#a[@]}))]}"; done; }

for ((r = 1; r <= rounds; r++)); do
    log "round $r of $rounds"
    if want sign; then
        for t in 1 2 4; do
            for key in rsa2048 p256 ed25519; do
                for impl in $(rotate "$r" raw gnutls p11tls p11tls-gnutls); do
                    run "$r" bench/bench_sign --impl "$impl" --key "$key" --threads "$t" --seconds "$sign_s"
                done
            done
        done
    fi
    if want tls; then
        for alg in rsa ecdsa; do
            for vers in 1.2 1.3; do
                for impl in $(rotate "$r" pem gnutls p11tls); do
                    run "$r" bench/bench_tls --impl "$impl" --alg "$alg" --vers "$vers" --seconds "$tls_s"
                done
            done
        done
    fi
    if want fork; then
        for impl in $(rotate "$r" plain gnutls p11tls); do
            run "$r" bench/bench_fork --test exec --impl "$impl" --iters "$fork_iters"
        done
        for key in rsa2048 p256; do
            for impl in $(rotate "$r" raw gnutls p11tls); do
                run "$r" bench/bench_fork --test gate --impl "$impl" --key "$key" --threads 2 --iters "$fork_iters"
            done
        done
        for rof in false true; do
            for impl in $(rotate "$r" gnutls p11tls); do
                SOFTHSM2_CONF="$work/softhsm2-rof-$rof.conf" BENCH_ROF=$rof \
                    run "$r" bench/bench_fork --test child --impl "$impl" --key p256 --iters "$child_iters"
            done
        done
    fi
done

# Lookup: one process per token size, alternating p11tls and raw itself.
# Each size has its own token and SoftHSM configuration, so that nothing
# else on the module costs time. Tokens with thousands of objects are slow
# to fill, so they are cached in bench/.cache and only ever grow.
if want lookup; then
    for n in ${lookup_sizes//,/ }; do
        cache="$top/bench/.cache/lookup20-$n"
        if [ ! -f "$cache/softhsm2.conf" ]; then
            log "creating the cached $n-object lookup token in $cache (once)"
            mkdir -p "$cache/tokens"
            printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
                "$cache/tokens" >"$cache/softhsm2.conf"
            SOFTHSM2_CONF="$cache/softhsm2.conf" softhsm2-util --init-token --free --label bench-lookup \
                --pin 1234 --so-pin 12345678 >/dev/null
        fi
        log "lookup: $n objects"
        SOFTHSM2_CONF="$cache/softhsm2.conf" run 1 bench/bench_lookup --sizes "$n" --reps "$lookup_reps"
    done
fi

if want mem; then
    log "memory"
    for impl in p11tls gnutls; do
        run 1 bench/bench_mem --test key --impl "$impl" --n 100
    done
    run 1 bench/bench_mem --test session --threads 8 --seconds 0.3
    for rof in false true; do
        for impl in p11tls gnutls; do
            SOFTHSM2_CONF="$work/softhsm2-rof-$rof.conf" BENCH_ROF=$rof \
                run 1 bench/bench_mem --test fork --impl "$impl" --gens "$mem_gens"
        done
    done
fi

# Instructions per signature: callgrind counts instructions, so machine load
# does not matter. Two runs with N and 2N signatures; the difference over N
# excludes start-up and key opening.
if want profile; then
    if command -v valgrind >/dev/null 2>&1; then
        log "profile: instructions per signature (callgrind)"
        instr() {
            ./libtool --mode=execute valgrind --tool=callgrind --callgrind-out-file=/dev/null \
                bench/bench_sign --impl "$1" --key "$2" --ops "$3" 2>&1 |
                sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
        }
        for key in rsa2048 p256 ed25519; do
            case $key in rsa2048) n=20 ;; *) n=200 ;; esac
            for impl in raw gnutls p11tls p11tls-gnutls; do
                a=$(instr "$impl" "$key" "$n") b=$(instr "$impl" "$key" $((2 * n)))
                if [ -n "$a" ] && [ -n "$b" ]; then
                    echo "1,profile,$key,$impl,,$(((b - a) / n)),instructions" >>"$csv"
                else
                    log "FAILED: callgrind $impl $key"
                fi
            done
        done
    else
        log "valgrind not found: no instruction counts"
    fi
fi

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$meta"
log "results: $csv"
report_args=(--csv "$csv" --meta "$meta" --summary "${csv%.csv}-summary.csv")
[ "$doc" = 1 ] && report_args+=(--doc doc/performance.md --plots doc)
python3 bench/report.py "${report_args[@]}"
