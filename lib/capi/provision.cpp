// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Exported provisioning functions (include/p11tls/provision.h). None is
// started again in a child its PIN function forked: each changes a token.
#include <p11tls/provision.h>

#include "capi/guard.hpp"
#include "provision/provision.hpp"

using namespace p11tls;

extern "C" {

int p11tls_token_set_pin(p11tls_ctx *ctx, const char *token_uri, unsigned flags) {
    return guard(__func__, state_of(ctx)->log(), [&] {
        if (!token_uri) fail(P11TLS_E_INVALID_ARGUMENT, "token_uri is NULL");
        if (flags) fail(P11TLS_E_INVALID_ARGUMENT, "unknown flags");
        set_user_pin(*state_of(ctx), token_uri);
        return 0;
    });
}

}  // extern "C"
