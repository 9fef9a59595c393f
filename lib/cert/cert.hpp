// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Certificates by URI: read-only searches that need no key binding.
// Listing is in list.hpp.
#pragma once
#include <vector>

#include <p11tls/p11tls.h>

#include "world/context.hpp"

namespace p11tls {

class TokenState;

// The one certificate the URI names: its token, its DER value and its
// CKA_PUBLIC_KEY_INFO (empty where the token does not keep it).
// P11TLS_E_NOT_FOUND, P11TLS_E_AMBIGUOUS, P11TLS_E_INVALID_ARGUMENT (a URI
// naming another type), P11TLS_E_TOKEN_NOT_PRESENT.
struct FoundCert {
    TokenState *token = nullptr;
    std::vector<unsigned char> der, spki;
};
FoundCert find_cert(const CtxState &ctx, const char *uri);

std::vector<unsigned char> cert_der(const CtxState &ctx, const char *uri);
// The certificate the URI names (first), then every other certificate on
// its token: where its issuers are looked for. Fails as cert_der() does
// when the URI names no single certificate.
std::vector<std::vector<unsigned char>> certs_beside(const CtxState &ctx, const char *uri);

}  // namespace p11tls
