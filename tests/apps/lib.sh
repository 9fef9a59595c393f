# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# lib.sh - shared by the tests of unmodified programs under `p11tls exec`
# (sourced, not run; after tests/cli/lib.sh, whose TAP output, temporary
# directory and bounded waits they use). Needs P11TLS_CLI (the tool) and
# P11TLS_PRELOAD (the build tree's preload object, set by tests/run.sh).

# The sanitizer builds' preload and libp11tls need their runtime loaded
# first, which an uninstrumented program does not do.
if [ -n "${P11TLS_SANITIZER:-}" ]; then
    echo "$(basename "$0"): SKIP: an instrumented preload cannot be loaded into an uninstrumented program ($P11TLS_SANITIZER build)" >&2
    exit 77
fi
[ -r "${P11TLS_PRELOAD:-}" ] || { echo "$(basename "$0"): SKIP: preload object '${P11TLS_PRELOAD:-}' not built" >&2; exit 77; }
export P11TLS_PRELOAD

# A PIN file only its owner can read, for pin-source URIs.
PINFILE=$TMP/pin
printf '%s\n' "$PIN" >"$PINFILE"
chmod 600 "$PINFILE"
KEY_PS="pkcs11:token=$TOKEN;object=p256;type=private;pin-source=file:$PINFILE"
CERT_URL="pkcs11:token=$TOKEN;object=p256;type=cert"

# handshakes PORT N [GNUTLS-CLI-ARGS...]: N gnutls-cli handshakes on PORT,
# each bounded; sets good to the number completed.
handshakes() {
    local port=$1 count=$2 i
    shift 2
    good=0
    for i in $(seq "$count"); do
        if timeout 20 gnutls-cli --x509cafile "$DIR/ca.pem" --port "$port" "$@" localhost \
            </dev/null >"$TMP/cli.out" 2>&1 &&
            grep -q "Handshake was completed" "$TMP/cli.out"; then
            good=$((good + 1))
        fi
    done
}

# stop PID: SIGTERM, then waits up to 10 s.
stop() {
    kill "$1" 2>/dev/null
    wait_pid "$1" 10
}

# listening PID PORT: waits up to 10 s for PID to listen on 127.0.0.1:PORT;
# 1 at once if PID exits.
listening() {
    local hex i
    hex=$(printf '%04X' "$2")
    for i in $(seq 100); do
        grep -q "^ *[0-9]*: [0-9A-F]*:$hex [0-9A-F]*:0000 0A " /proc/net/tcp && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# same_as_doc NAME: ok if the configuration NAME this script writes (its
# here-document between "# BEGIN NAME" and "# END NAME") is the text
# doc/apps.md shows after the line "<!-- tests/apps: NAME -->".
same_as_doc() {
    local doc=${srcdir:-.}/doc/apps.md
    sed -n "/^ *# BEGIN $1 /,/^ *# END $1\$/p" "$0" | sed '1,2d;$d' | sed '$d' >"$TMP/$1.test"
    sed -n "/^<!-- tests\/apps: $1 -->\$/,/^\`\`\`\$/p" "$doc" | sed '1,2d;$d' >"$TMP/$1.doc"
    if [ -s "$TMP/$1.test" ] && cmp -s "$TMP/$1.test" "$TMP/$1.doc"; then
        ok "doc/apps.md shows the $1 this test runs"
    else
        diff "$TMP/$1.doc" "$TMP/$1.test" >"$TMP/$1.diff"
        not_ok "doc/apps.md shows the $1 this test runs" "$TMP/$1.diff"
    fi
}
