#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# secure_env_test.sh PROGRAM - p11tls reads its environment with
# secure_getenv: in a setuid program an unprivileged user cannot switch on
# its debug output (or anything else it reads from the environment).
#
# 1. No plain getenv() in lib/ (the only variable is P11TLS_DEBUG).
# 2. PROGRAM (tests/setuid/secure_env) with P11TLS_DEBUG=1: a plain copy
#    logs (the control), a setuid copy owned by nobody, started by root, is
#    in secure mode and does not.
# Needs root (to make a setuid copy) and a filesystem without nosuid:
# otherwise check 2 is skipped (exit 77 if nothing could be checked).
set -u
prog=${1:?usage: $0 PROGRAM}
src=${srcdir:-.}
fail=0

if grep -rnE '(^|[^_[:alnum:]])getenv[[:space:]]*\(' "$src/lib" --include='*.cpp' --include='*.hpp'; then
    echo "not ok - plain getenv() in lib/ (use secure_getenv)"
    fail=1
else
    echo "ok - lib/ reads the environment only with secure_getenv"
fi

if [ "${P11TLS_SANITIZER:-}" = tsan ]; then
    # TSan re-executes itself to change its memory layout, which a setuid
    # process may not do; what is tested here does not depend on it.
    echo "SKIP: setuid copy not run under TSan" >&2
    exit $((fail ? 1 : 77))
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: not root: cannot make a setuid copy" >&2
    exit $((fail ? 1 : 77))
fi
# The directory must allow setuid and be reachable by nobody.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/p11tls-setuid.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
cp "$prog" "$tmp/plain"
cp "$prog" "$tmp/setuid"
chown nobody "$tmp/setuid" && chmod 4755 "$tmp/setuid" || exit 99

out=$(P11TLS_DEBUG=1 timeout 10 "$tmp/plain")
if [ "$out" = "at_secure=0 debug=1" ]; then
    echo "ok - plain copy: P11TLS_DEBUG=1 turns debugging on ($out)"
else
    echo "not ok - plain copy: expected at_secure=0 debug=1, got '$out'"
    fail=1
fi
out=$(P11TLS_DEBUG=1 timeout 10 "$tmp/setuid")
case $out in
"at_secure=1 debug=0")
    echo "ok - setuid copy: P11TLS_DEBUG ignored in secure mode ($out)" ;;
"at_secure=0 "*)
    echo "SKIP: $tmp is mounted nosuid: the setuid copy is not in secure mode" >&2
    exit $((fail ? 1 : 77)) ;;
*)
    echo "not ok - setuid copy: expected at_secure=1 debug=0, got '$out'"
    fail=1 ;;
esac
exit "$fail"
