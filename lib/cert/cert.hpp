// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Certificates by URI: read-only searches that need no key binding.
// Listing is in list.hpp.
#pragma once
#include <vector>

#include <p11tls/p11tls.h>

#include "world/context.hpp"

namespace p11tls {

std::vector<unsigned char> cert_der(const CtxState &ctx, const char *uri);
// The certificate the URI names (first), then every other certificate on
// its token: where its issuers are looked for. Fails as cert_der() does
// when the URI names no single certificate.
std::vector<std::vector<unsigned char>> certs_beside(const CtxState &ctx, const char *uri);

}  // namespace p11tls
