#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# The shared library exports only p11tls_* symbols, all under the P11TLS_0.1
# version node, and is marked NODELETE (it must outlive a dlclosed PAM module).
set -u
lib=${top_builddir:-.}/lib/.libs/libp11tls.so
[ -f "$lib" ] || { echo "SKIP: $lib not built" >&2; exit 77; }
command -v nm >/dev/null && command -v readelf >/dev/null || { echo "SKIP: binutils missing" >&2; exit 77; }
fail=0
syms=$(nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }')
count=$(printf '%s\n' "$syms" | grep -c .)
bad=$(printf '%s\n' "$syms" | grep -v -E '^p11tls_[a-z0-9_]+@@P11TLS_0\.1$' || true)
if [ -n "$bad" ]; then
    echo "not ok - symbols outside p11tls_*@@P11TLS_0.1:"; printf '  %s\n' $bad; fail=1
else
    echo "ok - $count exported symbols, all p11tls_*@@P11TLS_0.1"
fi
for fn in p11tls_key_open p11tls_key_sign p11tls_key_sign_hash p11tls_ctx_new p11tls_ctx_free \
          p11tls_ctx_set_pin_fn p11tls_ctx_set_fork_policy p11tls_ctx_add_module p11tls_ctx_add_module_with_args p11tls_key_free \
          p11tls_cert_get_der p11tls_free p11tls_strerror p11tls_gnutls_privkey_import \
          p11tls_ctx_set_log_fn p11tls_check_version; do
    if ! printf '%s\n' "$syms" | grep -q "^$fn@@"; then echo "not ok - $fn not exported"; fail=1; fi
done
if readelf -d "$lib" | grep -q 'NODELETE'; then
    echo "ok - NODELETE"
else
    echo "not ok - libp11tls.so is not linked with -z nodelete"; fail=1
fi
exit $fail
