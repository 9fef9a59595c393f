// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "base/fork.hpp"

#include <climits>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
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
// Of those, the ones counted in g_in_flight of this generation (a call
// entered before a fork is not counted in the child, which reset the count).
thread_local int t_live = 0;
thread_local uint64_t t_live_gen = 0;
// Set by our prepare handler, cleared by our parent and child handlers: the
// other atfork handlers of the process run in between (prepare handlers in
// reverse order of registration, so a library that registered before us
// runs its prepare after ours closed the gate, and its parent and child
// handlers before ours reopen it). Their calls on this thread pass the gate.
thread_local int t_forking = 0;

// How a process notices it is new, whoever made it: a page the kernel
// zeroes in every child (MADV_WIPEONFORK, Linux 4.14+), so fork() through
// our handlers, fork() before they ran, _Fork(), syscall(SYS_fork) and
// clone() without CLONE_VM all show state == 0 in the child. One load per
// entry. Where madvise refuses, the pid is compared instead (a getpid()
// system call per entry).
struct ProcessMark {
    int state;  // 0: new process not noticed yet, 1: being noticed, 2: noticed
};
enum { kNew = 0, kNoticing = 1, kNoticed = 2 };
ProcessMark *g_mark = nullptr;  // the wiped page; set once (pthread_once)
int g_mark_pid = 0;             // without the wiped page: the noticed pid, -pid while noticing

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

void open_gate() {
    __atomic_store_n(&g_gate_closed, 0, __ATOMIC_SEQ_CST);
    futex_wake_all(&g_gate_closed);
}

// What a new process does once, in whichever thread notices first (our
// child handler, another library's child handler that calls us, or any
// call in a child made without handlers): no thread of the parent exists
// here, so no call is in flight (a call of this thread entered before the
// fork is not counted: GateGuard skips it), and the gate may have been
// copied closed.
void reset_for_new_process() {
    __atomic_store_n(&g_in_flight, 0, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&g_generation, 1, __ATOMIC_SEQ_CST);
    open_gate();
}

// Two threads of a new child may race here: one resets, the others wait
// for it (a few instructions and a system call; no lock a fork could copy
// held, since every state is per process).
void notice_new_process() {
    if (ProcessMark *m = __atomic_load_n(&g_mark, __ATOMIC_ACQUIRE)) {
        for (;;) {
            int st = __atomic_load_n(&m->state, __ATOMIC_ACQUIRE);
            if (st == kNoticed) return;
            if (st == kNew &&
                __atomic_compare_exchange_n(&m->state, &st, kNoticing, false, __ATOMIC_SEQ_CST,
                                            __ATOMIC_SEQ_CST)) {
                reset_for_new_process();
                __atomic_store_n(&m->state, kNoticed, __ATOMIC_RELEASE);
                return;
            }
            sched_yield();
        }
    }
    const int me = (int)getpid();
    for (;;) {
        int seen = __atomic_load_n(&g_mark_pid, __ATOMIC_ACQUIRE);
        if (seen == me) return;
        if (seen != -me &&
            __atomic_compare_exchange_n(&g_mark_pid, &seen, -me, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            reset_for_new_process();
            __atomic_store_n(&g_mark_pid, me, __ATOMIC_RELEASE);
            return;
        }
        sched_yield();
    }
}

bool process_is_new() {
    if (ProcessMark *m = __atomic_load_n(&g_mark, __ATOMIC_ACQUIRE))
        return __atomic_load_n(&m->state, __ATOMIC_ACQUIRE) != kNoticed;
    // Before process_init (nothing to notice), or without the wiped page.
    const int pid = __atomic_load_n(&g_mark_pid, __ATOMIC_ACQUIRE);
    return pid != 0 && pid != (int)getpid();
}

// This thread's calls counted in the current generation's g_in_flight.
int live_calls(uint64_t gen) { return t_live_gen == gen ? t_live : 0; }

void atfork_prepare() {
    t_forking = 1;
    __atomic_store_n(&g_gate_closed, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&g_forks_gated, 1, __ATOMIC_RELAXED);
    const int64_t deadline = monotonic_ns() + kGateWaitMs * 1000000L;
    const int own = live_calls(current_generation());
    for (;;) {
        int n = __atomic_load_n(&g_in_flight, __ATOMIC_SEQ_CST);
        if (n <= own) break;
        int64_t left = deadline - monotonic_ns();
        if (left <= 0) {
            __atomic_add_fetch(&g_gate_timeouts, 1, __ATOMIC_RELAXED);
            break;
        }
        // Sleeps only while the count is still n (else returns at once).
        futex_wait(&g_in_flight, n, left);
    }
}

void atfork_parent() {
    t_forking = 0;
    open_gate();
}

void atfork_child() {
    t_forking = 0;
    notice_new_process();  // unless another library's child handler called us first
}

void register_handlers() {
    void *page = mmap(nullptr, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page != MAP_FAILED && madvise(page, (size_t)sysconf(_SC_PAGESIZE), MADV_WIPEONFORK) == 0) {
        auto *m = static_cast<ProcessMark *>(page);
        m->state = kNoticed;
        __atomic_store_n(&g_mark, m, __ATOMIC_RELEASE);
    } else {
        if (page != MAP_FAILED) munmap(page, (size_t)sysconf(_SC_PAGESIZE));
        __atomic_store_n(&g_mark_pid, (int)getpid(), __ATOMIC_RELEASE);
    }
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

}  // namespace

void process_init() noexcept { pthread_once(&g_once, register_handlers); }

uint64_t current_generation() noexcept {
    if (__builtin_expect(process_is_new(), 0)) notice_new_process();
    return __atomic_load_n(&g_generation, __ATOMIC_ACQUIRE);
}

GateGuard::GateGuard() noexcept : gen_(current_generation()) {
    for (;;) {
        __atomic_add_fetch(&g_in_flight, 1, __ATOMIC_SEQ_CST);
        if (t_depth > 0 || t_forking || !__atomic_load_n(&g_gate_closed, __ATOMIC_SEQ_CST)) break;
        leave_in_flight();
        // Until the parent or child handler opens the gate (the timeout
        // only guards against a lost wake-up).
        while (__atomic_load_n(&g_gate_closed, __ATOMIC_SEQ_CST))
            futex_wait(&g_gate_closed, 1, 1000000L);
    }
    ++t_depth;
    if (t_live_gen != gen_) {
        t_live_gen = gen_;
        t_live = 0;
    }
    ++t_live;
}

GateGuard::~GateGuard() noexcept {
    --t_depth;
    // A call entered before this process was forked (a module that forks
    // inside a call) was counted in the parent's g_in_flight, not ours.
    if (current_generation() != gen_) return;
    --t_live;
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
