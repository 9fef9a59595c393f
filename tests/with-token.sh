#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# with-token.sh RESET_ON_FORK COMMAND [ARGS...]
#
# Runs one p11tls integration test against a private, throw-away copy of the
# SoftHSM2 test token, so tests can run in parallel (make -j check) and may
# change the token (log in, write objects, lock the PIN) without affecting
# each other or the user's own tokens.
#
# RESET_ON_FORK (true|false) becomes SoftHSM's library.reset_on_fork: with
# "true" SoftHSM forgets all sessions and logins in a forked child, the way
# real smart-card drivers do; with "false" the child inherits them. p11tls
# must work both ways, so every fork test runs under both.
#
# The token template is built once by fixtures/make-token.sh (next to this
# script) in ${P11TLS_TOKEN_TEMPLATE:-$PWD/tests/token-template}; make check
# runs in the build directory, so by default it lands in
# $builddir/tests/token-template. Creation is serialised with flock.
#
# Environment given to COMMAND:
#   SOFTHSM2_CONF              the private softhsm2.conf
#   HOME, XDG_CONFIG_HOME      private; p11-kit sees only SoftHSM (below)
#   P11TLS_TEST_DIR            the private copy: ca.pem, <label>.pem, tokens/
#   P11TLS_TEST_PIN            1234 (user PIN); P11TLS_TEST_SO_PIN 12345678
#   P11TLS_TEST_RESET_ON_FORK  true|false, as given
#   P11TLS_SOFTHSM_MODULE      path of libsofthsm2.so
#   P11TLS_TEST_TOKEN_URI      pkcs11:token=p11tls-test
#   GTEST_FILTER               -*Child.* unless set (see below)
#
# COMMAND runs under timeout(1) (${P11TLS_TEST_TIMEOUT:-600} seconds, then
# SIGKILL 10 s later). Its exit status is ours, so the automake conventions
# hold (77 = skipped, 99 = hard error); problems of this wrapper itself exit
# 77 when SoftHSM/tools are missing and 99 otherwise. The private copy is
# removed on exit unless P11TLS_KEEP_TMP is set.

set -euo pipefail

me=$(basename "$0")

if [ "$#" -lt 2 ]; then
    echo "usage: $0 true|false COMMAND [ARGS...]" >&2
    exit 99
fi
reset_on_fork=$1
# As root, run in a private mount namespace where the host's p11-kit module
# registrations are hidden (see p11kit-isolate.sh).
. "$(dirname "$0")/p11kit-isolate.sh"
p11kit_isolate_reexec "$0" "$@"
shift
case $reset_on_fork in
    true|false) ;;
    *) echo "$me: RESET_ON_FORK must be true or false, not '$reset_on_fork'" >&2
       exit 99 ;;
esac

# --- prerequisites: missing ones skip the test rather than fail it ---------
# shellcheck source=support/softhsm.sh
. "$(dirname "$0")/support/softhsm.sh"
module=$(find_softhsm_module) || module=
if [ -z "$module" ]; then
    echo "$me: SKIP: libsofthsm2.so not found (install softhsm2)" >&2
    exit 77
fi
for tool in softhsm2-util pkcs11-tool p11tool certtool flock timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$me: SKIP: $tool not found" >&2
        exit 77
    fi
done

# --- the shared template, built once ---------------------------------------
template=${P11TLS_TOKEN_TEMPLATE:-$(pwd)/tests/token-template}
template=${template%/}
make_token="$(dirname "$0")/fixtures/make-token.sh"
if [ ! -d "$template/tokens" ] || [ ! -f "$template/ca.pem" ]; then
    mkdir -p "$(dirname "$template")"
    # The lock file sits beside the template (not inside it: make-token.sh
    # wants OUTDIR absent or empty). Parallel tests wait here for the first
    # one to build it; make-token.sh exits at once if it already exists.
    if ! ( flock 9 && bash "$make_token" "$template" ) 9>"$template.lock"; then
        echo "$me: could not build the token template $template" >&2
        exit 99
    fi
fi

# --- a private copy for this test ----------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/p11tls-test.XXXXXX")
child=

# shellcheck disable=SC2317  # called from traps
cleanup() {
    if [ -n "${P11TLS_KEEP_TMP:-}" ]; then
        echo "$me: keeping $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

# If we are interrupted (make killed, ^C), pass the signal on to timeout(1),
# which forwards it to the test, wait for it, then exit so the EXIT trap
# removes the copy. Waiting for a background child (below) rather than
# running it in the foreground lets these traps run at once.
# shellcheck disable=SC2317  # called from traps
on_signal() {
    if [ -n "$child" ]; then
        kill -s "$1" "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    exit $((128 + $2))
}
trap 'on_signal HUP 1' HUP
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM

cp -a "$template/." "$tmp/"
mkdir -p "$tmp/home/.config"

# SoftHSM keeps the token directory path only in this file, so the copied
# token works as is.
cat >"$tmp/softhsm2.conf" <<EOF
directories.tokendir = $tmp/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
library.reset_on_fork = $reset_on_fork
EOF

export SOFTHSM2_CONF="$tmp/softhsm2.conf"
# p11-kit (used by p11tls's default context, GnuTLS and p11tool) must see
# SoftHSM and nothing else the host registers (p11kit-isolate.sh says how).
echo "module: $module" >"$tmp/softhsm2.module"
p11kit_register_only "$tmp" "$tmp/softhsm2.module" || exit 99
export P11TLS_TEST_DIR="$tmp"
export P11TLS_TEST_PIN=1234
export P11TLS_TEST_SO_PIN=12345678
export P11TLS_TEST_RESET_ON_FORK="$reset_on_fork"
export P11TLS_SOFTHSM_MODULE="$module"
export P11TLS_TEST_TOKEN_URI='pkcs11:token=p11tls-test'
# gtest suites named *Child run only in a re-executed child of their test
# (th::run_exec_child, tests/support/helpers.hpp, gives --gtest_filter,
# which overrides this); the normal run leaves them out.
export GTEST_FILTER="${GTEST_FILTER:--*Child.*}"

# --- run the test ----------------------------------------------------------------
# Background + wait (see on_signal). An asynchronous command would get
# /dev/null as stdin; the explicit 0<&0 keeps ours.
status=0
timeout --kill-after=10 "${P11TLS_TEST_TIMEOUT:-600}" "$@" 0<&0 &
child=$!
wait "$child" || status=$?
child=
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "$me: $1 timed out or was killed (status $status)" >&2
fi
exit "$status"
