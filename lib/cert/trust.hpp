// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// What the tokens a URI names say about trust: anchors (CKA_TRUSTED,
// p11-kit trust assertions, NSS trust objects) with the extensions stapled
// to them (p11-kit's CKO_X_CERTIFICATE_EXTENSION), distrust (p11-kit's
// blocklist CKA_X_DISTRUSTED, distrust assertions, CKT_NSS_NOT_TRUSTED),
// by value and by issuer and serial number, and every certificate (where
// issuers are looked for). Public objects only: no login. Nothing here
// knows GnuTLS; lib/gnutls/trust_list.cpp uses it.
#pragma once
#include "cert/cert.hpp"
#include <utility>
#include <vector>

#include "world/context.hpp"

namespace p11tls {

using Der = std::vector<unsigned char>;

// A certificate named by its issuer (the DER name) and serial number (the
// DER INTEGER), as PKCS#11's CKA_ISSUER and CKA_SERIAL_NUMBER hold them.
using IssuerSerial = std::pair<Der, Der>;

struct Anchor {
    Der der;
    // The DER Extensions (SEQUENCE { extnID, critical, extnValue }) stapled
    // to the certificate's public key on its token, in token order: they
    // replace the certificate's own extensions of the same OID.
    std::vector<Der> extensions;
};

struct TrustObjects {
    // Trusted CA certificates, none of them distrusted, in the order the
    // tokens list them (a PEM file of the same store has that order too,
    // and GnuTLS's lookups within a hash bucket follow it).
    std::vector<Anchor> anchors;
    std::vector<Der> distrusted;  // certificates the tokens refuse, by value
    // Every certificate the tokens refuse by issuer and serial number,
    // whether or not its value is on a token (p11-kit's blocklist may name
    // a certificate without holding it).
    std::vector<IssuerSerial> distrusted_serials;
    std::vector<Der> certificates;  // every X.509 certificate found
};

// Reads the trust objects of every token the URI names; the URI's object
// attributes (object=, id=) narrow the objects read. A URI naming keys
// fails with P11TLS_E_INVALID_ARGUMENT, no token with
// P11TLS_E_TOKEN_NOT_PRESENT. Each token is read in a new session (what the
// files of p11-kit's trust module say now).
TrustObjects read_trust(const CtxState &ctx, const char *uri);

// A certificate found on its token (cert/cert.hpp: find_cert) with the
// extensions stapled to its public key there.
Anchor cert_with_stapled_extensions(TokenCert c);

}  // namespace p11tls
