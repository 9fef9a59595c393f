#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# card_env.sh: the smart-card test stack, from Debian 12 packages and one
# test program (tests/smartcard/vcacard.c):
#
#   opensc-pkcs11.so --PC/SC--> a private pcscd (own socket, own mount
#   namespace) --vpcd reader driver (vsmartcard-vpcd, TCP 127.0.0.1:PORT)-->
#   vcacard (libcacard's CAC card) --NSS--> a SoftHSM token holding the
#   card's RSA-2048 key and certificate
#
# pcscd's reader configuration makes two readers, "Virtual PCD 00 00" (TCP
# port $CARD_PORT) and "Virtual PCD 00 01" ($CARD_PORT + 1). There are two
# cards, a and b, each with its own key and certificate; both have the same
# token label (the certificate's CN) and, as every libcacard card, the same
# serial number: only their keys tell them apart. A card is put into a
# reader by starting a vcacard for it on that reader's port, pulled out and
# put back by signals to it. Every command returns once pcscd sees the change
# (bounded waits, 10 s), or fails.
#
# Usage (as root: pcscd runs in a mount namespace of its own):
#   card_env.sh start          tokens, certificates, pcscd, card a in reader 0
#   card_env.sh card-start C R put card C (a|b) into reader R (0|1) (a new vcacard)
#   card_env.sh card-stop C    take card C out by stopping its vcacard
#   card_env.sh remove C       pull card C out (SIGUSR1; vcacard goes on)
#   card_env.sh insert C       put it back in its reader (SIGUSR2)
#   card_env.sh pcscd-stop | pcscd-start
#   card_env.sh wait-present R | wait-absent R
#   card_env.sh tries C        card C's PIN retry counter, as the card answers
#                              a VERIFY without data (it must be in a reader)
#   card_env.sh stop           stops what start started (by PID), removes $CARD_DIR
#
# "start" writes $CARD_DIR/env, to be sourced: PCSCLITE_CSOCK_NAME (the
# private pcscd's socket; without it libpcsclite asks the system's pcscd),
# OPENSC_CONF, CARD_MODULE, CARD_PIN, CARD_LABEL, CARD_A_CERT, CARD_B_CERT.
#
# Environment: CARD_DIR (required: a directory of the caller's), CARD_PORT
# (default 27963; below Linux's ephemeral port range, 32768, or an outgoing
# connection's port can take it), P11TLS_VCACARD (the built vcacard),
# CARD_DEBUG=1 (pcscd --debug --apdu, vcacard -vv; logs in $CARD_DIR/log).
set -euo pipefail

DIR=${CARD_DIR:?CARD_DIR must be set}
PORT=${CARD_PORT:-27963}
PIN=123456
SOPIN=87654321
CN="p11tls smart card"
MODULE=${CARD_MODULE:-}
SOFTHSM=${P11TLS_SOFTHSM_MODULE:-}
VCACARD=${P11TLS_VCACARD:-}

log() { echo "card_env: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# alive = exists and is not a zombie (an exited daemon can stay a zombie
# until it is reaped; kill -0 succeeds on one)
pid_alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    case "$(ps -o stat= -p "$1" 2>/dev/null)" in Z* | "") return 1 ;; esac
}

# stop_pid PIDFILE: TERM, then KILL after 5 s
stop_pid() {
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do pid_alive "$pid" || break; sleep 0.1; done
        pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
}

pcsc() { PCSCLITE_CSOCK_NAME=$DIR/run/pcscd.comm OPENSC_CONF=$DIR/opensc.conf "$@"; }

# reader_state R: present|absent|error, as pcscd sees reader R
reader_state() {
    local out
    out=$(pcsc opensc-tool --list-readers 2>/dev/null) || { echo error; return; }
    if echo "$out" | grep -qE "^$1 +Yes"; then echo present; else echo absent; fi
}

wait_state() { # wait_state R present|absent
    for _ in $(seq 100); do
        [ "$(reader_state "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

reader_of() { cat "$DIR/card-$1.reader" 2>/dev/null || die "card $1 is in no reader"; }

# make_card C: card C's SoftHSM token (key + self-signed certificate) and
# the NSS database through which libcacard reaches it.
make_card() {
    local c=$1 d=$DIR/card-$1
    mkdir -p "$d/tokens" "$d/nssdb"
    cat >"$d/softhsm2.conf" <<EOF
directories.tokendir = $d/tokens
objectstore.backend = file
slots.removable = true
log.level = ERROR
EOF
    # libcacard mirrors removable slots only (use_hw=removable).
    SOFTHSM2_CONF=$d/softhsm2.conf softhsm2-util --init-token --free --label "card-$c" \
        --so-pin "$SOPIN" --pin "$PIN" >/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/key.pem" -out "$DIR/card-$c.pem" \
        -days 3650 -subj "/CN=$CN/O=p11tls test card $c" \
        -addext keyUsage=critical,digitalSignature,keyEncipherment -addext subjectAltName=DNS:localhost 2>/dev/null
    openssl x509 -in "$DIR/card-$c.pem" -outform DER -out "$d/cert.der"
    openssl pkcs8 -topk8 -nocrypt -in "$d/key.pem" -out "$d/key.p8"
    SOFTHSM2_CONF=$d/softhsm2.conf softhsm2-util --import "$d/key.p8" --token "card-$c" \
        --label key --id 01 --pin "$PIN" >/dev/null
    SOFTHSM2_CONF=$d/softhsm2.conf pkcs11-tool --module "$SOFTHSM" --token-label "card-$c" \
        --login --pin "$PIN" --write-object "$d/cert.der" --type cert --id 01 --label key >/dev/null 2>&1
    rm -f "$d/key.p8" "$d/key.pem"
    modutil -create -dbdir "sql:$d/nssdb" -force >/dev/null
    modutil -add SoftHSM -dbdir "sql:$d/nssdb" -libfile "$SOFTHSM" -force >/dev/null 2>&1
}

card_start() { # card_start C R
    local c=$1 r=$2 extra=(-v)  # -v: each PIN verification logged (card_hotplug.c counts them)
    [ "${CARD_DEBUG:-0}" = 1 ] && extra=(-vv)
    pid_alive "$(cat "$DIR/card-$c.pid" 2>/dev/null)" && die "card $c: vcacard already running"
    [ "$(reader_state "$r")" = absent ] || die "reader $r is not empty"
    SOFTHSM2_CONF=$DIR/card-$c/softhsm2.conf "$VCACARD" -d "$DIR/card-$c/nssdb" -p $((PORT + r)) \
        -s "$DIR/card-$c.tries" "${extra[@]}" </dev/null >>"$DIR/log/vcacard-$c.log" 2>&1 &
    echo $! >"$DIR/card-$c.pid"
    echo "$r" >"$DIR/card-$c.reader"
    wait_state "$r" present || die "card $c not in reader $r 10 s after vcacard started ($DIR/log/vcacard-$c.log)"
}

card_stop() {
    local r
    r=$(reader_of "$1")
    stop_pid "$DIR/card-$1.pid"
    rm -f "$DIR/card-$1.reader"
    wait_state "$r" absent || die "reader $r still has a card"
}

card_signal() { # card_signal C SIG STATE
    local pid r
    pid=$(cat "$DIR/card-$1.pid" 2>/dev/null) || die "card $1: no vcacard"
    pid_alive "$pid" || die "card $1: vcacard (pid $pid) not running"
    r=$(reader_of "$1")
    kill "-$2" "$pid"
    wait_state "$r" "$3" || die "reader $r: card $1 not $3 after SIG$2"
}

pcscd_start() {
    local dbg=""
    [ "${CARD_DEBUG:-0}" = 1 ] && dbg="--debug --apdu"
    # pcscd 1.9.9 has no option for its socket (it ignores
    # PCSCLITE_CSOCK_NAME; only the client library reads it) and writes
    # /run/pcscd: it runs in a mount namespace where a tmpfs covers /run and
    # $DIR/run is /run/pcscd. unshare and sh exec: $! is pcscd.
    unshare --mount --propagation private sh -c "
        mount -t tmpfs -o mode=755 card-run /run &&
        mkdir /run/pcscd &&
        mount --bind '$DIR/run' /run/pcscd &&
        exec /usr/sbin/pcscd --foreground $dbg --config '$DIR/reader.conf.d'" \
        </dev/null >>"$DIR/log/pcscd.log" 2>&1 &
    echo $! >"$DIR/pcscd.pid"
    for _ in $(seq 100); do
        [ -S "$DIR/run/pcscd.comm" ] && break
        pid_alive "$(cat "$DIR/pcscd.pid")" || die "pcscd exited ($DIR/log/pcscd.log)"
        sleep 0.1
    done
    [ -S "$DIR/run/pcscd.comm" ] || die "pcscd's socket did not appear"
    # A vpcd that cannot listen (port taken) leaves pcscd without the reader.
    for _ in $(seq 50); do
        pcsc opensc-tool --list-readers 2>/dev/null | grep -q 'Virtual PCD 00 01' && return 0
        sleep 0.1
    done
    die "no vpcd readers: port $PORT or $((PORT + 1)) taken? ($DIR/log/pcscd.log)"
}

pcscd_stop() {
    stop_pid "$DIR/pcscd.pid"
    rm -f "$DIR/run/pcscd.comm"
}

cmd_start() {
    [ -n "$VCACARD" ] && [ -x "$VCACARD" ] || die "P11TLS_VCACARD: no vcacard program"
    [ -n "$SOFTHSM" ] || die "P11TLS_SOFTHSM_MODULE not set"
    [ -n "$MODULE" ] || die "CARD_MODULE not set (opensc-pkcs11.so)"
    [ -e "$DIR/pcscd.pid" ] && die "$DIR is in use (stop first)"
    mkdir -p "$DIR"/{run,log,reader.conf.d}
    make_card a
    make_card b
    # Every virtual card has the same ATR and serial: OpenSC must not serve
    # one card's files from its cache for another.
    cat >"$DIR/opensc.conf" <<EOF
app default {
    framework pkcs15 {
        use_file_caching = false;
    }
}
EOF
    cat >"$DIR/reader.conf.d/vpcd" <<EOF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:$PORT
LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so
CHANNELID    $PORT
EOF
    pcscd_start
    card_start a 0
    cat >"$DIR/env" <<EOF
export PCSCLITE_CSOCK_NAME='$DIR/run/pcscd.comm'
export OPENSC_CONF='$DIR/opensc.conf'
export CARD_MODULE='$MODULE'
export CARD_PIN='$PIN'
export CARD_LABEL='$CN'
export CARD_A_CERT='$DIR/card-a.pem'
export CARD_B_CERT='$DIR/card-b.pem'
EOF
}

cmd_tries() { # the counter as the card answers VERIFY without data: 63Cx
    local r out
    r=$(reader_of "$1")
    out=$(pcsc opensc-tool --reader "$r" --send-apdu 00:20:00:00 2>&1) || true
    case $out in
        *"SW1=0x63, SW2=0xC"?")"*) echo "$out" | sed -n 's/.*SW1=0x63, SW2=0xC\(.\)).*/\1/p' | head -n1 ;;
        *"SW1=0x69, SW2=0x83"*) echo 0 ;;
        *) die "card $1: no retry counter in: $out" ;;
    esac
}

cmd_stop() {
    local c
    for c in a b; do stop_pid "$DIR/card-$c.pid"; done
    pcscd_stop
    # only a directory that looks like ours
    if [ -f "$DIR/reader.conf.d/vpcd" ]; then rm -rf "$DIR"; fi
}

case "${1:-}" in
    start) cmd_start ;;
    card-start) card_start "$2" "$3" ;;
    card-stop) card_stop "$2" ;;
    remove) card_signal "$2" USR1 absent ;;
    insert) card_signal "$2" USR2 present ;;
    pcscd-stop) pcscd_stop ;;
    pcscd-start) pcscd_start ;;
    wait-present) wait_state "$2" present || die "reader $2: no card" ;;
    wait-absent) wait_state "$2" absent || die "reader $2: still a card" ;;
    tries) cmd_tries "$2" ;;
    stop) cmd_stop ;;
    *) sed -n '4,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; /^set -euo/d' >&2; exit 2 ;;
esac
