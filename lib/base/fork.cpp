// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "base/fork.hpp"

#include <climits>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace p11tls {

namespace {

// Plain integers used only through __atomic builtins: no constructors, no
// destructors, valid in any child.
uint64_t g_generation = 1;
int g_in_flight = 0;     // threads inside a module call
int g_gate_closed = 0;   // set by the prepare handler
uint64_t g_forks_gated = 0;
uint64_t g_gate_timeouts = 0;
pthread_once_t g_once = PTHREAD_ONCE_INIT;

// Calls this thread has in flight: the forking thread's own call (a module
// that forks inside C_Initialize) is never waited for.
thread_local int t_depth = 0;

// Futexes, not condition variables: a condition variable's mutex would be
// copied into the child, and a futex is a plain int and one system call
// (async-signal-safe). Waking, not polling: polling with nanosleep(50 us)
// made a fork wait ~100 us (sleep plus timer slack) beyond the call in
// flight; with a wake-up it waits for that call only (bench/fork.c, gate).
long futex_wait(int *addr, int expected, long timeout_ns) {
    struct timespec ts = {timeout_ns / 1000000000L, timeout_ns % 1000000000L};
    return syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
}

void futex_wake_all(int *addr) { syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0); }

int64_t monotonic_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

// Leaves the set of calls in flight; wakes a waiting prepare handler. The
// SEQ_CST decrement and load pair with atfork_prepare's store and load:
// either we see the gate closed and wake it, or it sees our decrement.
void leave_in_flight() {
    __atomic_sub_fetch(&g_in_flight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&g_gate_closed, __ATOMIC_SEQ_CST)) futex_wake_all(&g_in_flight);
}

void atfork_prepare() {
    __atomic_store_n(&g_gate_closed, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&g_forks_gated, 1, __ATOMIC_RELAXED);
    const int64_t deadline = monotonic_ns() + kGateWaitMs * 1000000L;
    for (;;) {
        int n = __atomic_load_n(&g_in_flight, __ATOMIC_SEQ_CST);
        if (n <= t_depth) break;
        int64_t left = deadline - monotonic_ns();
        if (left <= 0) {
            __atomic_add_fetch(&g_gate_timeouts, 1, __ATOMIC_RELAXED);
            break;
        }
        // Sleeps only while the count is still n (else returns at once).
        futex_wait(&g_in_flight, n, left);
    }
}

void open_gate() {
    __atomic_store_n(&g_gate_closed, 0, __ATOMIC_SEQ_CST);
    futex_wake_all(&g_gate_closed);
}

void atfork_parent() { open_gate(); }

void atfork_child() {
    // Only this thread exists now: its own calls are the only ones in flight.
    __atomic_store_n(&g_in_flight, t_depth, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&g_generation, 1, __ATOMIC_SEQ_CST);
    open_gate();
}

void register_handlers() { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

}  // namespace

void process_init() noexcept { pthread_once(&g_once, register_handlers); }

uint64_t current_generation() noexcept { return __atomic_load_n(&g_generation, __ATOMIC_ACQUIRE); }

GateGuard::GateGuard() noexcept {
    for (;;) {
        __atomic_add_fetch(&g_in_flight, 1, __ATOMIC_SEQ_CST);
        if (t_depth > 0 || !__atomic_load_n(&g_gate_closed, __ATOMIC_SEQ_CST)) break;
        leave_in_flight();
        // Until the parent or child handler opens the gate (the timeout
        // only guards against a lost wake-up).
        while (__atomic_load_n(&g_gate_closed, __ATOMIC_SEQ_CST))
            futex_wait(&g_gate_closed, 1, 1000000L);
    }
    ++t_depth;
}

GateGuard::~GateGuard() noexcept {
    --t_depth;
    leave_in_flight();
}

ForkStats fork_stats() noexcept {
    return {__atomic_load_n(&g_forks_gated, __ATOMIC_RELAXED),
            __atomic_load_n(&g_gate_timeouts, __ATOMIC_RELAXED)};
}

void GenSpinLock::lock() noexcept {
    const uint64_t gen = current_generation();
    for (;;) {
        uint64_t cur = __atomic_load_n(&word_, __ATOMIC_RELAXED);
        if ((cur == 0 || cur < gen) &&
            __atomic_compare_exchange_n(&word_, &cur, gen, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        sched_yield();
    }
}

void GenSpinLock::unlock() noexcept { __atomic_store_n(&word_, 0, __ATOMIC_RELEASE); }

}  // namespace p11tls
