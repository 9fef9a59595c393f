#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# tpm2_test.sh - tpm2-pkcs11 (libtpm2_pkcs11.so) as a p11tls module, on a
# software TPM: swtpm, and tpm2-abrmd on a private D-Bus bus, all started
# here in private mount, IPC and PID namespaces (so they die with the test;
# needs root). The store (tpm2_ptool) is in a temporary directory; the
# TPM's dictionary-attack lockout is raised to 1000 tries first. The module
# is registered through a p11-kit module file, the only module p11-kit sees
# (p11kit-isolate.sh; installing libtpm2-pkcs11-1 registers it for the
# whole machine).
#
# Checks: list, sign + verify (P-256, RSA-2048 PKCS#1 and PSS), serve +
# gnutls-cli, and the fork behaviour documented in doc/modules.md: a
# child's signature breaks the parent (tpm2-pkcs11 shares its TPM session
# with the child); p11tls says so in the error detail and makes no further
# call, so the TPM's lockout counter rises by 1 only.
# Skipped (77) with the reason if a package is missing or not root.
set -u
me=$(basename "$0")
if [ "$(id -u)" != 0 ]; then
    echo "$me: SKIP: needs root (TPM daemons in private namespaces)" >&2
    exit 77
fi
# shellcheck source=../support/first_file.sh
. "$(dirname "$0")/../support/first_file.sh"
tpm2_so=$(first_file /usr/lib/*/pkcs11/libtpm2_pkcs11.so /usr/lib64/pkcs11/libtpm2_pkcs11.so \
                     /usr/lib/pkcs11/libtpm2_pkcs11.so)
[ -n "$tpm2_so" ] || { echo "$me: SKIP: libtpm2_pkcs11.so not found (install libtpm2-pkcs11-1)" >&2; exit 77; }
ls /usr/lib/*/libtss2-tcti-tabrmd.so.0 >/dev/null 2>&1 ||
    { echo "$me: SKIP: libtss2-tcti-tabrmd.so.0 not found (install libtss2-tcti-tabrmd0)" >&2; exit 77; }
for tool in swtpm tpm2-abrmd dbus-daemon tpm2_ptool tpm2_dictionarylockout tpm2_getcap \
            certtool gnutls-cli openssl python3 unshare timeout; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] ||
        { echo "$me: SKIP: $tool not found (packages: swtpm tpm2-abrmd dbus tpm2-tools libtpm2-pkcs11-tools gnutls-bin)" >&2; exit 77; }
done
PATH=$PATH:/usr/sbin

. "$(dirname "$0")/modlib.sh"
own_namespaces P11TLS_TPM2_NS "$0" "$@"
export P11TLS_ISOLATE_NS=$$
# TSan builds: GLib's reports, seen through the tabrmd TCTI (tsan-glib.supp).
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}suppressions=$(cd "$(dirname "$0")" && pwd)/tsan-glib.supp"
. "$(dirname "$0")/../p11kit-isolate.sh"
export P11TLS_TEST_DIR=/nonexistent  # lib.sh wants it; this suite makes its own files
. "$(dirname "$0")/../cli/lib.sh"

# --- swtpm, a private D-Bus bus, tpm2-abrmd --------------------------------------
mkdir -p "$TMP/tpm" "$TMP/store"
port=$(free_port)
swtpm socket --tpm2 --tpmstate "dir=$TMP/tpm" --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" --flags not-need-init,startup-clear \
    --pid "file=$TMP/swtpm.pid" -d || { echo "$me: swtpm failed to start" >&2; exit 99; }
cat >"$TMP/bus.conf" <<EOC
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$TMP/bus</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
EOC
dbus-daemon --config-file="$TMP/bus.conf" --fork --print-pid >"$TMP/dbus.pid" ||
    { echo "$me: dbus-daemon failed to start" >&2; exit 99; }
export DBUS_SESSION_BUS_ADDRESS="unix:path=$TMP/bus"
tpm2-abrmd --session --allow-root --tcti="swtpm:host=127.0.0.1,port=$port" 2>"$TMP/abrmd.log" &
bg_pids+=("$!")
export TPM2TOOLS_TCTI=tabrmd:bus_type=session
export TPM2_PKCS11_TCTI=tabrmd:bus_type=session
export TPM2_PKCS11_STORE="$TMP/store"
up=no
for i in $(seq 50); do
    timeout 2 tpm2_getcap properties-fixed >"$TMP/getcap.log" 2>&1 && { up=yes; break; }
    sleep 0.1
done
[ "$up" = yes ] || { echo "$me: tpm2-abrmd did not come up" >&2; cat "$TMP/abrmd.log" "$TMP/getcap.log" >&2; exit 99; }
PIN=1234
tpm() { timeout 60 "$@" >>"$TMP/setup.log" 2>&1; }
if ! { tpm tpm2_dictionarylockout --setup-parameters --max-tries=1000 --clear-lockout &&
       tpm tpm2_ptool init --path="$TMP/store" &&
       tpm tpm2_ptool addtoken --path="$TMP/store" --pid=1 --label=p11tls-tpm --sopin=87654321 --userpin="$PIN" &&
       tpm tpm2_ptool addkey --path="$TMP/store" --label=p11tls-tpm --key-label=p256 --userpin="$PIN" --algorithm=ecc256 &&
       tpm tpm2_ptool addkey --path="$TMP/store" --label=p11tls-tpm --key-label=rsa2048 --userpin="$PIN" --algorithm=rsa2048; }; then
    cat "$TMP/setup.log" >&2
    exit 99
fi
printf 'module: %s\n' "$tpm2_so" >"$TMP/tpm2.module"
p11kit_register_only "$TMP/p11" "$TMP/tpm2.module" || exit 99

key_uri() { echo "pkcs11:token=p11tls-tpm;object=$1;type=private;pin-value=$PIN"; }
lockouts() { tpm2_getcap properties-variable 2>/dev/null | sed -n 's/^TPM2_PT_LOCKOUT_COUNTER: *//p'; }

# --- checks -------------------------------------------------------------------
"$CLI" list-tokens >"$TMP/tokens.out" 2>&1
if grep -q "Label: p11tls-tpm" "$TMP/tokens.out"; then ok "list-tokens: the TPM token through the p11-kit registration"
else not_ok "list-tokens: the TPM token through the p11-kit registration" "$TMP/tokens.out"; fi
for s in "p256 ecdsa_secp256r1_sha256" "rsa2048 rsa_pkcs1_sha256" "rsa2048 rsa_pss_rsae_sha256"; do
    set -- $s
    if public_key "$(key_uri "$1")" "$TMP/$1.pub" && sign_verify "$(key_uri "$1")" "$TMP/$1.pub" "$2"; then
        ok "$1: sign $2, openssl verifies"
    else
        not_ok "$1: sign $2, openssl verifies" "$TMP/err" "$TMP/verify"
    fi
done

# serve: a self-signed certificate for the TPM's P-256 key (certtool signs
# through p11-kit, which sees the same registration).
printf 'cn = localhost\ndns_name = localhost\nexpiration_days = 30\ntls_www_server\nsigning_key\n' >"$TMP/cert.tmpl"
if GNUTLS_PIN=$PIN timeout 60 certtool --generate-self-signed --load-privkey "$(key_uri p256)" \
       --template "$TMP/cert.tmpl" --outfile "$TMP/p256.crt" >"$TMP/certtool.log" 2>&1 &&
   start_serve "$TMP/server.out" "$TMP/server.err" "$(key_uri p256)" --cert "$TMP/p256.crt" --count 1; then
    timeout 20 gnutls-cli --x509cafile "$TMP/p256.crt" --port "$port" localhost </dev/null >"$TMP/gnutls.out" 2>&1
    wait_pid "$server_pid" 20
    if grep -q "hello from p11tls" "$TMP/gnutls.out" && [ "$wait_status" -eq 0 ]; then
        ok "p256: serve + gnutls-cli handshake"
    else
        not_ok "p256: serve + gnutls-cli handshake" "$TMP/gnutls.out" "$TMP/server.err"
    fi
else
    not_ok "p256: serve + gnutls-cli handshake (setup)" "$TMP/certtool.log" "$TMP/server.err"
fi

suite_hook "$tpm2_so" p11tls-tpm "$PIN"

# After fork: the child signs, and breaks the parent's TPM session.
before=$(lockouts)
timeout 60 "${P11TLS_FORK_PARENT:-./tests/fork_parent}" "$(key_uri p256)" ecdsa_secp256r1_sha256 \
    >"$TMP/fork.out" 2>"$TMP/fork.err"
after=$(lockouts)
sed 's/^/#   /' "$TMP/fork.out"
if grep -q "^parent-before=0 " "$TMP/fork.out" && grep -q "^child=0$" "$TMP/fork.out"; then
    ok "fork: the parent signs, then a forked child signs"
else
    not_ok "fork: the parent signs, then a forked child signs" "$TMP/fork.out" "$TMP/fork.err"
fi
if grep -q "^parent-after=-14 .*module tpm2 shares its state with forked children" "$TMP/fork.out" &&
   grep -q "^parent-again=-14 .*module tpm2 shares its state with forked children" "$TMP/fork.out"; then
    ok "fork: the parent's next signatures fail, saying the module shares its state with forked children"
else
    not_ok "fork: the parent's next signatures fail, saying the module shares its state with forked children" \
        "$TMP/fork.out"
fi
if [ -n "$before" ] && [ -n "$after" ] && [ $((after - before)) -eq 1 ]; then
    ok "fork: one TPM lockout strike for two failed parent signatures (no further call made)"
else
    not_ok "fork: one TPM lockout strike for two failed parent signatures (counter $before -> $after)"
fi

finish
