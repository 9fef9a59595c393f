// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Modules that keep sharing their state with forked children.
//
// tpm2-pkcs11 (up to 1.9 at least) keeps its TPM sessions and its
// connection to the resource manager in a forked child: whichever of the
// processes uses that state after the fork desynchronizes it for the
// others, whose next TPM command fails its authorization (a TPM lockout
// strike each). Re-initializing it in the child does not help (its
// C_Initialize answers "already initialized", and C_Finalize would flush
// the parent's sessions). So such a module, known by its CK_INFO, is used
// only by the process that initialized it: p11tls does not call it at all
// in a child of that process (inherited_state()).
//
// For other modules, a word in memory shared with forked children, set by
// a child that initializes the module, tells a later failure in the parent
// apart from a random one (fork_sharing_note()).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include <p11-kit/pkcs11.h>

namespace p11tls {

struct Module;

// A module's fork-sharing state: the only mutable part of a Module record
// (module.hpp), read and written by any thread of any generation.
struct ForkSharing {
    // A word in memory shared with forked children, made by the generation
    // that last initialized the module; a child initializing the module
    // sets its parent's word (see module_initialized()).
    std::atomic<std::atomic<uint32_t> *> mark{nullptr};
    // Set once a module known to share its state with forked children
    // (by its CK_INFO) was initialized: the generation and the process
    // that did it. Never cleared: every descendant of that process
    // inherits the module's state.
    std::atomic<uint64_t> known_gen{0};
    std::atomic<int> known_pid{0};
};

// Called once per generation after the module's C_Initialize succeeded,
// with its C_GetInfo: tells the process that initialized it before us (our
// parent) that a forked child uses it, makes this generation's own mark,
// and remembers a module known to share its state with forked children.
void module_initialized(const Module *m, const CK_INFO &info);

// Why m is not to be called in this process: "module X shares its state
// with forked children: process N initialized it and forked this one ...",
// for a module known to share its state that an ancestor of this process
// initialized; "" otherwise (not called: a cheap check).
std::string inherited_state(const Module *m);

// True if m is known to share its state with forked children (it was
// initialized in this process or an ancestor).
bool shares_state_with_children(const Module *m);

// "; module X may share its state with forked children: ..." when a
// process forked from this one used m and rv is a device-class failure,
// else "".
std::string fork_sharing_note(const Module *m, CK_RV rv);

}  // namespace p11tls
