#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# install_after_demo_test.sh SOURCE-REPO WORKDIR - the operator's first hour
# (issue 28), from a clean clone of SOURCE-REPO's HEAD in WORKDIR:
#  1. ./demo.sh (P11TLS_DEMO_SKIP_APT=1: the packages are there) passes and
#     ends with the line to paste, export SOFTHSM2_CONF=.../softhsm2.conf,
#     as README.md's quick start ends; pasted, ./src/p11tls list-tokens
#     shows the demo token;
#  2. from the build tree, ./src/p11tls exec finds the tree's preload;
#  3. ./configure --prefix=WORKDIR/inst && make -j2 && make install in the
#     same tree works, and the installed tool runs with the installed
#     library (not the build tree's), reaches the demo token, uses the
#     installed preload, and pam_p11tls.so is in WORKDIR/inst/lib/security.
# Run by .ci/run, not by make check: it builds the tree twice from
# scratch (minutes on two cores), which make check would repeat in each
# of CI's three builds (plain, ASan, TSan) for nothing the sanitizers add.
# TAP-like output; exit status 0 passed, 1 failed, 77 skipped.
set -u
src=${1:?usage: install_after_demo_test.sh SOURCE-REPO WORKDIR}
work=${2:?usage: install_after_demo_test.sh SOURCE-REPO WORKDIR}
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    local f
    n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
    shift
    for f in "$@"; do [ -s "$f" ] && tail -n 30 "$f" | sed "s|^|#   $(basename "$f"): |"; done
    return 0
}
for tool in git make softhsm2-util gnutls-cli; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found" >&2; exit 77; }
done

rm -rf "$work"
mkdir -p "$work"
git clone -q "$src" "$work/clone" || exit 99
cd "$work/clone" || exit 99

# --- 1. the demo, and the line it ends with ------------------------------------
if P11TLS_DEMO_SKIP_APT=1 timeout 1800 ./demo.sh </dev/null >"$work/demo.log" 2>&1; then
    ok "./demo.sh passes on a clean clone"
else
    not_ok "./demo.sh passes on a clean clone" "$work/demo.log"
fi
last=$(tail -n 1 "$work/demo.log")
want="export SOFTHSM2_CONF=$PWD/demo-token/softhsm2.conf"
if [ "$last" = "$want" ]; then
    ok "the demo ends with the line to paste: $last"
else
    not_ok "the demo ends with the line to paste (got: $last)"
    last=false  # nothing else of it is run below
fi
readme_last=$(sed -n '/^## Quick start/,/^## /p' README.md | grep -v '^```' | grep -v '^## ' |
              grep -v '^$' | tail -n 1)
if [ "$readme_last" = 'export SOFTHSM2_CONF=$PWD/demo-token/softhsm2.conf' ]; then
    ok "README.md's quick start ends with that line"
else
    not_ok "README.md's quick start ends with that line (got: $readme_last)"
fi
# In "the user's shell": the line pasted, nothing else of the demo's.
(eval "$last" && ./src/p11tls list-tokens 'pkcs11:token=p11tls-test') >"$work/tokens.out" 2>&1
if grep -q "Label: p11tls-test" "$work/tokens.out"; then
    ok "pasted, the line makes the demo token reachable: ./src/p11tls list-tokens shows it"
else
    not_ok "pasted, the line makes the demo token reachable" "$work/tokens.out"
fi
if grep -q "it is yours to change" demo-token/README.txt && ! grep -q "Do not modify" demo-token/README.txt; then
    ok "demo-token/README.txt says the token is there to be changed"
else
    not_ok "demo-token/README.txt says the token is there to be changed" demo-token/README.txt
fi

# --- 2. exec from the build tree ------------------------------------------------
env -u P11TLS_PRELOAD ./src/p11tls exec -- env >"$work/exec.out" 2>&1
if grep -qxF "LD_PRELOAD=$(pwd -P)/src/preload/.libs/p11tls-preload.so" "$work/exec.out"; then
    ok "./src/p11tls exec uses the build tree's preload object"
else
    not_ok "./src/p11tls exec uses the build tree's preload object" "$work/exec.out"
fi

# --- 3. configure for another prefix in the same tree, make, make install -----
inst=$work/inst
if (./configure --prefix="$inst" && make -j2 && make install) </dev/null >"$work/install.log" 2>&1; then
    ok "./configure --prefix=DIR && make -j2 && make install after the demo"
else
    not_ok "./configure --prefix=DIR && make -j2 && make install after the demo" "$work/install.log"
fi
# The installed tool, away from the build tree and its wrapper.
(cd / && "$inst/bin/p11tls" --version) >"$work/version.out" 2>&1
if grep -q "^p11tls " "$work/version.out"; then
    ok "the installed p11tls runs"
else
    not_ok "the installed p11tls runs" "$work/version.out"
fi
lib=$(cd / && ldd "$inst/bin/p11tls" 2>/dev/null | sed -n 's/^.*libp11tls\.so\.0 => \([^ ]*\).*/\1/p')
if [ "$lib" = "$inst/lib/libp11tls.so.0" ]; then
    ok "the installed p11tls uses the installed libp11tls.so.0"
else
    not_ok "the installed p11tls uses the installed libp11tls.so.0 (ldd: ${lib:-not found})"
fi
(cd / && eval "$last" && "$inst/bin/p11tls" list-tokens 'pkcs11:token=p11tls-test') >"$work/itokens.out" 2>&1
if grep -q "Label: p11tls-test" "$work/itokens.out"; then
    ok "the installed p11tls reaches the demo token"
else
    not_ok "the installed p11tls reaches the demo token" "$work/itokens.out"
fi
(cd / && env -u P11TLS_PRELOAD "$inst/bin/p11tls" exec -- env) >"$work/iexec.out" 2>&1
if grep -qxF "LD_PRELOAD=$inst/lib/p11tls/p11tls-preload.so" "$work/iexec.out"; then
    ok "the installed p11tls exec uses the installed preload object"
else
    not_ok "the installed p11tls exec uses the installed preload object" "$work/iexec.out"
fi
if [ -f "$inst/lib/security/pam_p11tls.so" ] && [ ! -e "$inst/lib/security/pam_p11tls.la" ]; then
    ok "pam_p11tls.so installed in DIR/lib/security"
else
    not_ok "pam_p11tls.so installed in DIR/lib/security" "$work/install.log"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
