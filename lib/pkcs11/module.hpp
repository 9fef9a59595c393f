// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A loaded PKCS#11 module and the process-wide registry of them.
//
// Modules are loaded through p11-kit as managed modules (initialization is
// reference-counted per caller, so p11tls never finalizes a module someone
// else uses) and are never unloaded: records are immutable once published,
// so any generation may read them.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "base/fork.hpp"
#include "pkcs11/fork_sharing.hpp"
#include "pkcs11/init_watch.hpp"

namespace p11tls {

struct Module {
    CK_FUNCTION_LIST *fl = nullptr;
    std::string name;       // p11-kit name, or the path for modules added by path
    std::string path;       // as configured / as given
    std::string real_path;  // path with links resolved, or path if it does not resolve
    bool registered = false;
    // Passed as CK_C_INITIALIZE_ARGS.pReserved: p11-kit's x-init-reserved
    // option for a registered module (NSS softokn needs its configdir
    // there), the caller's string for one added by path.
    bool has_init_reserved = false;
    std::string init_reserved;
    // A module whose tokens are across a connection that can drop:
    // p11-kit-client.so (p11-kit's "remote:" option, or loaded by path),
    // or a registered module with the option "x-p11tls-network: yes" (a
    // network HSM's client). For such a module, CKR_DEVICE_ERROR and
    // CKR_DEVICE_REMOVED mean the link is gone: the module is finalized and
    // initialized again, which reconnects (doc/remote.md).
    bool link = false;

    // The mutable parts: whether the module shares its state with forked
    // children (pkcs11/fork_sharing.hpp); p11tls's initializations of it,
    // some of which another caller may have finalized
    // (pkcs11/init_watch.hpp); whether it was initialized without
    // CKF_OS_LOCKING_OK (it cannot lock: world/module_state.cpp), which
    // promises it never two calls at once, and the lock that keeps the
    // promise (held across each call, see call()).
    mutable ForkSharing fork_sharing;
    mutable InitWatch init_watch;
    mutable std::atomic<bool> no_os_locking{false};
    mutable GenMutex serial;
    // For a link module: the wait before the next reconnection attempt
    // while its server is away (world/module_state.cpp), doubled after
    // each failed attempt up to kRelinkMaxMs, reset by a connection.
    mutable std::atomic<int> relink_delay_ms{0};
};

// Whether rv, answered by m, means that m lost its connection (m->link).
inline bool link_lost(const Module *m, CK_RV rv) {
    return m->link && (rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_REMOVED);
}

// Holds m->serial around a call into a module that takes no locks.
class SerialCall {
public:
    explicit SerialCall(const Module *m) noexcept
        : m_(m->no_os_locking.load(std::memory_order_acquire) ? m : nullptr) {
        if (m_) m_->serial.lock();
    }
    ~SerialCall() {
        if (m_) m_->serial.unlock();
    }
    SerialCall(const SerialCall &) = delete;
    SerialCall &operator=(const SerialCall &) = delete;

private:
    const Module *m_;
};

// True if a URI's module-path names m: its path, the name of its p11-kit
// registration, or any path of the same file.
bool module_has_path(const Module &m, const char *path);

// The modules registered in p11-kit's configuration (enable-in/disable-in
// honoured for this program), loaded once per process.
std::vector<Module *> registered_modules();

// Loads (or finds already loaded) the module at path, to be initialized
// with init_reserved as pReserved (NULL: none). Throws P11TLS_E_MODULE, or
// P11TLS_E_INVALID_ARGUMENT if the file is already loaded with other
// init arguments: a module is initialized once per process (p11-kit shares
// one initialization per library file among its callers).
Module *load_module_path(const std::string &path, const char *init_reserved = nullptr);

// Calls fl->fn(args...) inside the fork gate (and, for a link module, with
// SIGPIPE held back); logs failures when debugging. An answer
// CKR_CRYPTOKI_NOT_INITIALIZED is noted (note_not_initialized): another
// caller finalized the module; so is a lost link (link_lost).
template <typename Fn, typename... Args>
CK_RV call(const Module *m, const char *what, Fn fn, Args... args);
// call() without its log line, for callers that log the failure their way.
template <typename Fn, typename... Args>
CK_RV call_unlogged(const Module *m, Fn fn, Args... args);

// C_GetAttributeValue, as call() does it, but a failure's debug line names
// the attributes ("C_GetAttributeValue(CKA_EC_POINT): CKR_..."): those the
// module marked unavailable, else every one asked for.
CK_RV get_attribute_value(const Module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                          CK_ATTRIBUTE *tmpl, CK_ULONG n);

// Throws the P11TLS_E_* matching rv, with "module NAME: WHAT: CKR_x".
[[noreturn]] void fail_ckr(const Module *m, const char *what, CK_RV rv);

}  // namespace p11tls

#include "base/fork.hpp"
#include "base/log.hpp"
#include "pkcs11/ckrv.hpp"
#include "pkcs11/sigpipe.hpp"

namespace p11tls {
template <typename Fn, typename... Args>
CK_RV call_unlogged(const Module *m, Fn fn, Args... args) {
    CK_RV rv;
    const uint64_t init_no = m->init_watch.inits.load(std::memory_order_acquire);
    {
        SigpipeGuard pipe(m->link);
        GateGuard gate;
        SerialCall serial(m);
        rv = (m->fl->*fn)(args...);
    }
    // A lost link ends the epoch as a finalization by another caller does:
    // the next one connects again.
    if (rv == CKR_CRYPTOKI_NOT_INITIALIZED || link_lost(m, rv)) note_not_initialized(m, init_no);
    return rv;
}

template <typename Fn, typename... Args>
CK_RV call(const Module *m, const char *what, Fn fn, Args... args) {
    const CK_RV rv = call_unlogged(m, fn, args...);
    if (rv != CKR_OK) debug("module %s: %s: %s", m->name.c_str(), what, ckr_name(rv));
    return rv;
}
}  // namespace p11tls

// Usage: P11CALL(mod, C_Sign, session, ...) — names the function for logs.
#define P11CALL(mod, fn, ...) ::p11tls::call((mod), #fn, &CK_FUNCTION_LIST::fn, __VA_ARGS__)
