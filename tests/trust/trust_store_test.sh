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
#   decisions: p11tls decides as GnuTLS's own PKCS#11 trust on the same
#            store (tests/trust/trust_decide, each in its own process; the
#            stores of tests/trust/make-store.sh): certificates distrusted
#            by issuer and serial number only (an intermediate sent, sent
#            and on the store, only on the store; a leaf with and without
#            its intermediate; an anchor), anchors with stapled extended
#            key usage, key usage, basic constraints and name constraints
#            (TLS server, client and no purpose). Under `p11tls exec`,
#            gnutls_x509_crt_import_url applies stapled extensions when
#            asked (GNUTLS_PKCS11_OBJ_FLAG_OVERWRITE_TRUSTMOD_EXT), as
#            GnuTLS does.
#   operator: import-cert --trusted --ca and --distrust on a writable store
#            (no login there), the decisions then GnuTLS's too, and
#            p11tls(1)'s distrust example as written.
# Without an argument, runs them all, each in its own process (p11-kit loads
# a module file once per process). Skipped (77) with the reason if a package
# is missing. TAP-like output.
set -u
me=$(basename "$0")
if [ "$#" -eq 0 ]; then
    rc=0 ran=no
    for phase in private system decisions operator; do
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
decisions)
    decide=${P11TLS_TRUST_DECIDE:?run through tests/run.sh}
    for kind in distrust distrust-stored distrust-root staple-eku-email staple-eku-server \
        staple-eku-client staple-ku-no-certsign staple-bc-not-ca staple-nc-example trusted-email; do
        bash "$(dirname "$0")/make-store.sh" "$TMP/$kind" "$kind" "$P" || exit 99
    done
    # agree NAME STORE PURPOSE trusted|refused CERT...: GnuTLS's own PKCS#11
    # trust (the control) and p11tls decide alike, as expected.
    agree() {
        local name=$1 store=$2 purpose=$3 want=$4 impl st got="" bad=0 c
        shift 4
        local certs=()
        for c in "$@"; do certs+=("$P/$c.pem"); done
        for impl in gnutls p11tls; do
            st=0
            "$decide" --impl "$impl" --module "$trust_so" --args "paths=$TMP/$store" \
                --uri "pkcs11:token=$store" --purpose "$purpose" "${certs[@]}" \
                >"$TMP/$impl.out" 2>&1 || st=$?
            case $st in 0) v=trusted ;; 1) v=refused ;; *) v="error $st" ;; esac
            got="$got $impl: $v ($(head -c 200 "$TMP/$impl.out" | tr '\n' ' '))"
            [ "$v" = "$want" ] || bad=1
        done
        if [ "$bad" -eq 0 ]; then ok "$name ($purpose): $want by both"; else
            not_ok "$name ($purpose): want $want;$got"; fi
    }
    agree "intermediate distrusted by serial number only, sent" distrust server refused leaf2 inter2
    agree "leaf distrusted by serial number only, sent with its intermediate" distrust server refused leaf inter
    agree "leaf distrusted by serial number only, sent alone" distrust server refused leaf
    agree "another anchor's leaf beside them" distrust server trusted other-leaf
    agree "intermediate distrusted by serial number, on the store, not sent" distrust-stored server refused leaf2
    agree "intermediate distrusted by serial number, on the store, sent" distrust-stored server refused leaf2 inter2
    agree "anchor distrusted by serial number" distrust-root server refused leaf inter
    agree "anchor distrusted by serial number, another anchor beside it" distrust-root server trusted other-leaf
    for purpose in server client none; do
        agree "anchor with stapled extended key usage e-mail only" staple-eku-email "$purpose" refused leaf inter
        agree "anchor with stapled key usage without certificate signing" staple-ku-no-certsign "$purpose" refused leaf inter
        agree "anchor with stapled basic constraints: not a CA" staple-bc-not-ca "$purpose" refused leaf inter
        agree "anchor with stapled name constraints: example.com only" staple-nc-example "$purpose" refused leaf inter
        agree "anchor of an OpenSSL TRUSTED CERTIFICATE for e-mail only" trusted-email "$purpose" refused leaf inter
    done
    agree "anchor with stapled extended key usage TLS server" staple-eku-server server trusted leaf inter
    agree "anchor with stapled extended key usage TLS server" staple-eku-server client refused leaf inter
    agree "anchor with stapled extended key usage TLS server" staple-eku-server none trusted leaf inter
    agree "anchor with stapled extended key usage TLS client" staple-eku-client server refused leaf inter
    agree "anchor with stapled extended key usage TLS client" staple-eku-client client trusted leaf inter
    agree "anchor with stapled extended key usage TLS client" staple-eku-client none refused leaf inter
    agree "anchor with stapled key usage presented alone (the anchor itself)" staple-ku-no-certsign server trusted root

    # gnutls_x509_crt_import_url under p11tls exec: the store registered
    # (GnuTLS's own code is not given its paths= and cannot see it: the
    # control is GnuTLS with the module added by hand).
    # A sanitizer build's preload would come before the sanitizer's runtime
    # in the program's library list, which ASan refuses (tests/apps/lib.sh).
    if [ -n "${P11TLS_SANITIZER:-}" ]; then
        echo "$me: note: the p11tls exec cases are not run in the $P11TLS_SANITIZER build" >&2
    elif [ -r "${P11TLS_PRELOAD:-}" ]; then
        printf 'module: %s\nx-init-reserved: paths=%s\ntrust-policy: yes\n' "$trust_so" \
            "$TMP/staple-ku-no-certsign" >"$TMP/ku.module"
        p11kit_register_only "$TMP/p11" "$TMP/ku.module" || exit 99
        url="pkcs11:token=staple-ku-no-certsign;object=p11tls%20trust%20root;type=cert"
        for flag in "" --stapled; do
            own=$("$decide" --import-url "$url" $flag --module "$trust_so" \
                --args "paths=$TMP/staple-ku-no-certsign" 2>&1) || true
            got=$("$CLI" exec -- "$decide" --import-url "$url" $flag 2>&1) || true
            want="ca=1 key-usage=0x4"
            [ -n "$flag" ] && want="ca=1 key-usage=0x80"
            if [ "$own" = "$want" ] && [ "$got" = "$want" ]; then
                ok "p11tls exec: gnutls_x509_crt_import_url ${flag:-without the flag}: $want, as GnuTLS"
            else
                not_ok "p11tls exec: gnutls_x509_crt_import_url ${flag:-without the flag}: want $want; GnuTLS: $own; p11tls: $got"
            fi
        done
        if "$decide" --import-url "$url" >/dev/null 2>&1; then
            not_ok "without p11tls exec, GnuTLS's own code cannot see the store (control)"
        else
            ok "without p11tls exec, GnuTLS's own code cannot see the store (control)"
        fi
    else
        echo "$me: note: P11TLS_PRELOAD not set: the p11tls exec cases are not run" >&2
    fi
    ;;
operator)
    decide=${P11TLS_TRUST_DECIDE:?run through tests/run.sh}
    bash "$(dirname "$0")/make-store.sh" "$TMP/store" empty "$P" || exit 99
    printf 'module: %s\nx-init-reserved: paths=%s\n' "$trust_so" "$TMP/store" >"$TMP/store.module"
    p11kit_register_only "$TMP/p11" "$TMP/store.module" || exit 99
    T="pkcs11:token=store"
    run_cli() { "$CLI" "$@" >"$TMP/cli.out" 2>&1; }
    if run_cli import-cert "$T" "$P/root.pem" --label root --trusted --ca &&
        run_cli import-cert "$T" "$P/inter.pem" --label inter &&
        run_cli import-cert "$T" "$P/inter2.pem" --label inter2 --distrust; then
        ok "import-cert --trusted --ca and --distrust on p11-kit's trust module (no login there)"
    else
        not_ok "import-cert --trusted --ca and --distrust on p11-kit's trust module" "$TMP/cli.out"
    fi
    for impl in gnutls p11tls; do
        st=0
        "$decide" --impl "$impl" --module "$trust_so" --args "paths=$TMP/store" --uri "$T" \
            "$P/leaf.pem" "$P/inter.pem" >"$TMP/d.out" 2>&1 || st=$?
        if [ "$st" -eq 0 ]; then ok "$impl: the CA written trusted is an anchor"; else
            not_ok "$impl: the CA written trusted is an anchor" "$TMP/d.out"; fi
        st=0
        "$decide" --impl "$impl" --module "$trust_so" --args "paths=$TMP/store" --uri "$T" \
            "$P/leaf2.pem" "$P/inter2.pem" >"$TMP/d.out" 2>&1 || st=$?
        if [ "$st" -eq 1 ]; then ok "$impl: the certificate written distrusted is refused"; else
            not_ok "$impl: the certificate written distrusted is refused (status $st)" "$TMP/d.out"; fi
    done
    # p11tls(1)'s distrust example, as written, on a store of its own.
    bash "$(dirname "$0")/make-store.sh" "$TMP/ex" empty "$P" || exit 99
    # Its System Trust is this test's store (labelled "example").
    printf 'module: %s\nx-init-reserved: paths=%s\n' "$trust_so" "$TMP/ex/example" \
        >"$TMP/ex.module"
    mkdir -p "$TMP/ex/example"
    python3 "$(dirname "$0")/../support/man_example.py" "$(dirname "$0")/../../doc/p11tls.1" \
        distrust | sed 's/token=System%20Trust/token=example/g' >"$TMP/ex/example.sh"
    cp "$P/inter2.pem" "$TMP/ex/bad.pem"
    mkdir -p "$TMP/ex/bin"
    ln -s "$(cd "$(dirname "$CLI")" && pwd)/$(basename "$CLI")" "$TMP/ex/bin/p11tls"
    p11kit_register_only "$TMP/p11ex" "$TMP/ex.module" || exit 99
    if [ -s "$TMP/ex/example.sh" ] &&
        (cd "$TMP/ex" && PATH="$TMP/ex/bin:$PATH" timeout 60 bash -e example.sh) >"$TMP/ex.out" 2>&1; then
        ok "the distrust example of p11tls(1) runs as written"
    else
        not_ok "the distrust example of p11tls(1) runs as written" "$TMP/ex/example.sh" "$TMP/ex.out"
    fi
    verify_is "after the distrust example, the certificate is refused" 1 "distrusted" \
        "$P/leaf2.pem" --chain "$P/inter2.pem" --trust "pkcs11:token=example"
    ;;
*) echo "$me: unknown phase $phase" >&2; exit 99 ;;
esac
finish
