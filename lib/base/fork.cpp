// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "base/fork.hpp"

#include <atomic>
#include <climits>
#include <linux/futex.h>
#include <new>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace p11tls {

namespace {

// Lock-free atomics: constant-initialized, trivially destructible, one
// machine word each, valid in any child. The two futex words are waited on
// through their address (futex_addr()).
std::atomic<uint64_t> g_generation{1};
std::atomic<int> g_in_flight{0};    // threads inside a module call
std::atomic<int> g_gate_closed{0};  // set by the prepare handler
std::atomic<uint64_t> g_forks_gated{0};
std::atomic<uint64_t> g_gate_timeouts{0};
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
    // 0: new process not noticed yet, 1: being noticed, 2: noticed. All
    // zero bytes read as 0: the kernel's wiping makes a valid atomic.
    std::atomic<int> state;
};
enum { kNew = 0, kNoticing = 1, kNoticed = 2 };
std::atomic<ProcessMark *> g_mark{nullptr};  // the wiped page; set once (pthread_once)
std::atomic<int> g_mark_pid{0};  // without the wiped page: the noticed pid, -pid while noticing

// Futexes, not condition variables: a condition variable's mutex would be
// copied into the child, and a futex is a plain int and one system call
// (async-signal-safe). Waking, not polling: polling with nanosleep(50 us)
// made a fork wait ~100 us (sleep plus timer slack) beyond the call in
// flight; with a wake-up it waits for that call only (bench/fork.c, gate).
// The futex is the atomic's own int: a lock-free std::atomic<int> has the
// size and representation of an int (as C11's atomic_int, which futex users
// pass the same way).
static_assert(std::atomic<int>::is_always_lock_free && sizeof(std::atomic<int>) == sizeof(int),
              "a futex word is an int");
int *futex_addr(std::atomic<int> *a) { return reinterpret_cast<int *>(a); }

long futex_wait(std::atomic<int> *addr, int expected, long timeout_ns) {
    struct timespec ts = {timeout_ns / 1000000000L, timeout_ns % 1000000000L};
    return syscall(SYS_futex, futex_addr(addr), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
}

void futex_wake_all(std::atomic<int> *addr) {
    syscall(SYS_futex, futex_addr(addr), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

int64_t monotonic_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

// Leaves the set of calls in flight; wakes a waiting prepare handler. The
// SEQ_CST decrement and load pair with atfork_prepare's store and load:
// either we see the gate closed and wake it, or it sees our decrement.
void leave_in_flight() {
    g_in_flight.fetch_sub(1, std::memory_order_seq_cst);
    if (g_gate_closed.load(std::memory_order_seq_cst)) futex_wake_all(&g_in_flight);
}

void open_gate() {
    g_gate_closed.store(0, std::memory_order_seq_cst);
    futex_wake_all(&g_gate_closed);
}

// What a new process does once, in whichever thread notices first (our
// child handler, another library's child handler that calls us, or any
// call in a child made without handlers): no thread of the parent exists
// here, so no call is in flight (a call of this thread entered before the
// fork is not counted: GateGuard skips it), and the gate may have been
// copied closed.
void reset_for_new_process() {
    g_in_flight.store(0, std::memory_order_seq_cst);
    g_generation.fetch_add(1, std::memory_order_seq_cst);
    open_gate();
}

// Two threads of a new child may race here: one resets, the others wait
// for it (a few instructions and a system call; no lock a fork could copy
// held, since every state is per process).
void notice_new_process() {
    if (ProcessMark *m = g_mark.load(std::memory_order_acquire)) {
        for (;;) {
            int st = m->state.load(std::memory_order_acquire);
            if (st == kNoticed) return;
            if (st == kNew && m->state.compare_exchange_strong(st, kNoticing, std::memory_order_seq_cst)) {
                reset_for_new_process();
                m->state.store(kNoticed, std::memory_order_release);
                return;
            }
            sched_yield();
        }
    }
    const int me = (int)getpid();
    for (;;) {
        int seen = g_mark_pid.load(std::memory_order_acquire);
        if (seen == me) return;
        if (seen != -me && g_mark_pid.compare_exchange_strong(seen, -me, std::memory_order_seq_cst)) {
            reset_for_new_process();
            g_mark_pid.store(me, std::memory_order_release);
            return;
        }
        sched_yield();
    }
}

bool process_is_new() {
    if (ProcessMark *m = g_mark.load(std::memory_order_acquire))
        return m->state.load(std::memory_order_acquire) != kNoticed;
    // Before process_init (nothing to notice), or without the wiped page.
    const int pid = g_mark_pid.load(std::memory_order_acquire);
    return pid != 0 && pid != (int)getpid();
}

// This thread's calls counted in the current generation's g_in_flight.
int live_calls(uint64_t gen) { return t_live_gen == gen ? t_live : 0; }

void atfork_prepare() {
    t_forking = 1;
    g_gate_closed.store(1, std::memory_order_seq_cst);
    g_forks_gated.fetch_add(1, std::memory_order_relaxed);
    const int64_t deadline = monotonic_ns() + kGateWaitMs * 1000000L;
    const int own = live_calls(current_generation());
    for (;;) {
        int n = g_in_flight.load(std::memory_order_seq_cst);
        if (n <= own) break;
        int64_t left = deadline - monotonic_ns();
        if (left <= 0) {
            g_gate_timeouts.fetch_add(1, std::memory_order_relaxed);
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
        auto *m = new (page) ProcessMark{{kNoticed}};
        g_mark.store(m, std::memory_order_release);
    } else {
        if (page != MAP_FAILED) munmap(page, (size_t)sysconf(_SC_PAGESIZE));
        g_mark_pid.store((int)getpid(), std::memory_order_release);
    }
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

}  // namespace

void process_init() noexcept { pthread_once(&g_once, register_handlers); }

uint64_t current_generation() noexcept {
    if (__builtin_expect(process_is_new(), 0)) notice_new_process();
    return g_generation.load(std::memory_order_acquire);
}

GateGuard::GateGuard() noexcept : gen_(current_generation()) {
    for (;;) {
        g_in_flight.fetch_add(1, std::memory_order_seq_cst);
        if (t_depth > 0 || t_forking || !g_gate_closed.load(std::memory_order_seq_cst)) break;
        leave_in_flight();
        // Until the parent or child handler opens the gate (the timeout
        // only guards against a lost wake-up).
        while (g_gate_closed.load(std::memory_order_seq_cst))
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
    return {g_forks_gated.load(std::memory_order_relaxed), g_gate_timeouts.load(std::memory_order_relaxed)};
}

void GenSpinLock::lock() noexcept {
    const uint64_t gen = current_generation();
    for (;;) {
        uint64_t cur = word_.load(std::memory_order_relaxed);
        if ((cur == 0 || cur < gen) &&
            word_.compare_exchange_strong(cur, gen, std::memory_order_acquire, std::memory_order_relaxed))
            return;
        sched_yield();
    }
}

void GenSpinLock::unlock() noexcept { word_.store(0, std::memory_order_release); }

void GenMutex::lock() noexcept {
    // Generations go up by one per process down a line of forks: 2^30 of
    // them before two tags of one line could meet.
    const int mine = (int)(((current_generation() - 1) % 0x3fffffffULL) + 1) << 1;
    int take = mine;  // once this thread waited, others may wait too: keep them woken
    for (;;) {
        int cur = word_.load(std::memory_order_relaxed);
        // Free, or held in an earlier generation (by a thread of another process).
        if (cur == 0 || (cur & ~1) != mine) {
            if (word_.compare_exchange_weak(cur, take, std::memory_order_acquire, std::memory_order_relaxed)) return;
            continue;
        }
        if (!(cur & 1) && !word_.compare_exchange_weak(cur, cur | 1, std::memory_order_relaxed)) continue;
        // Until unlock() wakes us (the timeout only guards against a lost wake-up).
        futex_wait(&word_, cur | 1, 1000000000L);
        take = mine | 1;
    }
}

void GenMutex::unlock() noexcept {
    if (word_.exchange(0, std::memory_order_release) & 1) futex_wake_all(&word_);
}

}  // namespace p11tls
