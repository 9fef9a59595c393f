// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "world/context.hpp"

#include <pthread.h>

namespace p11tls {

namespace {
// Constant-initialized: a source registered by another file's static
// initializer is kept whatever the order of initialization.
std::atomic<DefaultPinSource> g_default_pin_source{nullptr};
}  // namespace

void set_default_pin_source(DefaultPinSource source) {
    g_default_pin_source.store(source, std::memory_order_release);
}

PinFn CtxState::pin_fn() const {
    // The default context cannot be given a PIN function (it is shared):
    // it asks the registered source (see set_default_pin_source).
    if (is_default_) {
        DefaultPinSource source = g_default_pin_source.load(std::memory_order_acquire);
        return source ? source() : PinFn{};
    }
    GenSpinGuard g(lock_);
    return pin_;
}

void CtxState::set_pin_fn(PinFn f) {
    GenSpinGuard g(lock_);
    pin_ = f;
}

void CtxState::add_module(Module *m) {
    GenSpinGuard g(lock_);
    for (size_t i = 0; i < failed_.size(); ++i)
        if (failed_[i].path == m->path) failed_.erase(failed_.begin() + i--);
    for (Module *x : extra_)
        if (x == m) return;
    extra_.push_back(m);
}

std::vector<Module *> CtxState::modules() const {
    std::vector<Module *> out;
    if (!(flags() & P11TLS_CTX_NO_REGISTERED_MODULES)) out = registered_modules();
    GenSpinGuard g(lock_);
    for (Module *m : extra_) {
        bool dup = false;
        for (Module *x : out) dup = dup || x == m;
        if (!dup) out.push_back(m);
    }
    return out;
}

void CtxState::add_failed_module(const std::string &path, int status, const std::string &error) {
    GenSpinGuard g(lock_);
    for (FailedModule &f : failed_)
        if (f.path == path) {
            f.status = status;
            f.error = error;
            return;
        }
    failed_.push_back({path, status, error});
}

std::vector<CtxState::FailedModule> CtxState::failed_modules() const {
    GenSpinGuard g(lock_);
    return failed_;
}

namespace {
// A pointer, not an object: no destructor runs at exit or dlclose.
std::shared_ptr<CtxState> *g_default;
pthread_once_t g_default_once = PTHREAD_ONCE_INIT;
void make_default() { g_default = new std::shared_ptr<CtxState>(std::make_shared<CtxState>(true)); }
}  // namespace

const std::shared_ptr<CtxState> &default_ctx() {
    pthread_once(&g_default_once, make_default);
    return *g_default;
}

}  // namespace p11tls
