// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Modules that keep sharing their state with forked children
// (tpm2-pkcs11: the child takes over the parent's TPM sessions), told
// apart from a random failure: a word in memory shared with forked
// children, set by a child that initializes the module.
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
    // A module known to keep sharing its state with forked children (by its
    // CK_INFO, see module_initialized()).
    std::atomic<bool> known{false};
    // The generation in which such a module failed after a child used it:
    // no further calls are made to it in that generation (a TPM counts each
    // refused authorization against its dictionary-attack lockout).
    std::atomic<uint64_t> broken_gen{0};
};

// Called once per generation after the module's C_Initialize succeeded,
// with its C_GetInfo: tells the process that initialized it before us (our
// parent) that a forked child uses it, and makes this generation's own mark.
void module_initialized(const Module *m, const CK_INFO &info);

// "; module X shares its state with forked children: ..." when a process
// forked from this one used m and rv is a device-class failure ("may
// share" unless the module is known to; a known one is then not called
// again in this generation), else "".
std::string fork_sharing_note(const Module *m, CK_RV rv);

// True if m is not to be called in this generation: a forked child took
// over its state (see fork_sharing_note); logs that what was not called.
bool taken_over(const Module *m, const char *what);

}  // namespace p11tls
