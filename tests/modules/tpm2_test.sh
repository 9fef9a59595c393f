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
# gnutls-cli; URIs printed for the token (its model is NUL-padded) name it
# again; generate ec:p256 and rsa:2048 (the module refuses parts of the EC
# template); info lists a P-256 key's one scheme; after fork (doc/modules.md)
# the TPM's lockout counter does not move in any pattern: p11tls does not
# call the module in a child of the process that initialized it (the child
# is told why), a process that never used it forks children that sign,
# serve --workers opens the key in each worker, and through p11-kit server
# children sign; tpm2-pkcs11 failing to initialize beside a SoftHSM token is
# not mentioned by a command for that token, and once by list-tokens.
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

# --- printed URIs name their token (tpm2-pkcs11 pads its model with NULs) ------
"$CLI" list-tokens >"$TMP/tokens.out" 2>&1
token_uri=$(sed -n 's/^	URI: //p' "$TMP/tokens.out" | head -n 1)
"$CLI" list-tokens "$token_uri" >"$TMP/again.out" 2>&1
if [ -n "$token_uri" ] && ! grep -q "%00" "$TMP/tokens.out" &&
   grep -q "Label: p11tls-tpm" "$TMP/again.out" && ! grep -q "warning" "$TMP/again.out"; then
    ok "list-tokens: the URI printed for the token names it again (no %00)"
else
    not_ok "list-tokens: the URI printed for the token names it again (no %00)" "$TMP/tokens.out" "$TMP/again.out"
fi
"$CLI" info "$(key_uri p256)" >"$TMP/info.out" 2>"$TMP/err"
printed=$(sed -n 's/^URI: //p' "$TMP/info.out")
if [ -n "$printed" ] && "$CLI" info "$printed?pin-value=$PIN" >"$TMP/info2.out" 2>"$TMP/err2" &&
   cmp -s "$TMP/info.out" "$TMP/info2.out"; then
    ok "info: the key's printed URI opens the same key"
else
    not_ok "info: the key's printed URI opens the same key" "$TMP/info.out" "$TMP/err" "$TMP/err2"
fi
if grep -q "^Schemes: ecdsa_secp256r1_sha256$" "$TMP/info.out"; then
    ok "info: a P-256 key lists only ecdsa_secp256r1_sha256"
else
    not_ok "info: a P-256 key lists only ecdsa_secp256r1_sha256" "$TMP/info.out"
fi

# --- generate: the token's own template rules --------------------------------
# tpm2-pkcs11 refuses CKA_ENCRYPT=false / CKA_DECRYPT=false on an EC pair
# (its verify and decrypt, sign and encrypt, are one TPM attribute each).
gen() {  # gen TYPE LABEL SCHEME: generate, then sign and verify with the new key
    P11TLS_DEBUG=1 "$CLI" generate "pkcs11:token=p11tls-tpm?pin-value=$PIN" --type "$1" --label "$2" \
        >"$TMP/gen.out" 2>"$TMP/gen.err" &&
    public_key "$(key_uri "$2")" "$TMP/$2.pub" &&
    sign_verify "$(key_uri "$2")" "$TMP/$2.pub" "$3"
}
if gen ec:p256 gen-p256 ecdsa_secp256r1_sha256; then
    ok "generate ec:p256: made, signs, openssl verifies"
else
    not_ok "generate ec:p256: made, signs, openssl verifies" "$TMP/gen.out" "$TMP/gen.err" "$TMP/err"
fi
if grep -q "C_GenerateKeyPair.*without CKA_ENCRYPT=false" "$TMP/gen.err"; then
    ok "generate ec:p256: the debug output says which attributes were left out"
else
    not_ok "generate ec:p256: the debug output says which attributes were left out" "$TMP/gen.err"
fi
if gen rsa:2048 gen-rsa rsa_pss_rsae_sha256 && grep -q "^pkcs11:.*object=gen-rsa" "$TMP/gen.out"; then
    ok "generate rsa:2048: made and kept (its URI parses), signs, openssl verifies"
else
    not_ok "generate rsa:2048: made and kept (its URI parses), signs, openssl verifies" \
        "$TMP/gen.out" "$TMP/gen.err" "$TMP/err"
fi

# --- after fork: 0 TPM lockout strikes in every pattern ------------------------
# tpm2-pkcs11 keeps its TPM session and resource-manager connection in a
# forked child: only the process that initialized it may use it. p11tls
# does not call it in a child of that process (fork_parent status 3: the
# error names the fork limitation); a process that never touched it
# forks children that each initialize it afresh.
fork_parent=${P11TLS_FORK_PARENT:-./tests/fork_parent}
# fork_case NAME KEY-URI PATTERN LINE-REGEX...: fork_parent's lines match,
# and the TPM's lockout counter does not move.
fork_case() {
    local name=$1 key=$2 pattern=$3 before after re good=yes
    shift 3
    before=$(lockouts)
    timeout 200 "$fork_parent" "$key" ecdsa_secp256r1_sha256 "$pattern" >"$TMP/fork.out" 2>"$TMP/fork.err"
    after=$(lockouts)
    sed 's/^/#   /' "$TMP/fork.out"
    for re in "$@"; do grep -q -- "$re" "$TMP/fork.out" || good=no; done
    if [ "$good" = yes ]; then ok "$name"; else not_ok "$name" "$TMP/fork.out" "$TMP/fork.err"; fi
    if [ -n "$before" ] && [ "$before" = "$after" ]; then ok "$name: no TPM lockout strike"
    else not_ok "$name: no TPM lockout strike (counter $before -> $after)"; fi
}
fork_case "fork: the parent signs; its child is refused, saying why; the parent signs on" \
    "$(key_uri p256)" sign-fork "^parent-before=0 " "^child=3$" "^parent-after=0 " "^parent-again=0 "
fork_case "fork: the parent only opened the key; three children in turn are refused; the parent signs" \
    "$(key_uri p256)" open-fork3 "^child1=3$" "^child2=3$" "^child3=3$" "^parent-after=0 "
fork_case "fork: a parent that never used the module forks three children that each sign; then it signs" \
    "$(key_uri p256)" fresh-fork3 "^child1=0$" "^child2=0$" "^child3=0$" "^parent-after=0 "
if [ "${P11TLS_SANITIZER:-}" = asan ]; then
    ok "# SKIP fork 50 times while 2 threads sign: not under ASan (tests/run.sh says why)"
else
    P11TLS_FORK_PARENT_CHILDREN=50 fork_case \
        "fork 50 times while 2 threads sign: every child refused (inherited and fresh key), no thread error" \
        "$(key_uri p256)" threads-fork "^children=50 status3:50$" "^thread-errors=0$" "^parent-after=0 "
fi

# serve --workers 2: each worker opens the key after the fork.
before=$(lockouts)
serve_workers p256 2 ECDSA-SECP256R1-SHA256 "$TMP/p256.crt" "$(key_uri p256)" --cert "$TMP/p256.crt"
after=$(lockouts)
if [ -n "$before" ] && [ "$before" = "$after" ]; then ok "serve --workers 2: no TPM lockout strike"
else not_ok "serve --workers 2: no TPM lockout strike (counter $before -> $after)"; fi

# Through p11-kit server (the fork-safe setup, doc/modules.md): one
# process owns the module, and every process forwards to it.
client_so=$(first_file /usr/lib/*/pkcs11/p11-kit-client.so /usr/lib64/pkcs11/p11-kit-client.so)
export XDG_RUNTIME_DIR=$TMP/run
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
if [ -z "$client_so" ]; then
    ok "# SKIP p11-kit server: p11-kit-client.so not found (install p11-kit-modules)"
elif eval "$(timeout 30 p11-kit server --provider "$tpm2_so" "pkcs11:token=p11tls-tpm" 2>"$TMP/server.log")" &&
   [ -n "${P11_KIT_SERVER_PID:-}" ]; then
    bg_pids+=("$P11_KIT_SERVER_PID")
    export P11TLS_FORK_PARENT_MODULE=$client_so
    fork_case "p11-kit server: the parent signs, its child signs, the parent signs on" \
        "$(key_uri p256)" sign-fork "^parent-before=0 " "^child=0$" "^parent-after=0 " "^parent-again=0 "
    fork_case "p11-kit server: the parent only opened the key; three children in turn sign" \
        "$(key_uri p256)" open-fork3 "^child1=0$" "^child2=0$" "^child3=0$" "^parent-after=0 "
    unset P11TLS_FORK_PARENT_MODULE
    before=$(lockouts)
    serve_workers "p11-kit server: p256" 2 ECDSA-SECP256R1-SHA256 "$TMP/p256.crt" \
        --no-registered --module "$client_so" "$(key_uri p256)" --cert "$TMP/p256.crt"
    after=$(lockouts)
    if [ -n "$before" ] && [ "$before" = "$after" ]; then ok "p11-kit server: serve --workers 2: no TPM lockout strike"
    else not_ok "p11-kit server: serve --workers 2: no TPM lockout strike (counter $before -> $after)"; fi
    kill "$P11_KIT_SERVER_PID" 2>/dev/null
else
    not_ok "p11-kit server: started" "$TMP/server.log"
fi

# --- a module that fails to initialize, beside one that works ------------------
# tpm2-pkcs11 with no TPM to reach (a machine that has it installed and no
# TPM): a command for another module's token says nothing about it; the
# token listing names it once.
softhsm_so=$(. "$(dirname "$0")/../support/softhsm.sh" && find_softhsm_module)
mkdir -p "$TMP/softhsm/tokens"
printf 'directories.tokendir = %s\n' "$TMP/softhsm/tokens" >"$TMP/softhsm/softhsm2.conf"
export SOFTHSM2_CONF=$TMP/softhsm/softhsm2.conf
if [ -z "$softhsm_so" ] || ! command -v softhsm2-util >/dev/null 2>&1; then
    ok "# SKIP a failed module beside a SoftHSM token: SoftHSM not found (install softhsm2)"
elif timeout 30 softhsm2-util --init-token --free --label soft --pin 1234 --so-pin 12345678 >"$TMP/sh.log" 2>&1; then
    dead=swtpm:host=127.0.0.1,port=$(free_port)
    TPM2_PKCS11_TCTI=$dead "$CLI" --module "$softhsm_so" mechanisms "pkcs11:token=soft" \
        >"$TMP/mech.out" 2>"$TMP/mech.err"
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q "CKM_" "$TMP/mech.out" && ! grep -q "^p11tls: warning" "$TMP/mech.err"; then
        ok "a failed module not named by the URI: the command says nothing about it"
    else
        not_ok "a failed module not named by the URI: the command says nothing about it (status $rc)" \
            "$TMP/mech.out" "$TMP/mech.err"
    fi
    TPM2_PKCS11_TCTI=$dead "$CLI" --module "$softhsm_so" list-tokens >"$TMP/lt.out" 2>"$TMP/lt.err"
    if [ "$(grep -c "C_Initialize: CKR_GENERAL_ERROR" "$TMP/lt.out" "$TMP/lt.err" | awk -F: '{s += $2} END {print s}')" -eq 1 ] &&
       grep -q "Label: soft" "$TMP/lt.out"; then
        ok "list-tokens names the failed module once"
    else
        not_ok "list-tokens names the failed module once" "$TMP/lt.out" "$TMP/lt.err"
    fi
else
    not_ok "a SoftHSM token beside the TPM's" "$TMP/sh.log"
fi

finish
