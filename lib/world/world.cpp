// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Switching worlds: the current generation's world, built on first use.
#include "world/world.hpp"

#include <atomic>

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
    std::lock_guard<std::mutex> g(mu_);
    for (auto &s : states_)
        if (s->module() == m) return s.get();
    states_.push_back(std::make_unique<ModuleState>(m));
    return states_.back().get();
}

}  // namespace p11tls
