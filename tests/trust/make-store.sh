#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# make-store.sh DIR KIND PKI - a directory for p11-kit's trust module
# (x-init-reserved: paths=DIR; its token is labelled after DIR's last
# component) holding tests/trust/make-pki.sh's certificates from PKI:
#   distrust         anchors root and other-root, inter beside them; the
#                    blocklist names inter2 and leaf by issuer and serial
#                    number only (inter2 is not in the store)
#   distrust-stored  anchor root, inter2 beside it, the blocklist naming
#                    inter2 by issuer and serial number
#   distrust-root    anchors root and other-root, inter beside them; the
#                    blocklist names root by issuer and serial number
#   staple-K         anchor root, inter beside it, and the extension K of
#                    tests/trust/p11kit_record.py stapled to root's key
#   trusted-email    root as an OpenSSL "TRUSTED CERTIFICATE" trusted for
#                    e-mail protection only (p11-kit staples that as an
#                    extended key usage), inter beside it
#   empty            nothing (a writable store for import-cert)
# Silent on success.
set -euo pipefail
dir=${1:?usage: make-store.sh DIR KIND PKI}
kind=${2:?usage: make-store.sh DIR KIND PKI}
pki=${3:?usage: make-store.sh DIR KIND PKI}
record() { python3 "$(dirname "$0")/p11kit_record.py" "$@"; }
mkdir -p "$dir/anchors" "$dir/blocklist"
case $kind in
distrust)
    cp "$pki/root.pem" "$pki/other-root.pem" "$dir/anchors/"
    cp "$pki/inter.pem" "$dir/"
    record distrust "$pki/inter2.pem" "inter2 by serial" >"$dir/blocklist/inter2.p11-kit"
    record distrust "$pki/leaf.pem" "leaf by serial" >"$dir/blocklist/leaf.p11-kit"
    ;;
distrust-stored)
    cp "$pki/root.pem" "$dir/anchors/"
    cp "$pki/inter2.pem" "$dir/"
    record distrust "$pki/inter2.pem" "inter2 by serial" >"$dir/blocklist/inter2.p11-kit"
    ;;
distrust-root)
    cp "$pki/root.pem" "$pki/other-root.pem" "$dir/anchors/"
    cp "$pki/inter.pem" "$dir/"
    record distrust "$pki/root.pem" "root by serial" >"$dir/blocklist/root.p11-kit"
    ;;
staple-*)
    cp "$pki/root.pem" "$dir/anchors/"
    cp "$pki/inter.pem" "$dir/"
    record staple "$pki/root.pem" "${kind#staple-}" "root ${kind#staple-}" >"$dir/root-ext.p11-kit"
    ;;
trusted-email)
    openssl x509 -in "$pki/root.pem" -addtrust emailProtection -out "$dir/anchors/root.pem"
    cp "$pki/inter.pem" "$dir/"
    ;;
empty) ;;
*) echo "make-store.sh: unknown kind $kind" >&2; exit 2 ;;
esac
