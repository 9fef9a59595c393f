// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The certificates of a trust list's tokens in memory, by subject, so that
// the issuer lookup GnuTLS makes during a verification costs no token
// search. Immutable once built: a refresh builds a new one.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <gnutls/x509.h>

#include "cert/trust.hpp"

namespace p11tls {

class IssuerIndex {
public:
    // Certificates that do not parse are left out.
    explicit IssuerIndex(const std::vector<Der> &certs);
    ~IssuerIndex();
    IssuerIndex(const IssuerIndex &) = delete;
    IssuerIndex &operator=(const IssuerIndex &) = delete;

    // The issuers of cert found here: its issuer, that one's, ... up to
    // max, stopping before a self-signed certificate (an anchor is in the
    // trust list already; a root that is not one cannot help). Among
    // certificates sharing a subject, gnutls_x509_crt_check_issuer picks
    // by key identifier. *missing is the DER name of the first issuer not
    // found here (empty if the chain ended at a self-signed certificate or
    // max).
    std::vector<const Der *> issuers_of(gnutls_x509_crt_t cert, unsigned max,
                                        std::string *missing) const;
    const std::vector<Der> &certificates() const { return ders_; }

private:
    struct Entry {
        gnutls_x509_crt_t crt;
        size_t der;  // index into ders_
        bool self_signed;
    };
    std::vector<Der> ders_;
    std::vector<Entry> entries_;
    std::multimap<std::string, size_t> by_subject_;  // raw subject DN -> entries_ index
};

// The raw issuer DN of cert, empty if GnuTLS cannot give it.
std::string raw_issuer_dn(gnutls_x509_crt_t cert);

}  // namespace p11tls
