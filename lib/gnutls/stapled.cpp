// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "gnutls/stapled.hpp"

#include <gnutls/gnutls.h>

#include "capi/guard.hpp"
#include "gnutls/der.hpp"
#include "gnutls/errmap.hpp"

namespace p11tls {

gnutls_x509_crt_t crt_from_der(const Der &der) {
    gnutls_x509_crt_t c;
    if (gnutls_x509_crt_init(&c) < 0) return nullptr;
    gnutls_datum_t d = {const_cast<unsigned char *>(der.data()), static_cast<unsigned>(der.size())};
    if (gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crt_deinit(c);
        return nullptr;
    }
    return c;
}

gnutls_x509_crt_t stapled_certificate(const Anchor &a, const char **why) {
    *why = nullptr;
    gnutls_x509_crt_t c = crt_from_der(a.der);
    if (!c) {
        *why = "not an X.509 certificate";
        return nullptr;
    }
    if (a.extensions.empty()) return c;
    for (const Der &ext : a.extensions) {
        Extension e;
        if (!parse_extension(ext, &e)) {
            *why = "a stapled extension is no DER Extension";
        } else if (gnutls_x509_crt_set_extension_by_oid(c, e.oid.c_str(), e.value.data(),
                                                        e.value.size(), e.critical) < 0) {
            *why = "GnuTLS refused a stapled extension";
        }
        if (*why) {
            gnutls_x509_crt_deinit(c);
            return nullptr;
        }
    }
    // Encoded again and parsed afresh, as GnuTLS does: a certificate read
    // from its DER, whose cached fields (names, DER) agree with it.
    gnutls_datum_t der = {nullptr, 0};
    int rc = gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &der);
    gnutls_x509_crt_deinit(c);
    if (rc < 0) {
        *why = "the certificate with its stapled extensions cannot be encoded";
        return nullptr;
    }
    c = crt_from_der(Der(der.data, der.data + der.size));
    gnutls_free(der.data);
    if (!c) *why = "the certificate with its stapled extensions does not parse";
    return c;
}

int import_crt_stapled(gnutls_x509_crt_t crt, const Anchor &a) {
    const char *why = nullptr;
    gnutls_x509_crt_t c = stapled_certificate(a, &why);
    if (!c) {
        set_last_error(why);
        return GNUTLS_E_PARSING_ERROR;
    }
    gnutls_datum_t der = {nullptr, 0};
    int rc = gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &der);
    gnutls_x509_crt_deinit(c);
    if (rc >= 0) rc = gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER);
    gnutls_free(der.data);
    return rc;
}

}  // namespace p11tls
