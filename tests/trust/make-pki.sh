#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# make-pki.sh OUTDIR [token]
#
# The certificates of the trust tests (EC P-256, certtool), in OUTDIR:
#   root.pem      CA "p11tls trust root"
#   inter.pem     CA "p11tls trust inter", issued by root
#   leaf.pem      "localhost" (DNS localhost, IP 127.0.0.1, TLS server and
#                 client), issued by inter; leaf-chain.pem = leaf + inter
#   inter2.pem, leaf2.pem   a second intermediate under root and its leaf
#   other-root.pem, other-leaf.pem   another CA and its leaf (directly)
#   *-key.pem     their keys
# With "token" (under tests/with-token.sh), also writes on the test token:
# root as trusted CA (p11tool --so-login --mark-trusted --mark-ca, label
# trust-root) and inter plainly (label trust-inter). Silent on success.
set -euo pipefail
out=${1:?usage: make-pki.sh OUTDIR [token]}
mkdir -p "$out"
log="$out/make-pki.log"
run() { "$@" >>"$log" 2>&1 || { echo "make-pki.sh: failed: $*" >&2; cat "$log" >&2; exit 1; }; }

# cert NAME CN ISSUER(or -) ca|leaf
cert() {
    local name=$1 cn=$2 issuer=$3 kind=$4 serial=$((RANDOM * 32768 + RANDOM))
    run certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
        --outfile "$out/$name-key.pem"
    {
        echo "cn = \"$cn\""
        echo "organization = \"p11tls trust tests\""
        echo "serial = $serial"
        echo "expiration_days = 3650"
        if [ "$kind" = ca ]; then
            echo "ca"; echo "cert_signing_key"
        else
            echo "dns_name = \"localhost\""; echo "ip_address = \"127.0.0.1\""
            echo "tls_www_server"; echo "tls_www_client"; echo "signing_key"
        fi
    } >"$out/$name.tmpl"
    if [ "$issuer" = - ]; then
        run certtool --generate-self-signed --load-privkey "$out/$name-key.pem" \
            --template "$out/$name.tmpl" --outfile "$out/$name.pem"
    else
        run certtool --generate-certificate --load-privkey "$out/$name-key.pem" \
            --load-ca-certificate "$out/$issuer.pem" --load-ca-privkey "$out/$issuer-key.pem" \
            --template "$out/$name.tmpl" --outfile "$out/$name.pem"
    fi
}

cert root "p11tls trust root" - ca
cert inter "p11tls trust inter" root ca
cert leaf "localhost" inter leaf
cert inter2 "p11tls trust inter 2" root ca
cert leaf2 "localhost 2" inter2 leaf
cert other-root "p11tls other root" - ca
cert other-leaf "localhost other" other-root leaf
cat "$out/leaf.pem" "$out/inter.pem" >"$out/leaf-chain.pem"

if [ "${2:-}" = token ]; then
    : "${P11TLS_SOFTHSM_MODULE:?run under tests/with-token.sh}"
    run env GNUTLS_SO_PIN="$P11TLS_TEST_SO_PIN" p11tool --provider "$P11TLS_SOFTHSM_MODULE" \
        --so-login --write --mark-trusted --mark-ca --label trust-root \
        --load-certificate "$out/root.pem" "$P11TLS_TEST_TOKEN_URI"
    run env GNUTLS_PIN="$P11TLS_TEST_PIN" p11tool --provider "$P11TLS_SOFTHSM_MODULE" \
        --login --write --label trust-inter \
        --load-certificate "$out/inter.pem" "$P11TLS_TEST_TOKEN_URI"
fi
