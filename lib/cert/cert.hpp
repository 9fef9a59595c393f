// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Certificates by URI: read-only searches that need no key binding.
// Listing is in list.hpp.
#pragma once
#include <vector>

#include <p11tls/p11tls.h>

#include "world/context.hpp"
#include "world/token_state.hpp"

namespace p11tls {

// A certificate and the token it is on (this generation's), with its
// CKA_PUBLIC_KEY_INFO (empty where the token does not keep it: p11-kit's
// trust module does, and staples extensions to it).
struct TokenCert {
    TokenState *token = nullptr;
    std::vector<unsigned char> der, spki;
};

// The one certificate the URI names. flags (p11tls.h):
// P11TLS_CERT_NEWEST: several certificates of one public key (a renewal)
// are no ambiguity: the one valid now, newest, is taken (cert/pick.hpp).
// P11TLS_CERT_LOGIN: a certificate not seen without a login (CKA_PRIVATE)
// is looked for again after logging in, on the one token the URI names
// (several tokens: P11TLS_E_AMBIGUOUS naming them, no login).
// Fails with P11TLS_E_NOT_FOUND, or P11TLS_E_AMBIGUOUS whose detail names
// the certificates that match (subject, serial, validity).
TokenCert find_cert(const CtxState &ctx, const char *uri, unsigned flags = 0);
std::vector<unsigned char> cert_der(const CtxState &ctx, const char *uri, unsigned flags = 0);

}  // namespace p11tls
