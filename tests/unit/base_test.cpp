// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Unit tests of lib/base: error codes, last-error detail, the generation
// counter, the fork gate, GenSpinLock and GenMutex.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <p11tls/p11tls.h>

#include "base/error.hpp"
#include "base/fork.hpp"

#include "../support/wait.h"

#include <sys/wait.h>
#include <unistd.h>

namespace {
const int kCodes[] = {
    P11TLS_E_SUCCESS,        P11TLS_E_INVALID_ARGUMENT, P11TLS_E_INVALID_URI,
    P11TLS_E_NOT_FOUND,      P11TLS_E_AMBIGUOUS,        P11TLS_E_PIN_INCORRECT,
    P11TLS_E_PIN_LOCKED,     P11TLS_E_PIN_REQUIRED,     P11TLS_E_PIN_CANCELLED,
    P11TLS_E_TOKEN_NOT_PRESENT, P11TLS_E_UNSUPPORTED,   P11TLS_E_BUFFER_TOO_SMALL,
    P11TLS_E_FORKED,         P11TLS_E_MODULE,           P11TLS_E_DEVICE,
    P11TLS_E_KEY_MISMATCH,   P11TLS_E_MEMORY,           P11TLS_E_NOT_PERMITTED,
    P11TLS_E_PIN_SOURCE,     P11TLS_E_INTERNAL,
    P11TLS_E_READ_ONLY,      P11TLS_E_EXISTS,           P11TLS_E_PIN_LEN_RANGE,
};
}  // namespace

TEST(Errors, StrerrorNonEmptyAndDistinct) {
    std::set<std::string> texts, names;
    const std::string unknown = p11tls_strerror(-9999);
    for (int c : kCodes) {
        const char *s = p11tls_strerror(c);
        ASSERT_NE(s, nullptr) << c;
        EXPECT_NE(std::string(s), "") << c;
        EXPECT_NE(std::string(s), unknown) << c;
        texts.insert(s);
        const char *n = p11tls_strerror_name(c);
        ASSERT_NE(n, nullptr) << c;
        EXPECT_EQ(std::string(n).rfind("P11TLS_E_", 0), 0u) << n;
        names.insert(n);
    }
    const size_t count = sizeof kCodes / sizeof kCodes[0];
    EXPECT_EQ(texts.size(), count);
    EXPECT_EQ(names.size(), count);
    EXPECT_STREQ(p11tls_strerror_name(P11TLS_E_NOT_FOUND), "P11TLS_E_NOT_FOUND");
    EXPECT_STREQ(p11tls_strerror_name(P11TLS_E_FORKED), "P11TLS_E_FORKED");
}

TEST(Errors, UnknownCodes) {
    ASSERT_NE(p11tls_strerror(-9999), nullptr);
    EXPECT_NE(std::string(p11tls_strerror(-9999)), "");
    ASSERT_NE(p11tls_strerror(12345), nullptr);
    ASSERT_NE(p11tls_strerror_name(-9999), nullptr);
}

TEST(Errors, ErrorCarriesCodeAndDetail) {
    try {
        p11tls::fail(P11TLS_E_NOT_FOUND, "nothing here");
        FAIL() << "fail() returned";
    } catch (const p11tls::Error &e) {
        EXPECT_EQ(e.code(), P11TLS_E_NOT_FOUND);
        EXPECT_STREQ(e.what(), "nothing here");
    }
}

TEST(Errors, LastErrorIsPerThread) {
    p11tls::set_last_error("main thread detail");
    std::string other = "unset";
    std::thread t([&] {
        other = p11tls::last_error();
        p11tls::set_last_error("other thread detail");
    });
    t.join();
    EXPECT_EQ(other, "");
    EXPECT_STREQ(p11tls_last_error_detail(), "main thread detail");
    p11tls::clear_last_error();
    EXPECT_STREQ(p11tls_last_error_detail(), "");
    std::string longer(2000, 'x');
    p11tls::set_last_error(longer.c_str());
    EXPECT_GT(strlen(p11tls::last_error()), 0u);
    EXPECT_LT(strlen(p11tls::last_error()), longer.size());
    p11tls::set_last_error(nullptr);
    EXPECT_STREQ(p11tls::last_error(), "");
}

TEST(Generation, OneAndStableWithoutFork) {
    p11tls::process_init();
    p11tls::process_init();
    EXPECT_EQ(p11tls::current_generation(), 1u);
    std::thread t([] { EXPECT_EQ(p11tls::current_generation(), 1u); });
    t.join();
    EXPECT_EQ(p11tls::current_generation(), 1u);
}

// Nested guards, once released, leave no call in flight: a fork from
// another thread then passes the gate at once instead of waiting out
// kGateWaitMs for them (the forking thread's own guards never hold it).
TEST(Generation, GateGuardNests) {
    p11tls::process_init();
    std::thread([] {
        p11tls::GateGuard a;
        p11tls::GateGuard b;
    }).join();
    const p11tls::ForkStats before = p11tls::fork_stats();
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(0);
    const int st = test_wait_bounded(pid, 30 * 1000L);
    EXPECT_TRUE(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child status " << st;
    const p11tls::ForkStats after = p11tls::fork_stats();
    EXPECT_EQ(after.forks_gated, before.forks_gated + 1);
    EXPECT_EQ(after.gate_timeouts, before.gate_timeouts) << "a released nested guard still counted in flight";
}

// A lock held when the process forks is free in the child (the thread that
// held it does not exist there); the child reports by its exit status.
TEST(GenSpinLock, HeldAcrossForkIsFreeInChild) {
    p11tls::process_init();
    p11tls::GenSpinLock l;
    l.lock();
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        { p11tls::GenSpinGuard g(l); }
        _exit(0);
    }
    const int st = test_wait_bounded(pid, 30 * 1000L);
    l.unlock();
    EXPECT_TRUE(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child status " << st << " (-1: hung on the lock)";
    { p11tls::GenSpinGuard g(l); }  // and free again in the parent
}

TEST(GenSpinLock, MutualExclusion) {
    p11tls::GenSpinLock l;
    long counter = 0;
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i)
        ts.emplace_back([&] {
            for (int j = 0; j < 20000; ++j) {
                p11tls::GenSpinGuard g(l);
                long v = counter;
                counter = v + 1;
            }
        });
    for (auto &t : ts) t.join();
    EXPECT_EQ(counter, 80000);
}

// GenMutex (calls into a module initialized without OS locking): the same
// two properties, with threads that sleep while they wait.
TEST(GenMutex, HeldAcrossForkIsFreeInChild) {
    p11tls::process_init();
    p11tls::GenMutex m;
    m.lock();
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        m.lock();
        m.unlock();
        _exit(0);
    }
    const int st = test_wait_bounded(pid, 30 * 1000L);
    m.unlock();
    EXPECT_TRUE(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child status " << st << " (-1: hung on the lock)";
    m.lock();  // and free again in the parent
    m.unlock();
}

TEST(GenMutex, MutualExclusion) {
    p11tls::GenMutex m;
    long counter = 0;
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i)
        ts.emplace_back([&] {
            for (int j = 0; j < 20000; ++j) {
                m.lock();
                long v = counter;
                counter = v + 1;
                m.unlock();
            }
        });
    for (auto &t : ts) t.join();
    EXPECT_EQ(counter, 80000);
}

// fail() with a code that is not an error (a table entry or caller bug)
// throws P11TLS_E_INTERNAL with the detail kept, never a success.
TEST(Errors, FailRefusesNonErrorCodes) {
    for (int code : {P11TLS_E_SUCCESS, 1}) {
        try {
            p11tls::fail(code, "what went wrong");
            ADD_FAILURE() << "fail() returned";
        } catch (const p11tls::Error &e) {
            EXPECT_EQ(e.code(), P11TLS_E_INTERNAL) << code;
            EXPECT_NE(std::string(e.what()).find("what went wrong"), std::string::npos) << e.what();
        }
    }
    try {
        p11tls::fail(P11TLS_E_DEVICE, "d");
    } catch (const p11tls::Error &e) {
        EXPECT_EQ(e.code(), P11TLS_E_DEVICE);
    }
}
