#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# p11-kit trust module suite (tests/modules/trust_test.sh): System Trust,
# then a private instance, each in its own process with only that module
# registered. Fails if either fails; skipped if both are.
export P11TLS_CLI=${P11TLS_CLI:-./src/p11tls}
t=${P11TLS_TEST_TIMEOUT:-300}
rc=0
for phase in system private; do
    s=0
    timeout --kill-after=10 "$t" bash "${srcdir:-.}/tests/modules/trust_test.sh" "$phase" || s=$?
    case $s in
        0) skipped_all=no ;;
        77) ;;
        *) rc=1; skipped_all=no ;;
    esac
done
[ "$rc" -eq 0 ] && [ "${skipped_all:-yes}" = yes ] && exit 77
exit "$rc"
