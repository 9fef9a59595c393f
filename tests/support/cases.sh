# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# run_cases PROG CASE...: runs "PROG CASE" for each case, one process each
# (bounded), and prints TAP lines; returns non-zero if any case failed.
# For test programs whose cases must start in a fresh process.
run_cases() {
    local prog=$1 c n=0 fails=0
    shift
    for c in "$@"; do
        n=$((n + 1))
        if timeout 60 "$prog" "$c"; then
            echo "ok $n - $c"
        else
            echo "not ok $n - $c"
            fails=$((fails + 1))
        fi
    done
    echo "1..$n"
    [ "$fails" -eq 0 ]
}
