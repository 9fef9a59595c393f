// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Chains of token certificates: issuers by subject.
#include "cert/chain.hpp"

#include <algorithm>
#include <string>

#include "base/error.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/search.hpp"
#include "world/pooled_session.hpp"

namespace p11tls {

namespace {

// More certificates than this with one subject: refused (P11TLS_E_UNSUPPORTED)
// rather than some of them read: an issuer left out would be a shorter
// chain, silently.
constexpr size_t kMaxSameSubject = 1024;

using Der = std::vector<unsigned char>;

std::vector<Der> with_subject(TokenState *t, const gnutls_datum_t &subject) {
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    const std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof cls},
                                            {CKA_SUBJECT, subject.data, (CK_ULONG)subject.size}};
    PooledSession s(t);
    auto handles = find_objects(t->module(), s.get(), tmpl, kMaxSameSubject + 1);
    if (handles.size() > kMaxSameSubject)
        fail(P11TLS_E_UNSUPPORTED, "token " + t->label() + " has more than " + std::to_string(kMaxSameSubject) +
                                       " certificates with one subject; not building a chain from some of them");
    std::vector<Der> out;
    for (CK_OBJECT_HANDLE h : handles) {
        Der der = get_attribute(t->module(), s.get(), h, CKA_VALUE);
        if (!der.empty()) out.push_back(std::move(der));
    }
    return out;
}

// Whether issuer's key made cur's signature (no time or purpose checks:
// which certificate is the issuer, not whether the chain is trusted).
bool signed_by(gnutls_x509_crt_t cur, gnutls_x509_crt_t issuer) {
    unsigned status = 0;
    const unsigned flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS |
                           GNUTLS_VERIFY_ALLOW_ANY_X509_V1_CA_CRT | GNUTLS_VERIFY_DISABLE_CA_SIGN;
    return gnutls_x509_crt_verify(cur, &issuer, 1, flags, &status) >= 0 && status == 0;
}

}  // namespace

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

std::vector<Der> chain_from(const TokenCert &leaf, bool with_root) {
    std::vector<Der> out = {leaf.der};
    CrtList chain;  // chain[i] is out[i], parsed
    if (chain.add(leaf.der) < 0) fail(P11TLS_E_DEVICE, "the certificate on the token does not parse");
    while (out.size() < kMaxChain) {
        gnutls_x509_crt_t cur = chain[chain.size() - 1];
        if (gnutls_x509_crt_check_issuer(cur, cur)) break;
        gnutls_datum_t issuer_dn = {nullptr, 0};
        if (gnutls_x509_crt_get_raw_issuer_dn(cur, &issuer_dn) < 0) break;
        std::vector<Der> found = with_subject(leaf.token, issuer_dn);
        gnutls_free(issuer_dn.data);
        // The candidates GnuTLS takes for cur's issuer, one already in the
        // chain excepted (a loop); the one whose key signed cur first.
        CrtList candidates;
        std::vector<const Der *> ders;
        for (const Der &d : found) {
            if (std::find(out.begin(), out.end(), d) != out.end() || candidates.add(d) < 0) continue;
            if (gnutls_x509_crt_check_issuer(cur, candidates[candidates.size() - 1])) ders.push_back(&d);
            else ders.push_back(nullptr);
        }
        const Der *next = nullptr;
        for (size_t i = 0; i < ders.size() && !next; ++i)
            if (ders[i] && signed_by(cur, candidates[i])) next = ders[i];
        for (size_t i = 0; i < ders.size() && !next; ++i) next = ders[i];
        if (!next) break;
        chain.add(*next);
        if (!with_root && gnutls_x509_crt_check_issuer(chain[chain.size() - 1], chain[chain.size() - 1])) break;
        out.push_back(*next);
    }
    return out;
}

std::vector<Der> cert_chain(const CtxState &ctx, const char *uri, unsigned flags) {
    return chain_from(find_cert(ctx, uri, flags), true);
}

}  // namespace p11tls
