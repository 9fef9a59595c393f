#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# exec_test.sh - `p11tls exec` with unmodified programs (doc/apps.md):
# gnutls-serv serving a token key named by a pin-source URI (GnuTLS 3.7.9's
# own PKCS#11 code cannot read pin-source, so a handshake proves p11tls
# served the key; the same command without exec is the control), a
# pin-source readable by others refused with the reason on stderr, and a
# program without GnuTLS that behaves exactly as without exec. Run under
# tests/with-token.sh through tests/run.sh (suite exec). TAP-like output;
# 77 when gnutls-serv or gnutls-cli is missing.
set -u

. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"
need_tools gnutls-serv gnutls-cli timeout

# serve OUT ERR [exec]: gnutls-serv on a free port, through `p11tls exec`
# if asked; sets server_pid and port; 1 if it is not listening in 10 s.
serve() {
    local out=$1 err=$2
    shift 2
    port=$(free_port)
    ${1:+"$CLI" exec --} gnutls-serv --echo --port "$port" --x509certfile "$CERT_URL" \
        --x509keyfile "$KEY_PS" >"$out" 2>"$err" </dev/null &
    server_pid=$!
    bg_pids+=("$server_pid")
    listening "$server_pid" "$port"
}

# 1. The control: GnuTLS's own PKCS#11 code with the pin-source URI.
if serve "$TMP/own.out" "$TMP/own.err" && { handshakes "$port" 1; [ "$good" -eq 1 ]; }; then
    not_ok "without p11tls exec, gnutls-serv cannot use the pin-source URI (control)"
else
    ok "without p11tls exec, gnutls-serv cannot use the pin-source URI (control)"
fi
stop "$server_pid"

# 2. Through p11tls: 20 handshakes.
if serve "$TMP/serv.out" "$TMP/serv.err" exec; then
    handshakes "$port" 20
    if [ "$good" -eq 20 ]; then
        ok "p11tls exec -- gnutls-serv: 20/20 handshakes with the pin-source key"
    else
        not_ok "p11tls exec -- gnutls-serv: $good/20 handshakes" "$TMP/cli.out" "$TMP/serv.err"
    fi
else
    not_ok "p11tls exec -- gnutls-serv listens" "$TMP/serv.out" "$TMP/serv.err"
fi
stop "$server_pid"
if [ -s "$TMP/serv.err" ] && grep -q "p11tls" "$TMP/serv.err"; then
    not_ok "no p11tls output when all is well" "$TMP/serv.err"
else
    ok "no p11tls output when all is well"
fi

# 3. A pin-source readable by others: refused, and the reason reaches
# stderr without P11TLS_DEBUG.
chmod 644 "$PINFILE"
serve "$TMP/bad.out" "$TMP/bad.err" exec
wait_pid "$server_pid" 10
if grep -q "^p11tls: error: .*pin-source is readable by others; refusing to use it" "$TMP/bad.err"; then
    ok "a pin-source readable by others: the reason is on gnutls-serv's stderr"
else
    not_ok "a pin-source readable by others: the reason is on gnutls-serv's stderr" "$TMP/bad.err"
fi
chmod 600 "$PINFILE"

# 4. A program without GnuTLS: same status, same output, no library of ours.
check "p11tls exec -- /bin/true: status 0, no output" \
    test "$("$CLI" exec -- /bin/true 2>&1; echo "status $?")" = "status 0"
check "p11tls exec -- /bin/false: status 1, no output" \
    test "$("$CLI" exec -- /bin/false 2>&1; echo "status $?")" = "status 1"
"$CLI" exec -- cat /proc/self/maps >"$TMP/maps" 2>&1
if grep -q "p11tls-preload.so" "$TMP/maps" && ! grep -Eq "libp11tls|libgnutls|libp11-kit" "$TMP/maps"; then
    ok "a program without GnuTLS loads neither libp11tls nor GnuTLS"
else
    not_ok "a program without GnuTLS loads neither libp11tls nor GnuTLS" "$TMP/maps"
fi
# From the build tree $CLI is libtool's wrapper script, which adds its own.
wrapper='^(_|BIN_SH|DUALCASE|LD_LIBRARY_PATH)='
env | grep -Ev "$wrapper" | LC_ALL=C sort >"$TMP/env.plain"
"$CLI" exec -- env | grep -Ev "$wrapper|^LD_PRELOAD=" | LC_ALL=C sort >"$TMP/env.exec"
check "the environment changes by LD_PRELOAD alone" cmp -s "$TMP/env.plain" "$TMP/env.exec"

"$CLI" exec -- /nonexistent/program 2>"$TMP/notfound.err"
check "a program not found: status 127, as a shell's" test "$?" -eq 127
"$CLI" exec -- 2>/dev/null
check "no program: status 2 (usage)" test "$?" -eq 2


# 5. The chain (doc/apps.md, gnutls-serv): a leaf key on the token under an
# intermediate CA whose certificate is on the token too. Given as a URL,
# gnutls-serv sends the leaf alone (GnuTLS's own issuer lookup; reported,
# not required); given as the file export-chain --pem writes, a client
# that trusts only the root completes the handshake.
need_tools certtool
pki=$TMP/pki
T="pkcs11:token=$TOKEN"
if bash "$(dirname "$0")/../trust/make-pki.sh" "$pki" &&
    "$CLI" --pin-fd 3 generate "$T" --type ec:p256 --label chainleaf 3<<<"$PIN" >/dev/null 2>"$TMP/chain.err" &&
    "$CLI" --pin-fd 3 csr "$T;object=chainleaf;type=private" --subject CN=localhost \
        --dns localhost 3<<<"$PIN" >"$TMP/leaf.csr" 2>>"$TMP/chain.err" &&
    printf 'dns_name = "localhost"\ntls_www_server\nsigning_key\nexpiration_days = 30\n' >"$TMP/leaf.tmpl" &&
    certtool --generate-certificate --load-request "$TMP/leaf.csr" --load-ca-certificate "$pki/inter.pem" \
        --load-ca-privkey "$pki/inter-key.pem" --template "$TMP/leaf.tmpl" \
        --outfile "$TMP/chainleaf.pem" >>"$TMP/chain.err" 2>&1 &&
    "$CLI" --pin-fd 3 import-cert "$T" "$TMP/chainleaf.pem" --label chainleaf 3<<<"$PIN" >/dev/null 2>>"$TMP/chain.err" &&
    "$CLI" --pin-fd 3 import-cert "$T" "$pki/inter.pem" --label chain-inter 3<<<"$PIN" >/dev/null 2>>"$TMP/chain.err" &&
    "$CLI" export-chain --pem "$T;object=chainleaf;type=cert" >"$TMP/chain.pem" 2>>"$TMP/chain.err"; then
    # serve_chain CERTFILE OUT: gnutls-serv under exec with the token key;
    # then one handshake trusting only the root, its output in OUT.
    serve_chain() {
        port=$(free_port)
        "$CLI" exec -- gnutls-serv --echo --port "$port" --x509certfile "$1" \
            --x509keyfile "$T;object=chainleaf;type=private;pin-source=file:$PINFILE" \
            >"$TMP/chain-serv.out" 2>"$TMP/chain-serv.err" </dev/null &
        server_pid=$!
        bg_pids+=("$server_pid")
        listening "$server_pid" "$port" &&
            timeout 20 gnutls-cli --x509cafile "$pki/root.pem" --port "$port" localhost \
                </dev/null >"$2" 2>&1
        local st=$?
        stop "$server_pid"
        return "$st"
    }
    check "export-chain --pem: the leaf and its intermediate" test "$(grep -c 'BEGIN CERTIFICATE' "$TMP/chain.pem")" -eq 2
    if serve_chain "$TMP/chain.pem" "$TMP/chain-cli.out" &&
        grep -q "Handshake was completed" "$TMP/chain-cli.out"; then
        ok "gnutls-serv with export-chain's file: the intermediate sent, a client trusting the root verifies"
    else
        not_ok "gnutls-serv with export-chain's file: the intermediate sent, a client trusting the root verifies" \
            "$TMP/chain-cli.out" "$TMP/chain-serv.err"
    fi
    if serve_chain "$T;object=chainleaf;type=cert" "$TMP/url-cli.out" &&
        grep -q "Handshake was completed" "$TMP/url-cli.out"; then
        echo "# note: this GnuTLS sends the intermediate for a pkcs11: URL too"
    else
        echo "# as doc/apps.md says: with the certificate as a pkcs11: URL the intermediate is not sent"
    fi
else
    not_ok "a leaf under an intermediate on the token (setup)" "$TMP/chain.err"
fi

# 6. Run from the build tree without P11TLS_PRELOAD, the tool finds that
# tree's preload object (doc/apps.md); a tool that is not in a build tree
# and has no installed object says what to do.
if [ -f "${abs_top_builddir:-.}/config.status" ]; then
    env -u P11TLS_PRELOAD "$CLI" exec -- env >"$TMP/env.tree" 2>&1
    want=$(cd "${abs_top_builddir:-.}" && pwd -P)/src/preload/.libs/p11tls-preload.so
    check "from the build tree, exec uses that tree's preload object" \
        grep -qxF "LD_PRELOAD=$want" "$TMP/env.tree"
    printf 'p11tls-print-%%:\n\t@echo $($*)\n' >"$TMP/print.mk"
    installed=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory \
        -C "${abs_top_builddir:-.}" -f Makefile -f "$TMP/print.mk" p11tls-print-pkglibdir)
    installed=${installed:+$installed/p11tls-preload.so}
    real=${abs_top_builddir:-.}/src/.libs/p11tls
    if [ -x "$real" ] && [ -n "$installed" ] && [ ! -e "$installed" ]; then
        mkdir -p "$TMP/elsewhere"
        cp "$real" "$TMP/elsewhere/p11tls"
        env -u P11TLS_PRELOAD LD_LIBRARY_PATH="${abs_top_builddir:-.}/lib/.libs" \
            "$TMP/elsewhere/p11tls" exec -- /bin/true 2>"$TMP/nopreload.err"
        st=$?
        if [ "$st" -eq 1 ] && grep -qF "$installed: No such file or directory" "$TMP/nopreload.err" &&
            grep -q "make install.*P11TLS_PRELOAD" "$TMP/nopreload.err"; then
            ok "outside a build tree, a missing preload object: status 1, and what to do"
        else
            not_ok "outside a build tree, a missing preload object: status 1, and what to do (status $st)" \
                "$TMP/nopreload.err"
        fi
    else
        echo "# skipped the missing-preload check: $installed exists or no $real"
    fi
fi

finish
