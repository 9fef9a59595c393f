#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# run.sh MODE PROGRAM - the test driver of one fuzz target (automake's
# FUZZ_LOG_COMPILER; PROGRAM is tests/fuzz/<name>.fuzz).
#
# MODE replay (ordinary builds): PROGRAM is linked with replay_main.c; run
#   it on every file of tests/fuzz/corpus/<name>/ and crashes/<name>/, so
#   seeds and past crash reproducers are checked by every 'make check'.
# MODE fuzz (./configure --enable-fuzzing): PROGRAM is a libFuzzer binary;
#   fuzz for ${P11TLS_FUZZ_SECONDS:-60} seconds starting from the seeds and
#   reproducers. New inputs go to tests/fuzz/work/<name>/corpus/ in the build
#   tree (never into the source tree); a crash leaves crash-* there, and its
#   file is to be committed to tests/fuzz/crashes/<name>/ once fixed.
#
# Exit status: 0 pass, 1 crash or failure (libFuzzer's own codes, 77 among
# them, must not read as "skipped" to automake), 99 usage error.
set -u

mode=${1:-}
prog=${2:-}
if [ -z "$prog" ] || [ ! -x "$prog" ]; then
    echo "usage: $0 replay|fuzz tests/fuzz/NAME.fuzz" >&2
    exit 99
fi
name=$(basename "$prog" .fuzz)
src=${srcdir:-.}/tests/fuzz
seeds=$src/corpus/$name
crashes=$src/crashes/$name
if [ ! -d "$seeds" ] || [ ! -d "$crashes" ]; then
    echo "$0: $seeds or $crashes is missing (every target has both)" >&2
    exit 99
fi

case $mode in
replay)
    # Bounded: replaying a few hundred small inputs takes well under a second.
    timeout -k 10 300 "$prog" "$seeds" "$crashes"
    rc=$?
    [ "$rc" -eq 0 ] && exit 0
    echo "$name: replay failed (exit status $rc): a seed or reproducer crashes the target" >&2
    exit 1
    ;;
fuzz)
    secs=${P11TLS_FUZZ_SECONDS:-60}
    work=tests/fuzz/work/$name
    rm -rf "$work"
    mkdir -p "$work/corpus"
    # -timeout: one input may take at most 10 s (a hang is a finding too).
    # The first directory receives new inputs; seeds and reproducers are
    # read only. timeout(1) bounds the whole run in case libFuzzer hangs.
    timeout -k 10 $((secs + 120)) "$prog" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/" \
        "$work/corpus" "$seeds" "$crashes" 2>&1 | tee "$work/fuzz.out"
    rc=${PIPESTATUS[0]}
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.out" | tail -n1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.out" | tail -n1)
    found=$(find "$work/corpus" -type f | wc -l)
    echo "fuzz-summary: $name: ${runs:-?} runs in ${secs} s, ${speed:-?} exec/s," \
        "$found new corpus inputs, exit status $rc"
    if [ "$rc" -ne 0 ]; then
        for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
            [ -f "$f" ] && echo "$name: reproducer $f (base64: $(base64 -w0 "$f"))"
        done
        echo "$name: fix the bug, then commit the reproducer to tests/fuzz/crashes/$name/" >&2
        exit 1
    fi
    exit 0
    ;;
*)
    echo "usage: $0 replay|fuzz PROGRAM" >&2
    exit 99
    ;;
esac
