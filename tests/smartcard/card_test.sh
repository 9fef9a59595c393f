#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# card_test.sh - p11tls through OpenSC's opensc-pkcs11.so on a smart card in
# a reader, the card stack of tests/smartcard/card_env.sh (a private pcscd,
# the vsmartcard-vpcd reader driver, QEMU's libcacard CAC card behind the
# bridge tests/smartcard/vcacard), with OpenSC the only module p11-kit
# registers (p11kit-isolate.sh):
#
#   - p11tls list-tokens, sign (verified with openssl), serve + gnutls-cli;
#   - pam_p11tls: login with the card's certificate authorized; a wrong PIN
#     refused, costing exactly one try of the card's retry counter; wait=
#     with the card inserted 2 s after the authentication began;
#   - pam_p11 (libpam-p11) and pam_p11tls in one pamtester process, both
#     orders, and a process that authenticates twice (pam_start to pam_end)
#     with both, where pam_p11's C_Finalize comes between;
#   - tests/smartcard/card_hotplug: a long-lived process through a card
#     pulled out and put back, p11tls_ctx_wait_for_token, pcscd restarted,
#     two look-alike cards (the figures of issue 31 are asserted there).
#
# Runs in private mount, IPC and PID namespaces (so it needs root): pcscd
# and the card bridges die with it. Skipped (77) with the reason where a
# package or root is missing; the PAM parts are skipped in sanitizer builds
# (pamtester cannot load a sanitized module), the pam_p11 part where
# libpam-p11 is missing.
set -u
me=$(basename "$0")
skip() { echo "$me: SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (pcscd in a mount namespace of its own)"
src=$(cd "$(dirname "$0")" && pwd)
builddir=${abs_top_builddir:-$PWD}
vcacard=$builddir/tests/smartcard/vcacard
hotplug=$builddir/tests/smartcard/card_hotplug
[ -x "$vcacard" ] || skip "tests/smartcard/vcacard not built (install libcacard-dev, configure again)"
[ -x "$hotplug" ] || skip "tests/smartcard/card_hotplug not built"
[ -x /usr/sbin/pcscd ] || skip "pcscd not installed"
[ -f /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] || skip "vsmartcard-vpcd not installed"
# shellcheck source=../support/first_file.sh
. "$src/../support/first_file.sh"
opensc=$(first_file /usr/lib/*/opensc-pkcs11.so /usr/lib/*/pkcs11/opensc-pkcs11.so /usr/lib64/opensc-pkcs11.so)
[ -n "$opensc" ] || skip "opensc-pkcs11.so not found (install opensc-pkcs11)"
# shellcheck source=../support/softhsm.sh
. "$src/../support/softhsm.sh"
softhsm=$(find_softhsm_module) || skip "libsofthsm2.so not found (install softhsm2)"
for tool in opensc-tool pkcs11-tool softhsm2-util modutil openssl gnutls-cli unshare timeout python3; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool not found"
done

# Own namespaces (p11kit_isolate_reexec then sees us as isolated already).
. "$src/../modules/modlib.sh"
[ "${P11TLS_ISOLATE_NS:-}" = "$$" ] || own_namespaces P11TLS_CARD_NS "$0" "$@"
export P11TLS_ISOLATE_NS=$$
. "$src/../p11kit-isolate.sh"
export P11TLS_TEST_DIR=/nonexistent  # lib.sh wants it; this suite makes its own files
. "$src/../cli/lib.sh"
bg_pids=()
# Every run of the tool bounded (a card stack that stops answering fails a
# check rather than the suite's timeout).
printf '#!/bin/sh\nexec timeout 60 %s "$@"\n' "$(cd "$(dirname "$CLI")" && pwd)/$(basename "$CLI")" >"$TMP/p11tls"
chmod +x "$TMP/p11tls"
CLI=$TMP/p11tls

# --- the stack ----------------------------------------------------------------
# Two consecutive free TCP ports below the ephemeral range (vpcd's readers
# 0 and 1 listen on them, on every address).
port0=$(python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randrange(20000, 32000, 2)
    try:
        for q in (p, p + 1):
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", q)); s.close()
        print(p); break
    except OSError:
        pass
EOF
)
[ -n "$port0" ] || { echo "$me: no free port pair" >&2; exit 99; }
export CARD_DIR=$TMP/card CARD_PORT=$port0 CARD_MODULE=$opensc P11TLS_VCACARD=$vcacard \
    P11TLS_SOFTHSM_MODULE=$softhsm
export CARD_ENV_CMD="bash $src/card_env.sh"
stack() { $CARD_ENV_CMD "$@" >>"$TMP/stack.log" 2>&1; }
# shellcheck source=../support/bounded.sh
. "$src/../support/bounded.sh"
# after_hang STATUS: a step that ran out of time (124) leaves the daemons of
# the stack in the state the report shows; they are started afresh, so that
# the steps after it test p11tls again rather than time out in turn.
after_hang() {
    [ "$1" -eq 124 ] || return 0
    echo "# a step ran out of time: where every thread was is in hang.txt above; restarting the card stack"
    stack stop
    stack start || echo "# the card stack did not start again"
}
cleanup_stack() { $CARD_ENV_CMD stop >/dev/null 2>&1; cleanup; }
trap cleanup_stack EXIT
t0=$(date +%s%N)
if ! stack start; then
    sed 's/^/# /' "$TMP/stack.log" "$CARD_DIR"/log/* 2>/dev/null
    echo "$me: the card stack did not start" >&2
    exit 99
fi
echo "# card stack up in $((($(date +%s%N) - t0) / 1000000)) ms (pcscd, reader ports $port0 and $((port0 + 1)))"
# shellcheck disable=SC1091
. "$CARD_DIR/env"
printf 'module: %s\n' "$opensc" >"$TMP/opensc.module"
p11kit_register_only "$TMP/p11" "$TMP/opensc.module" || exit 99

label_uri=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$CARD_LABEL")
TOKEN_URI="pkcs11:token=$label_uri"
KEY="$TOKEN_URI;type=private"
CERT="$TOKEN_URI;type=cert"
printf '%s\n' "$CARD_PIN" >"$TMP/pin"
chmod 600 "$TMP/pin"

# --- the tool ------------------------------------------------------------------
if "$CLI" list-tokens >"$TMP/tokens" 2>&1 &&
   grep -q "Label: $CARD_LABEL" "$TMP/tokens" && grep -q "Module: opensc" "$TMP/tokens" &&
   grep -q "Serial: 000058bd002c19b5" "$TMP/tokens"; then
    ok "list-tokens: the card, through OpenSC"
else
    not_ok "list-tokens: the card, through OpenSC" "$TMP/tokens"
fi
openssl x509 -in "$CARD_A_CERT" -pubkey -noout >"$TMP/pub.pem"
for scheme in rsa_pkcs1_sha256 rsa_pss_rsae_sha256; do
    if sign_verify "$KEY;pin-source=file:$TMP/pin" "$TMP/pub.pem" "$scheme"; then
        ok "sign $scheme on the card, openssl verifies with the card's certificate"
    else
        not_ok "sign $scheme on the card, openssl verifies with the card's certificate" "$TMP/err" "$TMP/verify"
    fi
done
if start_serve "$TMP/serve.out" "$TMP/serve.err" "$KEY" --cert "$CERT" --count 1 --pin-fd 3 3<"$TMP/pin"; then
    if echo hello | timeout 20 gnutls-cli --x509cafile "$CARD_A_CERT" --port "$port" localhost \
        >"$TMP/gnutls.out" 2>&1 && grep -q "Handshake was completed" "$TMP/gnutls.out"; then
        ok "serve with the card's key and certificate: gnutls-cli completes a verified handshake"
    else
        not_ok "serve with the card's key and certificate: gnutls-cli completes a verified handshake" \
            "$TMP/gnutls.out" "$TMP/serve.err"
    fi
    wait_pid "$server_pid" 10
else
    not_ok "serve with the card's key: listening" "$TMP/serve.out" "$TMP/serve.err"
fi

# --- PAM ---------------------------------------------------------------------------
modso=$builddir/src/pam/.libs/pam_p11tls.so
wrapper=$(first_file /usr/lib/*/libpam_wrapper.so /usr/lib64/libpam_wrapper.so /usr/lib/libpam_wrapper.so)
pam_p11=$(first_file /lib/*/security/pam_p11.so /usr/lib/*/security/pam_p11.so)
if [ -n "${P11TLS_SANITIZER:-}" ]; then
    echo "# PAM parts skipped: pamtester cannot load the $P11TLS_SANITIZER build's module"
elif [ ! -f "$modso" ] || [ -z "$wrapper" ] || ! command -v pamtester >/dev/null; then
    echo "# PAM parts skipped: pam_p11tls.so, pam_wrapper or pamtester missing"
else
    # A user of the test's own, its home in $TMP (pam_p11 reads
    # ~/.eid/authorized_certificates): a private /etc/passwd, in this mount
    # namespace only.
    user=p11tlscard
    mkdir -p "$TMP/home/.eid" "$TMP/pam.d"
    cp /etc/passwd "$TMP/passwd"
    echo "$user:x:47110:47110:p11tls card test:$TMP/home:/bin/false" >>"$TMP/passwd"
    mount --bind "$TMP/passwd" /etc/passwd || exit 99
    cp "$CARD_A_CERT" "$TMP/home/.eid/authorized_certificates"
    cp "$CARD_A_CERT" "$TMP/authorized"
    svc=p11tls-card-$$
    p11tls_line() { echo "auth required $modso uri=$CERT authorized=$TMP/authorized $*"; }
    pam() { # pam INPUT [OPERATIONS...]: pamtester, log in $TMP/pam.log
        local input=$1
        shift
        [ "$#" -gt 0 ] || set -- authenticate
        rm -f "$TMP/hang.txt"
        printf '%s' "$input" | bounded 60 "$TMP/hang.txt" env LD_PRELOAD="$wrapper" PAM_WRAPPER=1 \
            PAM_WRAPPER_SERVICE_DIR="$TMP/pam.d" PAM_WRAPPER_DEBUGLEVEL=2 \
            pamtester -v "$svc" "$user" "$@" >"$TMP/pam.log" 2>&1
        local st=$?
        [ -s "$TMP/hang.txt" ] && cat "$TMP/hang.txt" >>"$TMP/pam.log"
        return "$st"
    }
    tries() { $CARD_ENV_CMD tries a 2>>"$TMP/stack.log"; }

    p11tls_line >"$TMP/pam.d/$svc"
    if pam "$CARD_PIN"$'\n' && grep -q "successfully authenticated" "$TMP/pam.log"; then
        ok "pam_p11tls: login with the card's certificate authorized"
    else
        not_ok "pam_p11tls: login with the card's certificate authorized" "$TMP/pam.log"
    fi
    before=$(tries)
    pam "999999"$'\n'
    st=$?
    after=$(tries)
    if [ "$st" -ne 0 ] && grep -q "wrong PIN" "$TMP/pam.log" && [ "$before" = 3 ] && [ "$after" = 2 ]; then
        ok "pam_p11tls: a wrong PIN is refused and costs exactly one try (card's counter $before -> $after)"
    else
        not_ok "pam_p11tls: a wrong PIN is refused and costs exactly one try (card's counter $before -> $after, status $st)" \
            "$TMP/pam.log"
    fi
    if pam "$CARD_PIN"$'\n' && [ "$(tries)" = 3 ]; then
        ok "pam_p11tls: the right PIN then logs in, and the card's counter is back to 3"
    else
        not_ok "pam_p11tls: the right PIN then logs in, and the card's counter is back to 3 ($(tries))" "$TMP/pam.log"
    fi

    # wait=: no card when the authentication begins; it is inserted 2 s
    # after pam_p11tls says it waits.
    stack remove a
    p11tls_line wait=20 >"$TMP/pam.d/$svc"
    printf '%s\n' "$CARD_PIN" >"$TMP/pam.in"
    LD_PRELOAD=$wrapper PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$TMP/pam.d" PAM_WRAPPER_DEBUGLEVEL=2 \
        timeout 60 pamtester -v "$svc" "$user" authenticate <"$TMP/pam.in" >"$TMP/pam.log" 2>&1 &
    pam_pid=$!
    # (its syslog line: the prompt, on pamtester's buffered stdout, comes at exit)
    for _ in $(seq 300); do grep -q "waiting up to 20 s for a token" "$TMP/pam.log" && break; sleep 0.1; done
    sleep 2
    stack insert a
    wait "$pam_pid"
    st=$?
    if [ "$st" -eq 0 ] && grep -q "Please insert your token (waiting up to 20 seconds)" "$TMP/pam.log"; then
        ok "pam_p11tls wait=20: no card at first, inserted 2 s later: authenticated"
    else
        not_ok "pam_p11tls wait=20: no card at first, inserted 2 s later: authenticated (status $st)" "$TMP/pam.log" \
            "$TMP/stack.log"
    fi

    if [ -z "$pam_p11" ]; then
        echo "# pam_p11 parts skipped: pam_p11.so not found (install libpam-p11)"
    else
        # Both modules in one stack, in one pamtester process that
        # authenticates twice. pam_p11tls checks its PIN on the token
        # whoever logged it in (P11TLS_KEY_OPEN_VERIFY_PIN).
        for order in p11tls-first p11-first; do
            if [ "$order" = p11tls-first ]; then
                { p11tls_line; echo "auth required $pam_p11 $opensc"; } >"$TMP/pam.d/$svc"
            else
                { echo "auth required $pam_p11 $opensc"; p11tls_line; } >"$TMP/pam.d/$svc"
            fi
            pam "$(printf '%s\n' "$CARD_PIN" "$CARD_PIN" "$CARD_PIN" "$CARD_PIN")" authenticate authenticate
            st=$?
            if [ "$st" -eq 0 ] && [ "$(grep -c 'successfully authenticated' "$TMP/pam.log")" = 2 ] &&
               [ "$(grep -c 'Found CAC ID Certificate' "$TMP/pam.log")" = 2 ]; then
                ok "pam_p11 and pam_p11tls in one stack ($order): two authentications in one pamtester process"
            else
                not_ok "pam_p11 and pam_p11tls in one stack ($order): two authentications in one pamtester process (status $st)" \
                    "$TMP/pam.log"
            fi
        done
        # pam_p11 first, right PIN; pam_p11tls after it, a wrong one: the
        # token is logged in (by pam_p11), and pam_p11tls still has it check
        # the PIN given to it.
        pam "$(printf '%s\n' "$CARD_PIN" 999999)"
        st=$?
        if [ "$st" -ne 0 ] && grep -q "wrong PIN" "$TMP/pam.log"; then
            ok "pam_p11 then pam_p11tls: a wrong PIN for pam_p11tls is refused, though pam_p11 logged the token in"
        else
            not_ok "pam_p11 then pam_p11tls: a wrong PIN for pam_p11tls is refused (status $st)" "$TMP/pam.log"
        fi
        # Two logins in one process, each from pam_start to pam_end, as a
        # login daemon does: pam_p11 finalizes the module at its pam_end,
        # under pam_p11tls.
        { p11tls_line; echo "auth required $pam_p11 $opensc"; } >"$TMP/pam.d/$svc"
        rm -f "$TMP/hang.txt"
        printf '%s\n' "$CARD_PIN" "$CARD_PIN" "$CARD_PIN" "$CARD_PIN" | bounded 60 "$TMP/hang.txt" \
            env LD_PRELOAD="$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$TMP/pam.d" \
            PAM_WRAPPER_DEBUGLEVEL=2 "$builddir/tests/smartcard/pam_logins" "$svc" "$user" 2 >"$TMP/pam.log" 2>&1
        st=$?
        [ -s "$TMP/hang.txt" ] && cat "$TMP/hang.txt" >>"$TMP/pam.log"
        if [ "$st" -eq 0 ] && [ "$(grep -c '^login [12]: PAM_SUCCESS' "$TMP/pam.log")" = 2 ]; then
            ok "pam_p11tls then pam_p11, two logins in one process: pam_p11's C_Finalize between them does not break the second"
        else
            not_ok "pam_p11tls then pam_p11, two logins in one process (status $st)" "$TMP/pam.log"
            after_hang "$st"
        fi
    fi
fi

# --- a long-lived process ----------------------------------------------------------
for c in hotplug wait pcscd two-cards; do
    echo "# card_hotplug $c"
    rm -f "$TMP/hang.txt"
    bounded 90 "$TMP/hang.txt" "$hotplug" "$c" >"$TMP/hotplug.out" 2>"$TMP/hotplug.err" </dev/null
    st=$?
    while IFS= read -r line; do
        case $line in
            "ok - "*) ok "$c: ${line#ok - }" ;;
            "not ok - "*) not_ok "$c: ${line#not ok - }" ;;
        esac
    done <"$TMP/hotplug.out"
    [ "$st" -eq 0 ] || not_ok "card_hotplug $c exited $st" "$TMP/hotplug.err" "$TMP/stack.log" "$TMP/hang.txt"
    after_hang "$st"
    # Each case leaves card a in reader 0.
    [ "$(cat "$CARD_DIR/card-a.reader" 2>/dev/null)" = 0 ] || stack card-start a 0
done
finish
