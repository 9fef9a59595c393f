// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// GnuTLS glue: pkcs11: URLs given to GnuTLS's own URL functions
// (gnutls_privkey_import_url, gnutls_x509_crt_import_url and what calls
// them, gnutls_certificate_set_x509_key_file2 among them) go through p11tls.
//
// GnuTLS looks its registered URL types up before its built-in pkcs11:
// support, for keys and certificates. It does not for issuer lookups
// (gnutls_pkcs11_get_raw_issuer) nor public keys: those stay with GnuTLS's
// own PKCS#11 code, as documented in gnutls.h.
#include <p11tls/gnutls.h>

#include <pthread.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <gnutls/urls.h>

#include "gnutls/pin.hpp"

namespace {

// The context of every registered-URL caller: GnuTLS's URL callbacks carry
// no user data. Created once, never freed (callbacks may run at any time).
p11tls_ctx *g_url_ctx;
int g_register_rc;
pthread_once_t g_register_once = PTHREAD_ONCE_INIT;

int import_key(gnutls_privkey_t pkey, const char *url, unsigned) {
    return p11tls_gnutls_privkey_import(pkey, g_url_ctx, url, 0);
}

int import_crt(gnutls_x509_crt_t crt, const char *url, unsigned) {
    return p11tls_gnutls_x509_crt_import(crt, g_url_ctx, url);
}

void register_once() {
    if (p11tls_ctx_new(&g_url_ctx) < 0 ||
        p11tls_ctx_set_pin_fn(g_url_ctx, p11tls::pin_from_gnutls, nullptr) < 0) {
        g_register_rc = GNUTLS_E_MEMORY_ERROR;
        return;
    }
    static const gnutls_custom_url_st kPkcs11 = {
        "pkcs11:", sizeof "pkcs11:" - 1, import_key, import_crt, nullptr, nullptr, nullptr, nullptr};
    g_register_rc = gnutls_register_custom_url(&kPkcs11);
}

}  // namespace

extern "C" int p11tls_gnutls_register_url(void) {
    pthread_once(&g_register_once, register_once);
    return g_register_rc;
}
