#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# trust_store_test.sh [private|system] - p11tls verify --trust against
# p11-kit's trust module (p11-kit-trust.so), the only module p11-kit sees
# (p11kit-isolate.sh, as tests/modules/trust_test.sh does):
#   private: an instance on a temporary directory (x-init-reserved:
#            paths=DIR) with anchors/ (the root), blocklist/ (an
#            intermediate) and plain certificates (another intermediate,
#            another root): a leaf under the anchor verifies alone; a leaf
#            whose intermediate is blocklisted fails ("distrusted"), also
#            when the intermediate is sent; a root merely present is no
#            anchor.
#   system:  the registered "System Trust" token: a system root verifies,
#            an unknown self-signed certificate does not.
# Without an argument, runs both, each in its own process (p11-kit loads a
# module file once per process). Skipped (77) with the reason if a package
# is missing. TAP-like output.
set -u
me=$(basename "$0")
if [ "$#" -eq 0 ]; then
    rc=0 ran=no
    for phase in private system; do
        s=0
        bash "$0" "$phase" || s=$?
        case $s in 0) ran=yes ;; 77) ;; *) rc=1 ran=yes ;; esac
    done
    [ "$rc" -eq 0 ] && [ "$ran" = no ] && exit 77
    exit "$rc"
fi
. "$(dirname "$0")/../p11kit-isolate.sh"
p11kit_isolate_reexec "$0" "$@"
p11kit_require_isolation

phase=$1
trust_so=
for f in /usr/lib/*/pkcs11/p11-kit-trust.so /usr/lib64/pkcs11/p11-kit-trust.so /usr/lib/pkcs11/p11-kit-trust.so; do
    [ -f "$f" ] && { trust_so=$f; break; }
done
[ -n "$trust_so" ] || { echo "$me: SKIP: p11-kit-trust.so not found (install p11-kit-modules)" >&2; exit 77; }
command -v certtool >/dev/null 2>&1 || { echo "$me: SKIP: certtool not found" >&2; exit 77; }

export P11TLS_TEST_DIR=/nonexistent  # lib.sh wants it; this suite makes its own files
. "$(dirname "$0")/../cli/lib.sh"
# shellcheck source=../support/first_file.sh
. "$(dirname "$0")/../support/first_file.sh"

bash "$(dirname "$0")/make-pki.sh" "$TMP/pki" || exit 99
P=$TMP/pki

case $phase in
private)
    store=$TMP/store
    mkdir -p "$store/anchors" "$store/blocklist"
    cp "$P/root.pem" "$store/anchors/"
    cp "$P/inter2.pem" "$store/blocklist/"
    cp "$P/inter.pem" "$P/other-root.pem" "$store/"
    printf 'module: %s\nx-init-reserved: paths=%s\n' "$trust_so" "$store" >"$TMP/store.module"
    p11kit_register_only "$TMP/p11" "$TMP/store.module" || exit 99
    T="pkcs11:token=store"
    verify_is "private store: a leaf alone under the anchor (intermediate from the store)" 0 \
        "^trusted:" "$P/leaf.pem" --trust "$T"
    verify_is "private store: a leaf whose intermediate is blocklisted, intermediate sent" 1 \
        "distrusted" "$P/leaf2.pem" --chain "$P/inter2.pem" --trust "$T"
    verify_is "private store: a leaf whose intermediate is blocklisted, sent alone" 1 \
        "distrusted" "$P/leaf2.pem" --trust "$T"
    verify_is "private store: a root merely present is no anchor" 1 "unknown issuer" \
        "$P/other-leaf.pem" --trust "$T"
    verify_is "private store: the trust module's objects read through a URI naming the root" 0 \
        "^trusted:" "$P/leaf.pem" --chain "$P/inter.pem" --trust "$T;object=p11tls%20trust%20root"
    ;;
system)
    reg=$(first_file /usr/share/p11-kit/modules/p11-kit-trust.module /usr/lib/p11-kit/modules/p11-kit-trust.module)
    root=/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt
    [ -n "$reg" ] || { echo "$me: SKIP: p11-kit-trust.module not found" >&2; exit 77; }
    [ -f "$root" ] || { echo "$me: SKIP: $root not found (install ca-certificates)" >&2; exit 77; }
    cp "$reg" "$TMP/p11-kit-trust.module"
    p11kit_register_only "$TMP/p11" "$TMP/p11-kit-trust.module" || exit 99
    T="pkcs11:token=System%20Trust"
    verify_is "System Trust: a system root (ISRG Root X1) verifies" 0 "^trusted: .*ISRG Root X1" \
        "$root" --trust "$T"
    verify_is "System Trust: an unknown self-signed certificate does not" 1 "unknown issuer" \
        "$P/other-root.pem" --trust "$T"
    ;;
*) echo "$me: unknown phase $phase" >&2; exit 99 ;;
esac
finish
