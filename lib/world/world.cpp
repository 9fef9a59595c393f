// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Switching worlds: the current generation's world, built on first use.
#include "world/world.hpp"

#include "base/fork.hpp"
#include "base/log.hpp"

namespace p11tls {

namespace {
World *g_world;            // the current generation's world; older ones are abandoned
GenSpinLock g_world_lock;  // guards replacing g_world; a child may take it over
}  // namespace

World &current_world() {
    const uint64_t gen = current_generation();
    World *w = __atomic_load_n(&g_world, __ATOMIC_ACQUIRE);
    if (w && w->generation() == gen) return *w;
    GenSpinGuard g(g_world_lock);
    w = __atomic_load_n(&g_world, __ATOMIC_ACQUIRE);
    if (!w || w->generation() != gen) {
        if (w) log_info("generation %llu: new world after fork", (unsigned long long)gen);
        w = new World(gen);  // the previous one is leaked on purpose (fork model, item 3)
        __atomic_store_n(&g_world, w, __ATOMIC_RELEASE);
    }
    return *w;
}

ModuleState *World::state(Module *m) {
    std::lock_guard<std::mutex> g(mu_);
    for (auto &s : states_)
        if (s->module() == m) return s.get();
    states_.push_back(std::make_unique<ModuleState>(m));
    return states_.back().get();
}

}  // namespace p11tls
