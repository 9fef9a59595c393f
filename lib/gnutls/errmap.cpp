// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "gnutls/errmap.hpp"

#include <gnutls/gnutls.h>
#include <p11tls/p11tls.h>

namespace p11tls {

int gnutls_error_of(int rc) {
    switch (rc) {
    case P11TLS_E_MEMORY: return GNUTLS_E_MEMORY_ERROR;
    case P11TLS_E_INVALID_ARGUMENT:
    case P11TLS_E_INVALID_URI: return GNUTLS_E_INVALID_REQUEST;
    // GnuTLS applications already tell the user "PIN" on this code.
    case P11TLS_E_PIN_INCORRECT:
    case P11TLS_E_PIN_LOCKED:
    case P11TLS_E_PIN_REQUIRED:
    case P11TLS_E_PIN_CANCELLED:
    case P11TLS_E_PIN_SOURCE: return GNUTLS_E_PKCS11_PIN_ERROR;
    default: return GNUTLS_E_PKCS11_ERROR;
    }
}

}  // namespace p11tls
