#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# ocserv_test.sh - ocserv 1.1 under `p11tls exec` with the configuration
# doc/apps.md gives (written below from the same text): foreground, a
# private configuration on a free loopback port, the key on the token named
# by a URI without a PIN and the PIN in ocserv's own key-pin option, which
# reaches p11tls through the PIN callback ocserv sets on the privkey
# (gnutls_privkey_set_pin_function). 20 TLS handshakes with gnutls-cli on
# its port (openconnect is not used: a TLS handshake is what needs the key;
# the VPN session after it does not). Then a wrong key-pin: no handshake,
# and p11tls's reason on ocserv's stderr. TAP-like output; 77 when ocserv
# or gnutls-cli is missing or not root.
set -u

. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"
need_tools ocserv gnutls-cli timeout
[ "$(id -u)" = 0 ] || { echo "ocserv_test.sh: SKIP: ocserv runs as root here" >&2; exit 77; }

# start_ocserv KEY-PIN NAME: ocserv in the foreground (output in
# $TMP/NAME.out and .err); sets oc_pid, port.
start_ocserv() {
    local pin=$1
    port=$(free_port)
    echo "u:*:\$5\$x\$y" >"$TMP/passwd"
    # BEGIN ocserv.conf (doc/apps.md)
    cat >"$TMP/ocserv.conf" <<EOC
listen-host = 127.0.0.1
tcp-port = $port
run-as-user = root
run-as-group = root
socket-file = $TMP/ocserv.sock
pid-file = $TMP/ocserv.pid
use-occtl = false
isolate-workers = false
rate-limit-ms = 0
auth = "plain[passwd=$TMP/passwd]"
server-cert = $DIR/p256.pem
server-key = pkcs11:token=$TOKEN;object=p256;type=private
key-pin = $pin
device = vpns
ipv4-network = 192.168.99.0
ipv4-netmask = 255.255.255.0
EOC
    # END ocserv.conf
    "$CLI" exec -- ocserv -f -c "$TMP/ocserv.conf" >"$TMP/$2.out" 2>"$TMP/$2.err" </dev/null &
    oc_pid=$!
    bg_pids+=("$oc_pid")
    listening "$oc_pid" "$port"
}

same_as_doc ocserv.conf
if start_ocserv "$PIN" good; then
    handshakes "$port" 20
    if [ "$good" -eq 20 ]; then
        ok "p11tls exec -- ocserv -f: 20/20 handshakes, the PIN from key-pin"
    else
        not_ok "p11tls exec -- ocserv -f: $good/20 handshakes" "$TMP/cli.out" "$TMP/good.err"
    fi
else
    not_ok "ocserv listens" "$TMP/good.out" "$TMP/good.err"
fi
stop "$oc_pid"

start_ocserv "${PIN}9" wrong
handshakes "$port" 1
if [ "$good" -eq 0 ]; then ok "a wrong key-pin: no handshake"; else not_ok "a wrong key-pin: no handshake"; fi
if grep -q "^p11tls: error: .*CKR_PIN_INCORRECT" "$TMP/wrong.err"; then
    ok "a wrong key-pin: p11tls's reason on ocserv's stderr"
else
    not_ok "a wrong key-pin: p11tls's reason on ocserv's stderr" "$TMP/wrong.err"
fi
stop "$oc_pid"
finish
