// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A certificate's chain among the certificates beside it on its token,
// ordered by GnuTLS's issuer checks.
#pragma once
#include <vector>

#include <gnutls/x509.h>

namespace p11tls {

class CtxState;

// Deepest chain built; deeper ones are a loop or a store, not a chain.
constexpr unsigned kMaxChain = 8;

// Owns parsed certificates.
class CrtList {
public:
    CrtList() = default;
    CrtList(const CrtList &) = delete;
    CrtList &operator=(const CrtList &) = delete;
    ~CrtList();
    // Parses der: a GNUTLS_E_* code if it is no certificate.
    int add(const std::vector<unsigned char> &der);
    size_t size() const { return crts_.size(); }
    gnutls_x509_crt_t operator[](size_t i) const { return crts_[i]; }

private:
    std::vector<gnutls_x509_crt_t> crts_;
};

// Indexes into certs of the chain: the leaf (0), then each issuer found,
// up to a self-signed one, which is included only with with_root (a TLS
// peer must hold that anchor already, RFC 8446 4.4.2).
std::vector<size_t> chain_of(const CrtList &certs, bool with_root);

// The DER of the certificate uri names and of its issuers on its token,
// leaf first, the self-signed root last if it is there.
std::vector<std::vector<unsigned char>> cert_chain(const CtxState &ctx, const char *uri);

}  // namespace p11tls
