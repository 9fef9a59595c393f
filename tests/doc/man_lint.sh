#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# man_lint.sh: the manual pages format without a warning, with man-db's
# groff warnings (man --warnings) and, where installed, mandoc -Tlint.
# Exit status: 0 clean, 1 a page has warnings, 77 neither tool installed.
src=${top_srcdir:-${srcdir:-.}}
n=0 fails=0 tools=0
for page in "$src/doc/p11tls.1" "$src/doc/pam_p11tls.8"; do
    if command -v man >/dev/null 2>&1; then
        tools=1 n=$((n + 1))
        out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
              man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
        if [ -z "$out" ]; then echo "ok $n - man --warnings $(basename "$page")"
        else echo "not ok $n - man --warnings $(basename "$page")"; printf '#   %s\n' "$out"; fails=$((fails + 1)); fi
    fi
    if command -v mandoc >/dev/null 2>&1; then
        tools=1 n=$((n + 1))
        out=$(mandoc -Tlint -W all "$page" 2>&1)
        if [ -z "$out" ]; then echo "ok $n - mandoc -Tlint $(basename "$page")"
        else echo "not ok $n - mandoc -Tlint $(basename "$page")"; printf '#   %s\n' "$out"; fails=$((fails + 1)); fi
    fi
done
[ "$tools" = 1 ] || { echo "man_lint.sh: SKIP: neither man nor mandoc installed" >&2; exit 77; }
echo "1..$n"
[ "$fails" -eq 0 ]
