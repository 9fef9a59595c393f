// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Chains of token certificates.
#include "cert/chain.hpp"

#include "base/error.hpp"
#include "cert/cert.hpp"

namespace p11tls {

CrtList::~CrtList() {
    for (gnutls_x509_crt_t c : crts_) gnutls_x509_crt_deinit(c);
}

int CrtList::add(const std::vector<unsigned char> &der) {
    gnutls_x509_crt_t c;
    int rc = gnutls_x509_crt_init(&c);
    if (rc < 0) return rc;
    gnutls_datum_t d = {const_cast<unsigned char *>(der.data()), static_cast<unsigned>(der.size())};
    rc = gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_DER);
    if (rc < 0) {
        gnutls_x509_crt_deinit(c);
        return rc;
    }
    crts_.push_back(c);
    return 0;
}

std::vector<size_t> chain_of(const CrtList &certs, bool with_root) {
    std::vector<size_t> chain = {0};
    std::vector<bool> used(certs.size(), false);
    used[0] = true;
    while (chain.size() < kMaxChain) {
        gnutls_x509_crt_t cur = certs[chain.back()];
        if (gnutls_x509_crt_check_issuer(cur, cur)) break;
        size_t next = 0;
        for (size_t i = 1; i < certs.size() && !next; i++)
            if (!used[i] && gnutls_x509_crt_check_issuer(cur, certs[i])) next = i;
        if (!next) break;
        if (!with_root && gnutls_x509_crt_check_issuer(certs[next], certs[next])) break;
        used[next] = true;
        chain.push_back(next);
    }
    return chain;
}

std::vector<std::vector<unsigned char>> cert_chain(const CtxState &ctx, const char *uri) {
    std::vector<std::vector<unsigned char>> ders = certs_beside(ctx, uri);
    CrtList certs;
    std::vector<size_t> index;  // certs[i] is ders[index[i]]
    for (size_t i = 0; i < ders.size(); i++) {
        int rc = certs.add(ders[i]);
        if (rc < 0 && i == 0) fail(P11TLS_E_DEVICE, "the certificate on the token does not parse");
        if (rc >= 0) index.push_back(i);
    }
    std::vector<std::vector<unsigned char>> out;
    for (size_t i : chain_of(certs, true)) out.push_back(ders[index[i]]);
    return out;
}

}  // namespace p11tls
