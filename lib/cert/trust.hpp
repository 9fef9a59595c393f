// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// What the tokens a URI names say about trust: anchors (CKA_TRUSTED,
// p11-kit trust assertions, NSS trust objects), distrust (p11-kit's
// blocklist CKA_X_DISTRUSTED, distrust assertions, CKT_NSS_NOT_TRUSTED) and
// every certificate (where issuers are looked for). Public objects only: no
// login. Nothing here knows GnuTLS; lib/gnutls/trust_list.cpp uses it.
#pragma once
#include <vector>

#include "world/context.hpp"

namespace p11tls {

using Der = std::vector<unsigned char>;

struct TrustObjects {
    std::vector<Der> anchors;       // trusted CA certificates, none of them distrusted
    std::vector<Der> distrusted;    // certificates the tokens refuse
    std::vector<Der> certificates;  // every X.509 certificate found
};

// Reads the trust objects of every token the URI names; the URI's object
// attributes (object=, id=) narrow the objects read. A URI naming keys
// fails with P11TLS_E_INVALID_ARGUMENT, no token with
// P11TLS_E_TOKEN_NOT_PRESENT.
TrustObjects read_trust(const CtxState &ctx, const char *uri);

// The certificates on the URI's tokens whose CKA_SUBJECT is subject (the
// DER name): one search per token.
std::vector<Der> certs_with_subject(const CtxState &ctx, const char *uri, const Der &subject);

}  // namespace p11tls
