#!/bin/bash
# demo.sh: on a fresh Debian 12 machine (as root), installs the dependencies,
# builds p11tls, creates a SoftHSM demo token and uses it with the p11tls
# tool: list the tokens, show a key, sign a message on the token and verify
# the signature with OpenSSL against the key's certificate.
#
# Re-running is safe: the demo token (./demo-token) is reused if present.
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
bash tests/fixtures/make-token.sh demo-token
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

step "demo finished"
