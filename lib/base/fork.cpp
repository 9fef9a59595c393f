#include "base/fork.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

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

void sleep_us(long us) {
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, nullptr);
}

void atfork_prepare() {
    __atomic_store_n(&g_gate_closed, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&g_forks_gated, 1, __ATOMIC_RELAXED);
    // Poll: a condition variable cannot be used here (its mutex would be
    // copied into the child), and forks are rare.
    for (long waited_us = 0; __atomic_load_n(&g_in_flight, __ATOMIC_SEQ_CST) > t_depth;
         waited_us += 50) {
        if (waited_us >= kGateWaitMs * 1000L) {
            __atomic_add_fetch(&g_gate_timeouts, 1, __ATOMIC_RELAXED);
            break;
        }
        sleep_us(50);
    }
}

void atfork_parent() { __atomic_store_n(&g_gate_closed, 0, __ATOMIC_SEQ_CST); }

void atfork_child() {
    // Only this thread exists now: its own calls are the only ones in flight.
    __atomic_store_n(&g_in_flight, t_depth, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&g_generation, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_gate_closed, 0, __ATOMIC_SEQ_CST);
}

void register_handlers() { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

}  // namespace

void process_init() noexcept { pthread_once(&g_once, register_handlers); }

uint64_t current_generation() noexcept { return __atomic_load_n(&g_generation, __ATOMIC_ACQUIRE); }

GateGuard::GateGuard() noexcept {
    for (;;) {
        __atomic_add_fetch(&g_in_flight, 1, __ATOMIC_SEQ_CST);
        if (t_depth > 0 || !__atomic_load_n(&g_gate_closed, __ATOMIC_SEQ_CST)) break;
        __atomic_sub_fetch(&g_in_flight, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&g_gate_closed, __ATOMIC_SEQ_CST)) sleep_us(50);
    }
    ++t_depth;
}

GateGuard::~GateGuard() noexcept {
    --t_depth;
    __atomic_sub_fetch(&g_in_flight, 1, __ATOMIC_SEQ_CST);
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
