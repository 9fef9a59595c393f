// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A certificate's chain on its token: each issuer looked for by its
// subject (CKA_SUBJECT), checked by GnuTLS's issuer checks.
#pragma once
#include <vector>

#include <gnutls/x509.h>

#include "cert/cert.hpp"

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

// The DER of leaf and of its issuers on leaf's token, leaf first, up to a
// self-signed one, which is included only with with_root (a TLS peer must
// hold that anchor already, RFC 8446 4.4.2). Each issuer is found by a
// search for the certificates whose CKA_SUBJECT is the issuer's name, as
// GnuTLS finds issuers on tokens: the number of other certificates on the
// token does not matter. Fails with P11TLS_E_DEVICE if leaf does not parse.
std::vector<std::vector<unsigned char>> chain_from(const TokenCert &leaf, bool with_root);

// The DER of the certificate uri names (find_cert, flags as there) and of
// its issuers on its token, the self-signed root last if it is there.
std::vector<std::vector<unsigned char>> cert_chain(const CtxState &ctx, const char *uri, unsigned flags = 0);

}  // namespace p11tls
