// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/fork_sharing.hpp"

#include <new>

#include <sys/mman.h>
#include <unistd.h>

#include "base/fork.hpp"
#include "pkcs11/ckrv.hpp"
#include "pkcs11/module.hpp"
#include "uri/uri.hpp"

namespace p11tls {

namespace {

// The word lives in a MAP_SHARED page, seen by this process and its forked
// children: a lock-free atomic is then one machine word, as valid across
// processes as within one.
static_assert(std::atomic<uint32_t>::is_always_lock_free, "the fork mark is shared across processes");

// tpm2-pkcs11's C_GetInfo description. Through p11-kit server the client
// module describes itself ("PKCS#11 Kit Proxy Module"): the TPM's module
// then runs in the server's process alone, and a forwarded token is used
// in forked children like any other (tests/modules/tpm2_test.sh).
constexpr char kTpm2Pkcs11[] = "TPM2.0 Cryptoki";

}  // namespace

// Release stores and acquire loads: a mark is published only once its
// page is mapped, and a child's store to its parent's word is seen by
// whichever thread of the parent reads it.
void module_initialized(const Module *m, const CK_INFO &info) {
    ForkSharing &fs = m->fork_sharing;
    if (P11TLS_FIELD(info.libraryDescription) == kTpm2Pkcs11 &&
        fs.known_gen.load(std::memory_order_acquire) == 0) {
        fs.known_pid.store((int)getpid(), std::memory_order_relaxed);
        fs.known_gen.store(current_generation(), std::memory_order_release);
    }
    std::atomic<uint32_t> *inherited = fs.mark.load(std::memory_order_acquire);
    // Set in an earlier generation (ours is made below, once): an ancestor's.
    if (inherited) inherited->store(1u, std::memory_order_release);
    void *page = mmap(nullptr, sizeof(std::atomic<uint32_t>), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    // Without it, fork sharing is not detected: failures read as before.
    std::atomic<uint32_t> *own = page == MAP_FAILED ? nullptr : new (page) std::atomic<uint32_t>(0u);
    fs.mark.store(own, std::memory_order_release);
}

bool shares_state_with_children(const Module *m) {
    return m->fork_sharing.known_gen.load(std::memory_order_acquire) != 0;
}

std::string inherited_state(const Module *m) {
    const ForkSharing &fs = m->fork_sharing;
    const uint64_t gen = fs.known_gen.load(std::memory_order_acquire);
    if (gen == 0 || gen == current_generation()) return "";
    return "module " + m->name + " shares its state with forked children: process " +
           std::to_string(fs.known_pid.load(std::memory_order_relaxed)) +
           " initialized it, then forked this one, so p11tls does not call it here (two processes "
           "using that state break each other, and each refused TPM authorization counts against "
           "the TPM's dictionary-attack lockout); open its keys only after fork(), or reach it "
           "through p11-kit server (see doc/modules.md)";
}

std::string fork_sharing_note(const Module *m, CK_RV rv) {
    std::atomic<uint32_t> *own = m->fork_sharing.mark.load(std::memory_order_acquire);
    if (!own || !own->load(std::memory_order_acquire) || ckr_to_error(rv) != P11TLS_E_DEVICE) return "";
    return "; module " + m->name +
           " may share its state with forked children: a process forked from this one used it "
           "(see doc/modules.md)";
}

}  // namespace p11tls
