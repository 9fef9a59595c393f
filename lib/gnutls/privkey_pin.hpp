// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The PIN callback that a program set on a gnutls_privkey_t or a
// gnutls_x509_crt_t before it gave GnuTLS a URL to import into it.
#pragma once
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

namespace p11tls {

struct GnutlsPin {
    gnutls_pin_callback_t cb = nullptr;
    void *data = nullptr;
};

// The callback gnutls_privkey_set_pin_function() set on pkey (directly, or
// through gnutls_certificate_set_pin_function() or the pass argument of
// gnutls_certificate_set_x509_key_file2(), which GnuTLS copies there before
// it imports a URL); {} when none is set or when this GnuTLS keeps it where
// p11tls cannot read it (sets *readable to false then).
GnutlsPin privkey_pin(gnutls_privkey_t pkey, bool *readable);

// The callback gnutls_x509_crt_set_pin_function() set on crt (directly, or
// the pin_fn of gnutls_x509_crt_list_import_url() and of
// gnutls_pcert_list_import_x509_file(), which GnuTLS sets on the crt it
// imports the URL into), under the same rule.
GnutlsPin crt_pin(gnutls_x509_crt_t crt, bool *readable);

}  // namespace p11tls
