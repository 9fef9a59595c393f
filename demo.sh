#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# demo.sh: on a fresh Debian 12 machine (as root), installs the dependencies,
# builds p11tls, creates a SoftHSM demo token and uses it with the p11tls
# tool: list the tokens, show a key, sign a message on the token and verify
# the signature with OpenSSL against the key's certificate; then the main
# job: a TLS server (p11tls serve) whose key stays on the token, reached
# with gnutls-cli.
#
# Re-running is safe: the demo token (./demo-token) is reused if present.
# The last line printed is the one to paste into your shell to reach the
# demo token afterwards: export SOFTHSM2_CONF=.../demo-token/softhsm2.conf
# Set P11TLS_DEMO_SKIP_APT=1 to skip the package installation.
set -euo pipefail
cd "$(dirname "$0")"

DEPS="g++ make autoconf automake libtool autoconf-archive pkg-config \
libgnutls28-dev libp11-kit-dev nettle-dev libgtest-dev libpam0g-dev \
softhsm2 gnutls-bin opensc libpam-wrapper pamtester p11-kit openssl python3"

step() { printf '\n==> %s\n' "$*"; }

if [ -z "${P11TLS_DEMO_SKIP_APT:-}" ]; then
    step "installing dependencies"
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends $DEPS
fi

step "building"
./autogen.sh
./configure
make -j2

step "creating the demo token in ./demo-token (SoftHSM, user PIN 1234)"
bash tests/fixtures/make-token.sh --demo demo-token
demo=$(pwd)/demo-token
cat >"$demo/softhsm2.conf" <<CONF
directories.tokendir = $demo/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF="$demo/softhsm2.conf"

key='pkcs11:token=p11tls-test;object=p256;type=private;pin-value=1234'

step "p11tls list-tokens"
./src/p11tls list-tokens

step "p11tls info '$key'"
./src/p11tls info "$key"

step "signing 'hello' with the token's P-256 key"
echo hello | ./src/p11tls sign "$key" --scheme ecdsa_secp256r1_sha256 >demo-token/sig
echo "signature: $(wc -c <demo-token/sig) bytes in demo-token/sig"

step "verifying the signature with openssl against demo-token/p256.pem"
openssl x509 -in demo-token/p256.pem -noout -pubkey >demo-token/p256.pub
echo hello | openssl dgst -sha256 -verify demo-token/p256.pub -signature demo-token/sig

step "p11tls serve: a TLS server with the token's P-256 key, one connection"
cert='pkcs11:token=p11tls-test;object=p256;type=cert'
rm -f demo-token/serve.out demo-token/serve.err demo-token/client.out
./src/p11tls serve "$key" --cert "$cert" --port 0 --count 1 \
    >demo-token/serve.out 2>demo-token/serve.err &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
port=
for _ in $(seq 100); do   # up to 10 s for the "listening on" line
    line=$(head -n 1 demo-token/serve.out)
    case $line in
        "listening on 127.0.0.1:"*) port=${line##*:}; break ;;
    esac
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "demo: the server did not start:" >&2
    cat demo-token/serve.err >&2
    exit 1
fi
echo "$line"

step "gnutls-cli --x509cafile demo-token/ca.pem --port $port localhost"
client_ok=0
timeout 20 gnutls-cli --x509cafile demo-token/ca.pem --port "$port" localhost \
    </dev/null >demo-token/client.out 2>&1 && client_ok=1
grep -E '^- (Description|Status)|hello from p11tls' demo-token/client.out || true
server_status=124
for _ in $(seq 200); do   # up to 20 s for the server to finish
    if ! kill -0 "$server" 2>/dev/null; then
        server_status=0
        wait "$server" || server_status=$?
        break
    fi
    sleep 0.1
done
trap - EXIT
[ "$server_status" -ne 124 ] || kill "$server" 2>/dev/null || true

step "server's handshake summary"
grep '^handshake ' demo-token/serve.out || true
cat demo-token/serve.err >&2
if [ "$client_ok" -ne 1 ] || [ "$server_status" -ne 0 ] ||
    ! grep -q 'hello from p11tls' demo-token/client.out ||
    ! grep -q '^handshake 1: ' demo-token/serve.out; then
    echo "demo: the TLS handshake failed (client ok=$client_ok," \
        "server status $server_status); client output:" >&2
    cat demo-token/client.out >&2
    exit 1
fi

step "demo finished"
# The demo token is reachable only where SOFTHSM2_CONF names its
# configuration: the last line is the one to paste into the user's shell
# (README.md, Quick start).
echo "The demo token stays in $demo (user PIN 1234, SO PIN 12345678); the docs use it."
echo "To reach it from your shell (./src/p11tls list-tokens), paste this line:"
echo
printf 'export SOFTHSM2_CONF=%q\n' "$demo/softhsm2.conf"
