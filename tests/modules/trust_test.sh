#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# trust_test.sh system|private - p11-kit's trust module (p11-kit-trust.so)
# as a p11tls module, the only module p11-kit sees (p11kit-isolate.sh).
#   system:  its Debian registration (p11-kit-modules), the "System Trust"
#            token over ca-certificates: a known root exported byte for
#            byte, the vendor classes named in list and --json (every class
#            a string), module-path matching the module by its p11-kit name
#            and by a symbolic link to its file.
#   private: an instance on a temporary directory (x-init-reserved:
#            paths=DIR) with anchors/ and blocklist/: the token is named
#            after DIR, both certificates are listed, the anchor exported
#            byte for byte, `mechanisms` says it has none; 'p11tls list'
#            without a URI leaves it out (--include-trust or naming it lists
#            it). p11-kit loads a library file once per process, so the two
#            instances cannot be registered together: one phase per process
#            (tests/run.sh runs both as tests/suites/trust.test).
# Skipped (77) with the reason if a package is missing. TAP-like output.
set -u
. "$(dirname "$0")/../p11kit-isolate.sh"
p11kit_isolate_reexec "$0" "$@"
p11kit_require_isolation

me=$(basename "$0")
phase=${1:?usage: trust_test.sh system|private}
# shellcheck source=../support/first_file.sh
. "$(dirname "$0")/../support/first_file.sh"
trust_so=$(first_file /usr/lib/*/pkcs11/p11-kit-trust.so /usr/lib64/pkcs11/p11-kit-trust.so \
                      /usr/lib/pkcs11/p11-kit-trust.so)
[ -n "$trust_so" ] || { echo "$me: SKIP: p11-kit-trust.so not found (install p11-kit-modules)" >&2; exit 77; }
for tool in openssl python3 cmp; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$me: SKIP: $tool not found" >&2; exit 77; }
done

export P11TLS_TEST_DIR=/nonexistent  # lib.sh wants it; this suite makes its own files
. "$(dirname "$0")/../cli/lib.sh"

# exported_same URI PEM-FILE: p11tls export-cert (DER) is the certificate
# of PEM-FILE, byte for byte.
exported_same() {
    openssl x509 -in "$2" -outform DER -out "$TMP/expected.der" &&
    "$CLI" export-cert "$1" >"$TMP/got.der" 2>"$TMP/export.err" &&
    cmp -s "$TMP/expected.der" "$TMP/got.der"
}
# classes_named URI: every class in list and in --json is a name.
classes_named() {
    "$CLI" list "$1" >"$TMP/list.out" 2>"$TMP/list.err" &&
    "$CLI" list "$1" --json >"$TMP/list.json" 2>>"$TMP/list.err" &&
    ! grep -q "Class: 0x" "$TMP/list.out" &&
    grep -q "Class: CKO_X_TRUST_ASSERTION" "$TMP/list.out" &&
    grep -q "Class: CKO_NSS_TRUST" "$TMP/list.out" &&
    python3 -c '
import json, sys
objs = json.load(open(sys.argv[1]))
names = {o["class"] for o in objs}
sys.exit(0 if objs and all(isinstance(c, str) and not c.startswith("0x") for c in names) else 1)' "$TMP/list.json"
}
count_certs() { "$CLI" list "$1" 2>"$TMP/count.err" | grep -c "Class: certificate"; }

case $phase in
system)
    reg=$(first_file /usr/share/p11-kit/modules/p11-kit-trust.module /usr/lib/p11-kit/modules/p11-kit-trust.module)
    root=/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt
    [ -n "$reg" ] || { echo "$me: SKIP: p11-kit-trust.module not found" >&2; exit 77; }
    [ -f "$root" ] || { echo "$me: SKIP: $root not found (install ca-certificates)" >&2; exit 77; }
    # Copied before the module directories are hidden.
    cp "$reg" "$TMP/p11-kit-trust.module"
    p11kit_register_only "$TMP/p11" "$TMP/p11-kit-trust.module" || exit 99
    token='pkcs11:token=System%20Trust'
    if exported_same "$token;object=ISRG%20Root%20X1;type=cert" "$root"; then
        ok "System Trust: ISRG Root X1 exported byte for byte"
    else
        not_ok "System Trust: ISRG Root X1 exported byte for byte" "$TMP/export.err"
    fi
    if classes_named "$token;object=ISRG%20Root%20X1"; then
        ok "System Trust: vendor classes named (CKO_NSS_TRUST, CKO_X_TRUST_ASSERTION), strings in --json"
    else
        not_ok "System Trust: vendor classes named (CKO_NSS_TRUST, CKO_X_TRUST_ASSERTION), strings in --json" \
            "$TMP/list.out" "$TMP/list.err"
    fi
    got=$(count_certs "pkcs11:object=ISRG%20Root%20X1;type=cert?module-path=p11-kit-trust")
    if [ "$got" = 1 ]; then ok "module-path=p11-kit-trust (the registration's name) selects the module"
    else not_ok "module-path=p11-kit-trust (the registration's name) selects the module ($got)" "$TMP/count.err"; fi
    ln -s "$trust_so" "$TMP/link.so"
    got=$(count_certs "pkcs11:object=ISRG%20Root%20X1;type=cert?module-path=$TMP/link.so")
    if [ "$got" = 1 ]; then ok "module-path naming a link to the registered file selects the module"
    else not_ok "module-path naming a link to the registered file selects the module ($got)" "$TMP/count.err"; fi
    got=$(count_certs "pkcs11:type=cert?module-path=$TMP/none.so")
    if [ "$got" = 0 ] && grep -q "not loaded" "$TMP/count.err"; then
        ok "module-path naming another file: refused (not loaded, not allowed to load)"
    else
        not_ok "module-path naming another file: refused (not loaded, not allowed to load)" "$TMP/count.err"
    fi
    ;;
private)
    store=$TMP/mystore
    mkdir -p "$store/anchors" "$store/blocklist"
    for c in anchor blocked; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/$c.key" \
            -out "$TMP/$c.pem" -subj "/CN=p11tls test $c" -days 30 >/dev/null 2>&1 || exit 99
    done
    cp "$TMP/anchor.pem" "$store/anchors/"
    cp "$TMP/blocked.pem" "$store/blocklist/"
    printf 'module: %s\nx-init-reserved: paths=%s\n' "$trust_so" "$store" >"$TMP/private-trust.module"
    p11kit_register_only "$TMP/p11" "$TMP/private-trust.module" || exit 99
    "$CLI" list-tokens >"$TMP/tokens.out" 2>&1
    if grep -q "Label: mystore" "$TMP/tokens.out" && ! grep -q "System Trust" "$TMP/tokens.out"; then
        ok "private instance: one token, named after paths= (x-init-reserved passed)"
    else
        not_ok "private instance: one token, named after paths= (x-init-reserved passed)" "$TMP/tokens.out"
    fi
    if exported_same "pkcs11:token=mystore;object=p11tls%20test%20anchor;type=cert" "$TMP/anchor.pem"; then
        ok "private instance: the anchor (anchors/) exported byte for byte"
    else
        not_ok "private instance: the anchor (anchors/) exported byte for byte" "$TMP/export.err"
    fi
    if exported_same "pkcs11:token=mystore;object=p11tls%20test%20blocked;type=cert" "$TMP/blocked.pem"; then
        ok "private instance: the blocklisted certificate (blocklist/) listed and exported"
    else
        not_ok "private instance: the blocklisted certificate (blocklist/) listed and exported" "$TMP/export.err"
    fi
    if classes_named "pkcs11:token=mystore"; then
        ok "private instance: vendor classes named"
    else
        not_ok "private instance: vendor classes named" "$TMP/list.out" "$TMP/list.err"
    fi
    # p11tls list without a URI leaves the trust store out, and says so
    # (issue 28: System Trust buried everything else in 11,620 lines);
    # --include-trust or a URI naming it lists it.
    "$CLI" list >"$TMP/all.out" 2>"$TMP/all.err"
    st=$?
    if [ "$st" -eq 0 ] && ! grep -q "p11tls test anchor" "$TMP/all.out" &&
        grep -q "^p11tls: note: the trust store 'mystore' is not listed .*--include-trust" "$TMP/all.err"; then
        ok "list without a URI: the trust store left out, with a note saying how to list it"
    else
        not_ok "list without a URI: the trust store left out, with a note saying how to list it (status $st)" \
            "$TMP/all.out" "$TMP/all.err"
    fi
    "$CLI" list --include-trust >"$TMP/all.out" 2>"$TMP/all.err"
    if grep -q "Label: p11tls test anchor" "$TMP/all.out" && ! grep -q "note:" "$TMP/all.err"; then
        ok "list --include-trust: the trust store listed"
    else
        not_ok "list --include-trust: the trust store listed" "$TMP/all.out" "$TMP/all.err"
    fi
    "$CLI" list "pkcs11:token=mystore" --json >"$TMP/named.json" 2>"$TMP/named.err"
    if grep -q '"label":"p11tls test anchor"' "$TMP/named.json"; then
        ok "list with a URI naming the trust store lists it"
    else
        not_ok "list with a URI naming the trust store lists it" "$TMP/named.json" "$TMP/named.err"
    fi
    # The trust module lists no mechanism: said in words, [] in --json.
    "$CLI" mechanisms "pkcs11:token=mystore" >"$TMP/mech.out" 2>"$TMP/mech.err"
    rc=$?
    "$CLI" mechanisms "pkcs11:token=mystore" --json >"$TMP/mech.json" 2>>"$TMP/mech.err"
    if [ "$rc" -eq 0 ] && grep -q "^no mechanisms: token mystore lists none$" "$TMP/mech.out" &&
       [ "$(tr -d ' \n' <"$TMP/mech.json")" = "[]" ]; then
        ok "mechanisms on a token that has none: says so (exit 0); --json: []"
    else
        not_ok "mechanisms on a token that has none: says so (exit 0; status $rc); --json: []" \
            "$TMP/mech.out" "$TMP/mech.json" "$TMP/mech.err"
    fi
    ;;
*) echo "$me: unknown phase $phase" >&2; exit 99 ;;
esac
finish
