// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The exception firewall: every exported function runs its body through
// guard(), which initializes the process state once and turns any C++
// exception into a P11TLS_E_* code plus the thread's last-error detail.
//
// Except one: glibc cancels a thread (pthread_cancel, pthread_exit) by
// unwinding its stack with a foreign exception (abi::__forced_unwind), which
// must go on (swallowed,
// the process aborts: "FATAL: exception not rethrown"). A thread cancelled
// in a PIN function unwinds through p11tls, which holds no lock there (user
// code runs with none held) and wipes its PIN buffers on the way (RAII). So
// guard() is not noexcept, and no exported function may be either.
#pragma once
#include <cxxabi.h>
#include <new>
#include <utility>

#include <p11tls/p11tls.h>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"
#include "pkcs11/init_watch.hpp"

namespace p11tls {

// Messages of the body go to sink (the context the call works for; see
// base/log.hpp), and so does the error line of a failure.
//
// With redo, a call whose PIN function forked starts again from the top in
// the child (the parent goes on): for calls with no effect on the caller
// before they return (open, sign, decrypt, read). Others fail in the child
// with P11TLS_E_FORKED. Such a call that failed because another caller in
// the process finalized a module (a module call answered
// CKR_CRYPTOKI_NOT_INITIALIZED) starts again once too: the module is then
// in a new epoch (world/world.hpp), initialized again, and keys are found
// again and proven the same, as after fork. Others fail (the next call
// finds the module initialized again).
template <bool redo = false, typename F>
int guard(const char *fn, LogSink *sink, F &&body) {
    process_init();
    clear_last_error();
    LogScope scope(sink);
    for (int attempt = 0, reinit = 0;; ++attempt) try {
        clear_state_lost();
        return body();
    } catch (const ForkedDuringCall &e) {
        if (redo && attempt < kForkRedoLimit) {
            debug("%s: %s; starting again in the child", fn, e.what());
            continue;
        }
        set_last_error(e.what());
        return e.code();
    } catch (const Error &e) {
        if (redo && reinit == 0 && state_lost_seen()) {
            ++reinit;
            debug("%s: %s; a module was finalized by another caller: starting again", fn, e.what());
            continue;
        }
        set_last_error(e.what());
        log_error("%s: %s: %s", fn, p11tls_strerror_name(e.code()), e.what());
        return e.code();
    } catch (const std::bad_alloc &) {
        set_last_error("out of memory");
        log_error("%s: P11TLS_E_MEMORY", fn);
        return P11TLS_E_MEMORY;
    } catch (...) {
        // A foreign exception has no C++ type: glibc's forced unwind (caught
        // as abi::__forced_unwind &, but that binds a reference to no object,
        // which UBSan reports) or another language's. Never swallowed.
        if (!abi::__cxa_current_exception_type()) throw;
        set_last_error("unexpected internal exception");
        log_error("%s: P11TLS_E_INTERNAL: unexpected internal exception", fn);
        return P11TLS_E_INTERNAL;
    }
}

// A call tied to no context keeps the caller's (a nested call).
template <bool redo = false, typename F>
int guard(const char *fn, F &&body) {
    return guard<redo>(fn, current_log_sink(), std::forward<F>(body));
}

}  // namespace p11tls
