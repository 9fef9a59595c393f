// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Switching worlds: the current generation's world, built on first use.
#include "world/world.hpp"

#include <atomic>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"

namespace p11tls {

namespace {
// The current generation's world; older ones are abandoned. Trivially
// destructible, constant-initialized.
std::atomic<World *> g_world{nullptr};
GenSpinLock g_world_lock;  // guards replacing g_world; a child may take it over
}  // namespace

World &current_world() {
    const uint64_t gen = current_generation();
    World *w = g_world.load(std::memory_order_acquire);
    if (w && w->generation() == gen) return *w;
    GenSpinGuard g(g_world_lock);
    w = g_world.load(std::memory_order_acquire);
    if (!w || w->generation() != gen) {
        if (w) log_info("generation %llu: new world after fork", (unsigned long long)gen);
        w = new World(gen);  // the previous one is leaked on purpose (fork model, item 3)
        g_world.store(w, std::memory_order_release);
    }
    return *w;
}

ModuleState *World::state(Module *m) {
    Entry *e = nullptr;
    {
        std::lock_guard<std::mutex> g(mu_);
        for (auto &x : entries_)
            if (x->module == m) e = x.get();
        if (!e) {
            entries_.push_back(std::make_unique<Entry>());
            e = entries_.back().get();
            e->module = m;
            e->epochs.push_back(std::make_unique<ModuleState>(m, 0, &e->pins));
            return e->epochs.back().get();
        }
    }
    std::lock_guard<std::mutex> g(e->mu);
    ModuleState *cur = e->epochs.back().get();
    if (!cur->stale()) return cur;
    // Another caller finalized the module (libp11, pam_p11, an OpenSSL
    // engine: C_Finalize on the module itself). Its sessions, login and
    // handles are gone; calls still running on them finish first, so that
    // none reaches the module once it is initialized again and its numbers
    // name other things.
    if (!cur->end_epoch())
        fail(P11TLS_E_MODULE, "module " + m->name +
                                  " was finalized by another caller, and calls on its old sessions did not "
                                  "finish within " + std::to_string(ModuleState::kDrainMs) + " ms");
    e->epochs.push_back(std::make_unique<ModuleState>(m, cur->epoch() + 1, &e->pins));
    log_info("module %s: finalized by another caller in this process (CKR_CRYPTOKI_NOT_INITIALIZED): "
             "initializing it again (epoch %u)",
             m->name.c_str(), cur->epoch() + 1);
    return e->epochs.back().get();
}

}  // namespace p11tls
