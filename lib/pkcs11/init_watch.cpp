// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/init_watch.hpp"

#include <p11-kit/p11-kit.h>

#include "base/fork.hpp"
#include "base/log.hpp"
#include "pkcs11/module.hpp"

namespace p11tls {

namespace {
// Trivially destructible: valid in every thread, after fork and dlclose.
thread_local bool t_state_lost = false;

// The module's own function list, through p11-kit (the same library p11-kit
// loaded: it is found by its function list, not loaded twice). Loaded once;
// null where p11-kit has none. A race loads it twice at worst, and p11-kit
// counts both references: the module stays loaded for good anyway.
CK_FUNCTION_LIST *raw_functions(const Module *m) {
    InitWatch &w = m->init_watch;
    if (!w.raw_loaded.load(std::memory_order_acquire)) {
        CK_FUNCTION_LIST *fl = nullptr;
        if (!m->path.empty()) fl = p11_kit_module_load(m->path.c_str(), P11_KIT_MODULE_UNMANAGED);
        if (!fl) debug("module %s: no function list of its own from p11-kit", m->name.c_str());
        w.raw.store(fl, std::memory_order_release);
        w.raw_loaded.store(true, std::memory_order_release);
    }
    return w.raw.load(std::memory_order_acquire);
}
}  // namespace

uint64_t note_initialized(const Module *m) noexcept {
    return m->init_watch.inits.fetch_add(1, std::memory_order_acq_rel) + 1;
}

bool init_lost(const Module *m, uint64_t init_no) noexcept {
    return init_no != 0 && m->init_watch.lost_upto.load(std::memory_order_acquire) >= init_no;
}

void note_not_initialized(const Module *m, uint64_t at) noexcept {
    t_state_lost = true;
    std::atomic<uint64_t> &lost = m->init_watch.lost_upto;
    uint64_t cur = lost.load(std::memory_order_relaxed);
    while (cur < at && !lost.compare_exchange_weak(cur, at, std::memory_order_acq_rel)) {
    }
}

void clear_state_lost() noexcept { t_state_lost = false; }
void mark_state_lost() noexcept { t_state_lost = true; }
bool state_lost_seen() noexcept { return t_state_lost; }

CK_RV initialize_again(const Module *m, CK_C_INITIALIZE_ARGS *args) {
    // A link module reconnects only when finalized (its own function list
    // would answer CKR_CRYPTOKI_ALREADY_INITIALIZED over the dead link).
    if (CK_FUNCTION_LIST *raw = m->link ? nullptr : raw_functions(m)) {
        CK_RV rv;
        {
            GateGuard gate;
            SerialCall serial(m);
            rv = raw->C_Initialize(args);
        }
        if (rv != CKR_OK) debug("module %s: C_Initialize (again): %s", m->name.c_str(), ckr_name(rv));
        return rv;
    }
    P11CALL(m, C_Finalize, (void *)nullptr);
    return P11CALL(m, C_Initialize, (void *)args);
}

}  // namespace p11tls
