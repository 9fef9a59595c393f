// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Exported context functions.
#include "base/error.hpp"
#include "capi/guard.hpp"
#include "uri/uri.hpp"
#include "world/context.hpp"
#include "world/token_wait.hpp"

using namespace p11tls;

namespace {
// The default context may be read by anyone but configured by no one: it
// is shared by every caller in the process.
int check_configurable(p11tls_ctx *ctx) {
    if (!ctx) fail(P11TLS_E_INVALID_ARGUMENT, "the default context cannot be configured; use p11tls_ctx_new()");
    return 0;
}
}  // namespace

extern "C" {

int p11tls_ctx_wait_for_token(p11tls_ctx *ctx, const char *uri, unsigned timeout_ms) {
    return guard(__func__, state_of(ctx)->log(), [&] {
        wait_for_token(*state_of(ctx), Uri::parse(uri), timeout_ms);
        return 0;
    });
}

int p11tls_ctx_new(p11tls_ctx **out_ctx) {
    return guard(__func__, [&] {
        if (!out_ctx) fail(P11TLS_E_INVALID_ARGUMENT, "out_ctx is NULL");
        *out_ctx = new p11tls_ctx{std::make_shared<CtxState>(false)};
        return 0;
    });
}

void p11tls_ctx_free(p11tls_ctx *ctx) {
    // Keys may keep the state alive; the caller's log function ends here.
    if (ctx) ctx->state->log()->set(nullptr, nullptr, 0);
    delete ctx;
}

int p11tls_ctx_set_pin_fn(p11tls_ctx *ctx, p11tls_pin_fn fn, void *arg) {
    return guard(__func__, [&] {
        check_configurable(ctx);
        ctx->state->set_pin_fn({fn, arg});
        return 0;
    });
}

int p11tls_ctx_set_log_fn(p11tls_ctx *ctx, p11tls_log_fn fn, void *arg, int max_level) {
    return guard(__func__, [&] {
        check_configurable(ctx);
        if (fn && (max_level < P11TLS_LOG_ERROR || max_level > P11TLS_LOG_DEBUG))
            fail(P11TLS_E_INVALID_ARGUMENT, "unknown log level");
        ctx->state->log()->set(fn, arg, max_level);
        return 0;
    });
}

int p11tls_ctx_set_fork_policy(p11tls_ctx *ctx, int policy) {
    return guard(__func__, [&] {
        check_configurable(ctx);
        if (policy != P11TLS_FORK_REINIT && policy != P11TLS_FORK_FAIL && policy != P11TLS_FORK_ABORT)
            fail(P11TLS_E_INVALID_ARGUMENT, "unknown fork policy");
        ctx->state->set_fork_policy(policy);
        return 0;
    });
}

int p11tls_ctx_add_module(p11tls_ctx *ctx, const char *module_path) {
    return p11tls_ctx_add_module_with_args(ctx, module_path, nullptr);
}

int p11tls_ctx_add_module_with_args(p11tls_ctx *ctx, const char *module_path, const char *init_reserved) {
    return guard(__func__, [&] {
        check_configurable(ctx);
        if (!module_path) fail(P11TLS_E_INVALID_ARGUMENT, "module_path is NULL");
        Module *m;
        try {
            m = load_module_path(module_path, init_reserved);
        } catch (const Error &e) {
            // Remembered, so that p11tls_list_modules shows it to whoever
            // lists the context's modules later (a diagnostic tool).
            if (e.code() == P11TLS_E_MODULE) ctx->state->add_failed_module(module_path, e.code(), e.what());
            throw;
        }
        ctx->state->add_module(m);
        return 0;
    });
}

int p11tls_ctx_set_flags(p11tls_ctx *ctx, unsigned flags) {
    return guard(__func__, [&] {
        check_configurable(ctx);
        if (flags & ~(P11TLS_CTX_NO_REGISTERED_MODULES | P11TLS_CTX_ALLOW_MODULE_PATH))
            fail(P11TLS_E_INVALID_ARGUMENT, "unknown context flag");
        ctx->state->set_flags(flags);
        return 0;
    });
}

}  // extern "C"
