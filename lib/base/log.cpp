// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "base/log.hpp"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <sched.h>
#include <unistd.h>

namespace p11tls {

namespace {
// 0 = unknown, 1 = off, 2 = on. A benign race: every thread computes the same value.
std::atomic<int> g_debug_state{0};
// Trivially destructible thread-locals: valid after fork and dlclose.
thread_local LogSink *t_sink = nullptr;       // the context this thread works for
thread_local const LogSink *t_inside = nullptr;  // the sink whose function runs on this thread

void vlog(int level, const char *fmt, va_list ap) noexcept {
    const bool to_stderr = debug_enabled();
    LogSink *sink = t_sink;
    // A log function that calls p11tls logs only to stderr: no recursion.
    const bool to_sink = sink && !t_inside && sink->wants(level);
    if (!to_stderr && !to_sink) return;
    char msg[1024];
    std::vsnprintf(msg, sizeof msg, fmt, ap);
    if (to_stderr) std::fprintf(stderr, "p11tls[%ld]: %s\n", (long)getpid(), msg);
    if (to_sink) sink->deliver(level, msg);
}
}  // namespace

bool debug_enabled() noexcept {
    int s = g_debug_state.load(std::memory_order_relaxed);
    if (s == 0) {
        const char *v = secure_getenv("P11TLS_DEBUG");
        s = (v && *v && *v != '0') ? 2 : 1;
        g_debug_state.store(s, std::memory_order_relaxed);
    }
    return s == 2;
}

bool log_wanted(int level) noexcept {
    return debug_enabled() || (t_sink && !t_inside && t_sink->wants(level));
}

#define P11TLS_LOG_AT(level)          \
    va_list ap;                       \
    va_start(ap, fmt);                \
    vlog(level, fmt, ap);             \
    va_end(ap)
void log(int level, const char *fmt, ...) noexcept { P11TLS_LOG_AT(level); }
void log_error(const char *fmt, ...) noexcept { P11TLS_LOG_AT(P11TLS_LOG_ERROR); }
void log_warning(const char *fmt, ...) noexcept { P11TLS_LOG_AT(P11TLS_LOG_WARNING); }
void log_info(const char *fmt, ...) noexcept { P11TLS_LOG_AT(P11TLS_LOG_INFO); }
void debug(const char *fmt, ...) noexcept { P11TLS_LOG_AT(P11TLS_LOG_DEBUG); }
#undef P11TLS_LOG_AT

LogScope::LogScope(LogSink *sink) noexcept : prev_(t_sink) { t_sink = sink; }
LogScope::~LogScope() { t_sink = prev_; }
LogSink *current_log_sink() noexcept { return t_sink; }

void LogSink::deliver(int level, const char *message) noexcept {
    const uint64_t gen = current_generation();
    p11tls_log_fn fn;
    void *arg;
    uint64_t epoch;
    {
        GenSpinGuard g(lock_);
        if (!fn_ || level > max_level_.load(std::memory_order_relaxed)) return;
        if (active_gen_ != gen) {  // threads inside it in the parent are not here
            active_gen_ = gen;
            active_ = retired_active_ = 0;
        }
        ++active_;
        epoch = epoch_;
        fn = fn_;
        arg = arg_;
    }
    const LogSink *outer = t_inside;
    t_inside = this;
    fn(arg, level, message);
    t_inside = outer;
    GenSpinGuard g(lock_);
    if (active_gen_ != gen) return;  // the function forked: the child counts afresh
    if (epoch == epoch_) --active_;
    else --retired_active_;
}

int LogSink::retired_others() noexcept {
    GenSpinGuard g(lock_);
    if (active_gen_ != current_generation()) return 0;
    return retired_active_ - (t_inside == this ? 1 : 0);
}

void LogSink::set(p11tls_log_fn fn, void *arg, int max_level) noexcept {
    {
        GenSpinGuard g(lock_);
        fn_ = fn;
        arg_ = arg;
        max_level_.store(fn ? max_level : 0, std::memory_order_release);
        // Calls already inside now count as calls of a replaced function.
        ++epoch_;
        retired_active_ += active_;
        active_ = 0;
    }
    // No new call reaches a replaced function; wait out those inside one
    // (calls of the new function are not waited for: threads logging
    // without pause would keep the count from ever reaching 0).
    while (retired_others() > 0) sched_yield();
}

}  // namespace p11tls
