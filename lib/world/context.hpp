// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// One caller's settings. Keys hold a shared_ptr to it, so a caller may free
// its p11tls_ctx while keys opened through it live on.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <p11tls/p11tls.h>

#include "base/fork.hpp"
#include "base/log.hpp"
#include "pkcs11/module.hpp"

namespace p11tls {

struct PinFn {
    p11tls_pin_fn fn = nullptr;
    void *arg = nullptr;
};

class CtxState {
public:
    explicit CtxState(bool is_default) : is_default_(is_default) {}

    bool is_default() const { return is_default_; }
    int fork_policy() const { return fork_policy_.load(std::memory_order_acquire); }
    void set_fork_policy(int p) { fork_policy_.store(p, std::memory_order_release); }
    unsigned flags() const { return flags_.load(std::memory_order_acquire); }
    void set_flags(unsigned f) { flags_.store(f, std::memory_order_release); }
    // Where messages of operations through this context go (its own lock).
    LogSink *log() const { return &log_; }

    // Copied out under the lock and called without it (user code).
    PinFn pin_fn() const;
    void set_pin_fn(PinFn f);

    void add_module(Module *m);
    // The modules this context sees: registered ones (unless disabled) and
    // its own.
    std::vector<Module *> modules() const;

    // A module path that p11tls_ctx_add_module could not load. Listed by
    // p11tls_list_modules until the same path loads.
    struct FailedModule {
        std::string path;
        int status;
        std::string error;
    };
    void add_failed_module(const std::string &path, int status, const std::string &error);
    std::vector<FailedModule> failed_modules() const;

private:
    const bool is_default_;
    std::atomic<int> fork_policy_{P11TLS_FORK_REINIT};
    std::atomic<unsigned> flags_{0};
    mutable GenSpinLock lock_;     // guards pin_, extra_ and failed_
    PinFn pin_;
    std::vector<Module *> extra_;
    std::vector<FailedModule> failed_;
    mutable LogSink log_;
};

// The process default context (created once, never freed).
const std::shared_ptr<CtxState> &default_ctx();

// Where the default context's PIN function comes from, asked at each use.
// The default context is shared, so no caller may set one; a program that
// moves from GnuTLS's own PKCS#11 code has set GnuTLS's process-wide one,
// and the GnuTLS glue (gnutls/pin.cpp) registers the source that answers
// with it when the library is loaded. This layer knows nothing of GnuTLS:
// without a registered source the default context has no PIN function.
using DefaultPinSource = PinFn (*)();
void set_default_pin_source(DefaultPinSource source);

}  // namespace p11tls

struct p11tls_ctx {
    std::shared_ptr<p11tls::CtxState> state;
};

namespace p11tls {
// The state behind a caller's handle; NULL is the default context.
inline const std::shared_ptr<CtxState> &state_of(p11tls_ctx *ctx) {
    return ctx ? ctx->state : default_ctx();
}
}  // namespace p11tls
