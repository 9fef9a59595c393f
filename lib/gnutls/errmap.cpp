// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "gnutls/errmap.hpp"

#include <gnutls/gnutls.h>
#include <p11tls/p11tls.h>

namespace p11tls {

// What GnuTLS's own PKCS#11 code returns in the same situation (3.7.9,
// lib/pkcs11.c: pkcs11_rv_to_err, and REQUESTED_DATA_NOT_AVAILABLE when no
// token or object matches a URL): callers test for these codes.
int gnutls_error_of(int rc) {
    switch (rc) {
    case P11TLS_E_MEMORY: return GNUTLS_E_MEMORY_ERROR;
    case P11TLS_E_INVALID_ARGUMENT:
    case P11TLS_E_INVALID_URI: return GNUTLS_E_INVALID_REQUEST;
    case P11TLS_E_NOT_FOUND:
    case P11TLS_E_TOKEN_NOT_PRESENT: return GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE;
    // GnuTLS applications already tell the user "PIN" on this code.
    case P11TLS_E_PIN_INCORRECT:
    case P11TLS_E_PIN_REQUIRED:
    case P11TLS_E_PIN_CANCELLED:
    case P11TLS_E_PIN_SOURCE: return GNUTLS_E_PKCS11_PIN_ERROR;
    case P11TLS_E_PIN_LOCKED: return GNUTLS_E_PKCS11_PIN_LOCKED;
    case P11TLS_E_UNSUPPORTED: return GNUTLS_E_PKCS11_UNSUPPORTED_FEATURE_ERROR;
    case P11TLS_E_DEVICE: return GNUTLS_E_PKCS11_DEVICE_ERROR;
    case P11TLS_E_MODULE: return GNUTLS_E_PKCS11_LOAD_ERROR;
    case P11TLS_E_KEY_MISMATCH: return GNUTLS_E_PKCS11_KEY_ERROR;
    case P11TLS_E_BUFFER_TOO_SMALL: return GNUTLS_E_SHORT_MEMORY_BUFFER;
    default: return GNUTLS_E_PKCS11_ERROR;
    }
}

}  // namespace p11tls
