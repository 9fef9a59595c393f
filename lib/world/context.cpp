// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "world/context.hpp"

#include <pthread.h>

#include "gnutls/pin.hpp"

namespace p11tls {

PinFn CtxState::pin_fn() const {
    // The default context cannot be given a PIN function (it is shared), but
    // a program moving from GnuTLS's PKCS#11 code has already set GnuTLS's
    // process-wide one: the default context asks that.
    if (is_default_) return gnutls_process_pin_fn();
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
