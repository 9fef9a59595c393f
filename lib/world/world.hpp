// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The per-generation state: module initialization, tokens, session pools
// and login. A world belongs to one fork generation; a child builds its own
// on first use and never touches (or frees) the one it inherited, whose
// locks may have been held by threads that do not exist there.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "pkcs11/module.hpp"
#include "world/module_state.hpp"

namespace p11tls {

class World {
public:
    explicit World(uint64_t gen) : gen_(gen) {}
    uint64_t generation() const { return gen_; }
    ModuleState *state(Module *m);

private:
    const uint64_t gen_;
    std::mutex mu_;                                 // guards states_
    std::vector<std::unique_ptr<ModuleState>> states_;
};

// The world of the current generation, built on first use in a process.
World &current_world();

}  // namespace p11tls
