// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The per-generation state: module initialization, tokens, session pools
// and login. A world belongs to one fork generation; a child builds its own
// on first use and never touches (or frees) the one it inherited, whose
// locks may have been held by threads that do not exist there. Inside a
// world, each module lives in epochs: a new one when another caller in the
// process finalized the module (module_state.hpp).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "pkcs11/module.hpp"
#include "world/module_state.hpp"
#include "world/pin_memory.hpp"

namespace p11tls {

class World {
public:
    explicit World(uint64_t gen) : gen_(gen) {}
    uint64_t generation() const { return gen_; }
    // The module's current epoch (module_state.hpp). When another caller
    // finalized the module since that epoch's C_Initialize, the epoch is
    // ended (waiting for the calls still using its handles, at most
    // ModuleState::kDrainMs; P11TLS_E_MODULE if they do not finish) and a
    // new one begins, to be initialized on first use. Earlier epochs are
    // kept, never used again, until the world goes (TokenStates of theirs
    // may still be named by keys' bindings, which then rebind).
    ModuleState *state(Module *m);

private:
    struct Entry {
        Module *module;
        PinMemory pins;   // shared by the module's epochs
        std::mutex mu;    // guards epochs; held while an epoch ends
        std::vector<std::unique_ptr<ModuleState>> epochs;  // the last is current
    };
    const uint64_t gen_;
    std::mutex mu_;                                 // guards entries_
    std::vector<std::unique_ptr<Entry>> entries_;
};

// The world of the current generation, built on first use in a process.
World &current_world();

}  // namespace p11tls
