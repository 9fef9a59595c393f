// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Exported certificate functions.
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

int p11tls_cert_get_der2(p11tls_ctx *ctx, const char *uri, unsigned flags, uint8_t **out_der, size_t *out_len) {
    return guard<true>(__func__, state_of(ctx)->log(), [&] {
        if (!uri) fail(P11TLS_E_INVALID_ARGUMENT, "uri is NULL");
        if (flags & ~(P11TLS_CERT_NEWEST | P11TLS_CERT_LOGIN)) fail(P11TLS_E_INVALID_ARGUMENT, "unknown flags");
        auto der = cert_der(*state_of(ctx), uri, flags);
        return alloc_out(der.data(), der.size(), out_der, out_len);
    });
}

}  // extern "C"
