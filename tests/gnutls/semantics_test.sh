#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# semantics_test.sh: runs each case of tests/gnutls/semantics (GnuTLS's own
# PKCS#11 semantics kept by p11tls's URL glue, issue 19) in a process of its
# own, after writing the decrypt-only RSA key "dec-only" (CKA_SIGN false:
# p11tool --mark-decrypt) with its certificate, and a private certificate
# "priv-cert", to the test's private token. Run through
# tests/with-token.sh (tests/suites/gnutls-semantics.*.test).
# Exit status: 0 all cases passed, 1 one failed, 77 skipped.
prog=${abs_top_builddir:-${top_builddir:-.}}/tests/gnutls/semantics
[ -x "$prog" ] || { echo "semantics_test.sh: SKIP: $prog not built" >&2; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/p11tls-sem.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
certtool --generate-privkey --rsa --bits 2048 --outfile "$tmp/dec.pem" 2>/dev/null &&
    GNUTLS_PIN=$P11TLS_TEST_PIN p11tool --provider "$P11TLS_SOFTHSM_MODULE" --login \
        --write "$P11TLS_TEST_TOKEN_URI" --load-privkey "$tmp/dec.pem" --label dec-only \
        --mark-decrypt >"$tmp/write.log" 2>&1 ||
    { echo "semantics_test.sh: cannot write the decrypt-only key" >&2; cat "$tmp/write.log" >&2; exit 99; }
# A certificate for dec-only (GnuTLS's probe signature when it loads the
# pair), and a private copy of p256's certificate, "priv-cert" (CKA_PRIVATE:
# found only after a login).
printf 'cn = dec-only\nexpiration_days = 30\nsigning_key\nencryption_key\n' >"$tmp/dec.tmpl"
write() { GNUTLS_PIN=$P11TLS_TEST_PIN p11tool --provider "$P11TLS_SOFTHSM_MODULE" --login \
              --write "$P11TLS_TEST_TOKEN_URI" "$@" >"$tmp/write.log" 2>&1; }
certtool --generate-self-signed --load-privkey "$tmp/dec.pem" --template "$tmp/dec.tmpl" \
        --outfile "$tmp/dec-cert.pem" >"$tmp/write.log" 2>&1 &&
    write --load-certificate "$tmp/dec-cert.pem" --label dec-only &&
    write --load-certificate "$P11TLS_TEST_DIR/p256.pem" --label priv-cert --mark-private ||
    { echo "semantics_test.sh: cannot write the test certificates" >&2; cat "$tmp/write.log" >&2; exit 99; }
. "$(dirname "$0")/../support/cases.sh"
run_cases "$prog" attempt0 no-token second-pin usage errors privkey-pin file2-pass pubkey \
    private-cert private-cert-pcert private-cert-pin-url probe-quiet
