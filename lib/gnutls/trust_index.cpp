// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "gnutls/trust_index.hpp"

#include <set>

namespace p11tls {

namespace {

std::string datum_string(int rc, const gnutls_datum_t &d) {
    return rc < 0 ? std::string() : std::string(reinterpret_cast<const char *>(d.data), d.size);
}

}  // namespace

std::string raw_issuer_dn(gnutls_x509_crt_t cert) {
    gnutls_datum_t d = {nullptr, 0};
    int rc = gnutls_x509_crt_get_raw_issuer_dn(cert, &d);
    std::string out = datum_string(rc, d);
    gnutls_free(d.data);
    return out;
}

IssuerIndex::IssuerIndex(const std::vector<Der> &certs) : ders_(certs) {
    for (size_t i = 0; i < ders_.size(); i++) {
        gnutls_x509_crt_t c;
        if (gnutls_x509_crt_init(&c) < 0) continue;
        gnutls_datum_t d = {const_cast<unsigned char *>(ders_[i].data()),
                            static_cast<unsigned>(ders_[i].size())};
        gnutls_datum_t dn = {nullptr, 0};
        if (gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_DER) < 0 ||
            gnutls_x509_crt_get_raw_dn(c, &dn) < 0) {
            gnutls_x509_crt_deinit(c);
            continue;
        }
        std::string subject(reinterpret_cast<const char *>(dn.data), dn.size);
        gnutls_free(dn.data);
        by_subject_.emplace(subject, entries_.size());
        entries_.push_back({c, i, gnutls_x509_crt_check_issuer(c, c) != 0});
    }
}

IssuerIndex::~IssuerIndex() {
    for (Entry &e : entries_) gnutls_x509_crt_deinit(e.crt);
}

std::vector<const Der *> IssuerIndex::issuers_of(gnutls_x509_crt_t cert, unsigned max,
                                                 std::string *missing) const {
    std::vector<const Der *> out;
    std::set<size_t> seen;
    missing->clear();
    gnutls_x509_crt_t cur = cert;
    while (out.size() < max) {
        std::string issuer = raw_issuer_dn(cur);
        auto range = by_subject_.equal_range(issuer);
        if (range.first == range.second) {
            *missing = issuer;
            break;
        }
        const Entry *next = nullptr;
        for (auto it = range.first; it != range.second && !next; ++it) {
            const Entry &e = entries_[it->second];
            if (!seen.count(it->second) && gnutls_x509_crt_check_issuer(cur, e.crt)) {
                next = &e;
                seen.insert(it->second);
            }
        }
        if (!next || next->self_signed) break;
        out.push_back(&ders_[next->der]);
        cur = next->crt;
    }
    return out;
}

}  // namespace p11tls
