// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Exported certificate function.
#include <p11tls/p11tls.h>

#include "capi/guard.hpp"
#include "capi/out.hpp"
#include "cert/cert.hpp"

using namespace p11tls;

extern "C" {

int p11tls_cert_get_der(p11tls_ctx *ctx, const char *uri, uint8_t **out_der, size_t *out_len) {
    return guard<true>(__func__, state_of(ctx)->log(), [&] {
        if (!uri) fail(P11TLS_E_INVALID_ARGUMENT, "uri is NULL");
        auto der = cert_der(*state_of(ctx), uri);
        return alloc_out(der.data(), der.size(), out_der, out_len);
    });
}

}  // extern "C"
