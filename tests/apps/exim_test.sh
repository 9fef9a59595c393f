#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# exim_test.sh - exim 4 (exim4-daemon-light) under `p11tls exec` with the
# configuration doc/apps.md gives (written below from the same text): a
# private configuration, spool and log directory, a free loopback port, run
# as root in the test's own mount namespace (tests/with-token.sh). The key,
# on the token and named by a pin-source URI, is opened in the daemon
# before it forks per connection (seen: the daemon has SoftHSM mapped
# before any connection); 50 STARTTLS sessions with swaks; then the key is
# deleted from the token: the next session fails, and exim's log says so.
# TAP-like output; 77 when exim4, swaks or Net::SSLeay is missing or not
# root.
set -u

. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"
need_tools swaks timeout pkcs11-tool
EXIM=${P11TLS_EXIM:-/usr/sbin/exim4}
[ -x "$EXIM" ] || { echo "exim_test.sh: SKIP: $EXIM not found (install exim4-daemon-light)" >&2; exit 77; }
[ "$(id -u)" = 0 ] || { echo "exim_test.sh: SKIP: exim's daemon runs as root here" >&2; exit 77; }
# swaks only recommends the Perl TLS module it needs for STARTTLS.
perl -MNet::SSLeay -e 1 2>/dev/null ||
    { echo "exim_test.sh: SKIP: swaks cannot STARTTLS without Net::SSLeay (install libnet-ssleay-perl)" >&2; exit 77; }

port=$(free_port)
spool=$TMP/spool
mkdir -p "$spool" "$TMP/log"
key="pkcs11:token=$TOKEN;object=p256;type=private;pin-source=file:$PINFILE"
# exim 4.96 opens a key in the daemon only if it can watch the directory of
# each name (the text before its last '/', relative to the spool directory
# for a pkcs11: URL): doc/apps.md, "exim".
mkdir -p "$spool/${key%/*}"
# BEGIN exim.conf (doc/apps.md)
cat >"$TMP/exim.conf" <<EOC
primary_hostname = p11tls.test
exim_user = root
exim_group = root
spool_directory = $spool
log_file_path = $TMP/log/%slog
keep_environment = SOFTHSM2_CONF : LD_PRELOAD : LD_LIBRARY_PATH : P11TLS_DEBUG
daemon_smtp_ports = $port
local_interfaces = 127.0.0.1
tls_advertise_hosts = *
tls_certificate = $DIR/p256.pem
tls_privatekey = <, $key
acl_smtp_rcpt = accept
begin routers
begin transports
EOC
# END exim.conf
same_as_doc exim.conf

"$CLI" exec -- "$EXIM" -C "$TMP/exim.conf" -bdf >"$TMP/exim.out" 2>"$TMP/exim.err" </dev/null &
exim_pid=$!
bg_pids+=("$exim_pid")
if ! listening "$exim_pid" "$port"; then
    not_ok "exim listens on 127.0.0.1:$port" "$TMP/exim.err" "$TMP/log/mainlog" "$TMP/log/paniclog"
    finish
    exit
fi
ok "p11tls exec -- exim4 -bdf listens on 127.0.0.1:$port"

if grep -q libsofthsm2 "/proc/$exim_pid/maps"; then
    ok "the daemon opened the key before any connection (SoftHSM loaded)"
else
    not_ok "the daemon opened the key before any connection (SoftHSM loaded)" "$TMP/exim.err"
fi

# session: one STARTTLS session, ended after the handshake.
session() {
    timeout 20 swaks --server "127.0.0.1:$port" --tls --quit-after TLS >"$TMP/swaks.out" 2>&1 &&
        grep -q "TLS started" "$TMP/swaks.out"
}
good=0
for i in $(seq 50); do session && good=$((good + 1)); done
if [ "$good" -eq 50 ]; then
    ok "50/50 STARTTLS sessions, each in a child forked by the daemon"
else
    not_ok "$good/50 STARTTLS sessions" "$TMP/swaks.out" "$TMP/exim.err" "$TMP/log/mainlog"
fi

# The key leaves the token: the next child cannot find it again after fork.
pkcs11-tool --module "$P11TLS_SOFTHSM_MODULE" --login --pin "$PIN" --delete-object \
    --type privkey --label p256 >"$TMP/delete.out" 2>&1 ||
    not_ok "delete the key from the token" "$TMP/delete.out"
if session; then
    not_ok "a session without the key fails"
else
    ok "a session without the key fails"
fi
sleep_until_logged() { # exim writes its log after the session ended
    local i
    for i in $(seq 50); do grep -q "TLS error" "$TMP/log/mainlog" && return 0; sleep 0.1; done
    return 1
}
if sleep_until_logged; then
    ok "exim's log reports it: $(grep -m1 'TLS error' "$TMP/log/mainlog" | cut -c21-)"
else
    not_ok "exim's log reports the failed TLS session" "$TMP/log/mainlog"
fi
if grep -q "^p11tls: error: .*is gone from its token" "$TMP/exim.err"; then
    ok "p11tls's reason is on exim's stderr: $(grep -m1 '^p11tls: error' "$TMP/exim.err")"
else
    not_ok "p11tls's reason is on exim's stderr" "$TMP/exim.err"
fi
stop "$exim_pid"
finish
