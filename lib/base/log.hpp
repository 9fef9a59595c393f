// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Diagnostics: one line per event, at a level (P11TLS_LOG_*), to two places.
//
//  - stderr, every level, when P11TLS_DEBUG is set (read with secure_getenv
//    so a setuid program cannot be made to log): the administrator's switch.
//  - the log function of the context the calling thread is working for
//    (LogScope, set at the C boundary), up to its level: the application's.
//
// Callers must never pass a PIN (nor a URI as given: it may hold one).
#pragma once
#include <atomic>
#include <cstdint>

#include <p11tls/p11tls.h>

#include "base/fork.hpp"

namespace p11tls {

// Where one context's messages go. Set and cleared from any thread; user
// code is called with no lock held.
class LogSink {
public:
    // Replaces the function (fn NULL clears it). Returns once no other
    // thread is still inside the previous function, so the caller may then
    // free the previous arg; the calling thread's own call (when a log
    // function clears itself) is not waited for.
    void set(p11tls_log_fn fn, void *arg, int max_level) noexcept;
    bool wants(int level) const noexcept {
        return level <= max_level_.load(std::memory_order_acquire);
    }
    void deliver(int level, const char *message) noexcept;

private:
    int retired_others() noexcept;

    std::atomic<int> max_level_{0};  // 0 = no function; written under lock_
    mutable GenSpinLock lock_;       // guards the fields below
    p11tls_log_fn fn_ = nullptr;
    void *arg_ = nullptr;
    uint64_t epoch_ = 0;             // bumped by set(): which calls are of fn_
    int active_ = 0;                 // calls inside fn_ (this epoch)
    int retired_active_ = 0;         // calls inside functions set() replaced
    uint64_t active_gen_ = 0;        // the generation the counts are of: a
                                     // child starts with no call inside
};

// For its lifetime, messages of the calling thread go to sink (nullptr: to
// none). Scopes nest; the innermost wins.
class LogScope {
public:
    explicit LogScope(LogSink *sink) noexcept;
    ~LogScope();
    LogScope(const LogScope &) = delete;
    LogScope &operator=(const LogScope &) = delete;

private:
    LogSink *prev_;
};
LogSink *current_log_sink() noexcept;

bool debug_enabled() noexcept;
// True if a message at level would go anywhere (to skip building it).
bool log_wanted(int level) noexcept;
void log(int level, const char *fmt, ...) noexcept __attribute__((format(printf, 2, 3)));
void log_error(const char *fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
void debug(const char *fmt, ...) noexcept __attribute__((format(printf, 1, 2)));

}  // namespace p11tls
