// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// GnuTLS glue: token certificates as gnutls_x509_crt_t, and a certificate
// with its chain and its token key as one entry of a credentials structure.
#include <p11tls/gnutls.h>

#include <string>
#include <vector>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "capi/guard.hpp"
#include "cert/cert.hpp"
#include "cert/chain.hpp"
#include "gnutls/errmap.hpp"
#include "world/context.hpp"

using namespace p11tls;

namespace {

// "RSA 2048 bits", from what GnuTLS says of a public key.
std::string describe_key(int alg, unsigned bits) {
    const char *name = alg > 0 ? gnutls_pk_get_name(static_cast<gnutls_pk_algorithm_t>(alg)) : nullptr;
    return std::string(name ? name : "unknown algorithm") + " " + std::to_string(bits) + " bits";
}

// What the caller needs to find the wrong half: the certificate's subject
// and the two keys' types and sizes (no URI as given: it may hold a PIN).
std::string mismatch_detail(gnutls_x509_crt_t crt, gnutls_privkey_t pkey) {
    std::string subject = "?";
    gnutls_datum_t dn = {nullptr, 0};
    if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
        subject.assign(reinterpret_cast<const char *>(dn.data), dn.size);
        gnutls_free(dn.data);
    }
    unsigned cert_bits = 0, key_bits = 0;
    int cert_alg = gnutls_x509_crt_get_pk_algorithm(crt, &cert_bits);
    int key_alg = gnutls_privkey_get_pk_algorithm(pkey, &key_bits);
    return "the private key (" + describe_key(key_alg, key_bits) +
           ") does not belong to the certificate '" + subject + "' (" +
           describe_key(cert_alg, cert_bits) + ")";
}

}  // namespace

extern "C" int p11tls_gnutls_x509_crt_import(gnutls_x509_crt_t crt, p11tls_ctx *ctx,
                                             const char *uri) {
    if (!crt || !uri) return GNUTLS_E_INVALID_REQUEST;
    uint8_t *der = nullptr;
    size_t len = 0;
    int rc = p11tls_cert_get_der(ctx, uri, &der, &len);
    if (rc < 0) return gnutls_error_of(rc);
    gnutls_datum_t d = {der, static_cast<unsigned>(len)};
    rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
    p11tls_free(der);
    return rc;
}

extern "C" int p11tls_gnutls_certificate_set_key(gnutls_certificate_credentials_t cred,
                                                 p11tls_ctx *ctx, const char *cert_uri,
                                                 const char *key_uri) {
    if (!cred || !cert_uri || !key_uri) return GNUTLS_E_INVALID_REQUEST;
    std::vector<std::vector<unsigned char>> ders;
    LogSink *log = state_of(ctx)->log();
    // A renewed certificate beside the old one (same label and ID) is not
    // ambiguous here: the one valid now, newest.
    int rc = guard<true>(__func__, log, [&] {
        ders = chain_from(find_cert(*state_of(ctx), cert_uri, P11TLS_CERT_NEWEST), false);
        return 0;
    });
    if (rc < 0) return gnutls_error_of(rc);

    CrtList certs;
    for (size_t i = 0; i < ders.size(); i++) {
        rc = certs.add(ders[i]);
        if (rc < 0) return rc;  // chain_from parsed each one
    }

    gnutls_pcert_st pcerts[kMaxChain];
    unsigned n = 0;
    for (size_t i = 0; i < certs.size(); i++) {
        rc = gnutls_pcert_import_x509(&pcerts[n], certs[i], 0);
        if (rc < 0) break;
        n++;
    }
    gnutls_privkey_t pkey = nullptr;
    if (rc >= 0) rc = gnutls_privkey_init(&pkey);
    if (rc >= 0) rc = p11tls_gnutls_privkey_import(pkey, ctx, key_uri, 0);
    // GnuTLS checks here that the key belongs to the certificate.
    if (rc >= 0) rc = gnutls_certificate_set_key(cred, nullptr, 0, pcerts, static_cast<int>(n), pkey);
    if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        LogScope scope(log);
        std::string detail = mismatch_detail(certs[0], pkey);
        set_last_error(detail.c_str());
        log_error("%s: %s", __func__, detail.c_str());
    }
    if (rc < 0) {
        for (unsigned i = 0; i < n; i++) gnutls_pcert_deinit(&pcerts[i]);
        if (pkey) gnutls_privkey_deinit(pkey);
    }
    return rc;  // on success cred owns the certificates' data and the key
}
