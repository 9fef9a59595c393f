// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The fork model's process-wide part: the generation counter, the atfork
// handlers and the gate around module calls (see doc/fork-model.md).
//
// Everything here is trivially destructible and lock-free, so that it is
// valid in a child forked at any moment and after the library is dlclosed
// by one of its callers.
#pragma once
#include <atomic>
#include <cstdint>

namespace p11tls {

// Registers the atfork handlers, once per process (pthread_once).
void process_init() noexcept;

// The fork generation: 1 in the first process, bumped once in every new
// process, by the atfork child handler or by the first call that notices it
// runs in a new process (a child made without handlers, or a call from
// another library's child handler that runs before ours). State built in
// one generation is never used in another.
uint64_t current_generation() noexcept;

// Held around every call into a module. The atfork prepare handler closes
// the gate and waits (bounded by kGateWaitMs) until no other thread is
// inside a module, so that no module lock is copied into the child held.
// Calls made on the forking thread from any atfork handler pass the closed
// gate (they would wait for the fork they are part of).
class GateGuard {
public:
    GateGuard() noexcept;
    ~GateGuard() noexcept;
    GateGuard(const GateGuard &) = delete;
    GateGuard &operator=(const GateGuard &) = delete;

private:
    const uint64_t gen_;  // the generation whose in-flight count holds this call
};

constexpr int kGateWaitMs = 2000;

// Statistics for tests and benchmarks.
struct ForkStats {
    uint64_t forks_gated;     // prepare handler runs
    uint64_t gate_timeouts;   // forks that went ahead with calls in flight
};
ForkStats fork_stats() noexcept;

// A spin lock that a child may take over: the lock word records the
// generation that took it, and a lock taken in an earlier generation (by a
// thread that does not exist in this process) is free. For short critical
// sections that must not hang a child; never held across a module call or
// user code.
class GenSpinLock {
public:
    void lock() noexcept;
    void unlock() noexcept;

private:
    std::atomic<uint64_t> word_{0};  // 0 = free, else generation of the holder
};

// A mutex that a child may take over, as GenSpinLock, for a lock held
// across a module call: a thread that finds it held in this generation
// sleeps (futex) until it is released, instead of spinning. The word holds
// the holder's generation (its low 30 bits, as a futex word is an int),
// and whether others wait.
class GenMutex {
public:
    void lock() noexcept;
    void unlock() noexcept;

private:
    std::atomic<int> word_{0};  // 0 = free, else (generation tag << 1) | waiters
};

class GenSpinGuard {
public:
    explicit GenSpinGuard(GenSpinLock &l) noexcept : l_(l) { l_.lock(); }
    ~GenSpinGuard() { l_.unlock(); }
    GenSpinGuard(const GenSpinGuard &) = delete;
    GenSpinGuard &operator=(const GenSpinGuard &) = delete;

private:
    GenSpinLock &l_;
};

}  // namespace p11tls
