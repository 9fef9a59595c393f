// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Exported listing functions.
#include <p11tls/p11tls.h>

#include "capi/guard.hpp"
#include "cert/list.hpp"

using namespace p11tls;

extern "C" {

int p11tls_list_tokens(p11tls_ctx *ctx, const char *uri, p11tls_token_cb cb, void *arg) {
    return guard(__func__, state_of(ctx)->log(), [&] {
        if (!cb) fail(P11TLS_E_INVALID_ARGUMENT, "callback is NULL");
        return list_tokens(*state_of(ctx), uri, cb, arg);
    });
}

int p11tls_list_objects(p11tls_ctx *ctx, const char *uri, unsigned flags, p11tls_object_cb cb,
                        void *arg) {
    return guard(__func__, state_of(ctx)->log(), [&] {
        if (!cb) fail(P11TLS_E_INVALID_ARGUMENT, "callback is NULL");
        return list_objects(*state_of(ctx), uri, flags, cb, arg);
    });
}

int p11tls_list_modules(p11tls_ctx *ctx, p11tls_module_cb cb, void *arg) {
    return guard(__func__, state_of(ctx)->log(), [&] {
        if (!cb) fail(P11TLS_E_INVALID_ARGUMENT, "callback is NULL");
        return list_modules(*state_of(ctx), cb, arg);
    });
}

}  // extern "C"
