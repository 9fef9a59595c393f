// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Waiting for a token that is not there yet (p11tls_ctx_wait_for_token).
#pragma once
#include "world/context.hpp"

namespace p11tls {

class Uri;

// Returns once a token matching uri is visible to ctx; throws
// P11TLS_E_TIMEOUT (with what was seen) when none is after timeout_ms.
void wait_for_token(const CtxState &ctx, const Uri &uri, unsigned timeout_ms);

}  // namespace p11tls
