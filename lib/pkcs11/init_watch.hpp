// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Other callers in the process that finalize a module p11tls uses (libp11,
// pam_p11, an OpenSSL engine: each C_Initialize and C_Finalize the module
// directly, not through p11-kit). This layer only counts: p11tls's
// initializations of a module, and which of them a module call found gone
// (CKR_CRYPTOKI_NOT_INITIALIZED outside a fork). The world layer turns a
// lost initialization into a new epoch of the module (world/world.hpp,
// doc/fork-model.md "Modules finalized by another caller").
#pragma once
#include <atomic>
#include <cstdint>

#include <p11-kit/pkcs11.h>

namespace p11tls {

struct Module;

// The other mutable part of a Module record (module.hpp), read and written
// by any thread. Numbers are per process (a forked child goes on counting
// from its parent's, with a world of its own).
struct InitWatch {
    // p11tls's initializations of the module, numbered from 1 (0: none yet).
    std::atomic<uint64_t> inits{0};
    // The highest initialization number that a module call, started while it
    // was the latest, found gone: CKR_CRYPTOKI_NOT_INITIALIZED.
    std::atomic<uint64_t> lost_upto{0};
    // The module's own function list (not p11-kit's managed one), loaded the
    // first time the module must be initialized again; null until then, or
    // where p11-kit has none (a remote module).
    std::atomic<CK_FUNCTION_LIST *> raw{nullptr};
    std::atomic<bool> raw_loaded{false};
};

// After a successful C_Initialize (and C_GetInfo): the new initialization's
// number, which init_lost() takes.
uint64_t note_initialized(const Module *m) noexcept;

// Whether a call made under initialization init_no (or a later one) was
// answered CKR_CRYPTOKI_NOT_INITIALIZED: someone finalized the module since.
bool init_lost(const Module *m, uint64_t init_no) noexcept;

// For call() (module.hpp): a call made while initialization number at was
// the latest answered CKR_CRYPTOKI_NOT_INITIALIZED. Also marks the calling
// thread (state_lost_seen).
void note_not_initialized(const Module *m, uint64_t at) noexcept;

// Whether, since the last clear, a call on this thread found that the state
// p11tls keeps of a module or token is gone: a module call answered
// CKR_CRYPTOKI_NOT_INITIALIZED, an epoch ended under it, or every session of
// a token was closed (by another caller: libp11 calls C_CloseAllSessions).
// The C boundary then starts its call over once (capi/guard.hpp).
void clear_state_lost() noexcept;
void mark_state_lost() noexcept;
bool state_lost_seen() noexcept;

// C_Initialize on the module itself, bypassing p11-kit's managed layer,
// which still counts the module as initialized by us (so would answer
// CKR_CRYPTOKI_ALREADY_INITIALIZED without calling it) and could only
// reinitialize it by finalizing it first, under whoever initialized it again
// meanwhile. Nothing is finalized here: CKR_CRYPTOKI_ALREADY_INITIALIZED
// (another caller was first) is accepted by the caller as it is. Where
// p11-kit has no function list of the module's own (a remote module, which
// no other caller can finalize), p11-kit's managed instance is finalized and
// initialized again instead (p11-kit calls the module only if no other of
// its callers holds it). Inside the fork gate.
CK_RV initialize_again(const Module *m, CK_C_INITIALIZE_ARGS *args);

}  // namespace p11tls
