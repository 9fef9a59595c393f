// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/fork_sharing.hpp"

#include <new>

#include <sys/mman.h>

#include "base/fork.hpp"
#include "base/log.hpp"
#include "pkcs11/ckrv.hpp"
#include "pkcs11/module.hpp"

namespace p11tls {

namespace {

// The word lives in a MAP_SHARED page, seen by this process and its forked
// children: a lock-free atomic is then one machine word, as valid across
// processes as within one.
static_assert(std::atomic<uint32_t>::is_always_lock_free, "the fork mark is shared across processes");

// A CK_INFO text field without its padding (blanks, and the NULs some
// modules pad with) at either end.
std::string blank_trimmed(const CK_UTF8CHAR *f, size_t n) {
    std::string r(reinterpret_cast<const char *>(f), n);
    const size_t b = r.find_first_not_of(std::string(" \0", 2));
    const size_t e = r.find_last_not_of(std::string(" \0", 2));
    return b == std::string::npos ? std::string() : r.substr(b, e - b + 1);
}

}  // namespace

// Release stores and acquire loads, as before the fields were std::atomic:
// a mark is published only once its page is mapped, and a child's store
// to its parent's word is seen by whichever thread of the parent reads it.
void module_initialized(const Module *m, const CK_INFO &info) {
    // tpm2-pkcs11 (up to 1.9 at least) keeps its TPM sessions, and the
    // connection to the resource manager, in a forked child: a child's
    // signature desynchronizes the parent's session, whose every later use
    // fails.
    static const char kTpm2Pkcs11[] = "TPM2.0 Cryptoki";
    ForkSharing &fs = m->fork_sharing;
    if (blank_trimmed(info.libraryDescription, sizeof info.libraryDescription) == kTpm2Pkcs11)
        fs.known.store(true, std::memory_order_release);
    std::atomic<uint32_t> *inherited = fs.mark.load(std::memory_order_acquire);
    // Set in an earlier generation (ours is made below, once): an ancestor's.
    if (inherited) inherited->store(1u, std::memory_order_release);
    void *page = mmap(nullptr, sizeof(std::atomic<uint32_t>), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    // Without it, fork sharing is not detected: failures read as before.
    std::atomic<uint32_t> *own = page == MAP_FAILED ? nullptr : new (page) std::atomic<uint32_t>(0u);
    fs.mark.store(own, std::memory_order_release);
}

std::string fork_sharing_note(const Module *m, CK_RV rv) {
    ForkSharing &fs = m->fork_sharing;
    std::atomic<uint32_t> *own = fs.mark.load(std::memory_order_acquire);
    if (!own || !own->load(std::memory_order_acquire) || ckr_to_error(rv) != P11TLS_E_DEVICE) return "";
    if (!fs.known.load(std::memory_order_acquire))
        return "; module " + m->name +
               " may share its state with forked children: a process forked from this one used it "
               "(see doc/modules.md)";
    // call() returned rv without calling the module if it was broken already.
    const bool not_called =
        fs.broken_gen.exchange(current_generation(), std::memory_order_acq_rel) == current_generation();
    return std::string(not_called ? " (not called)" : "") + "; module " + m->name +
           " shares its state with forked children: a process forked from this one used it, "
           "which breaks it in this process until it restarts; p11tls makes no further calls to "
           "it here, as each refused TPM authorization counts against the TPM's "
           "dictionary-attack lockout (see doc/modules.md)";
}

bool taken_over(const Module *m, const char *what) {
    if (m->fork_sharing.broken_gen.load(std::memory_order_acquire) != current_generation()) return false;
    debug("module %s: %s: not called (the module's state was taken over by a forked child)",
          m->name.c_str(), what);
    return true;
}

}  // namespace p11tls
