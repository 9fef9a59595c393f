// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// tests/module/faults_test.cpp: p11tls against the test module's injected
// faults (tests/module/testmod.c):
//   P11TLS_TESTMOD_SHUFFLE_HANDLES  handle numbers reused for other objects
//                                   after re-initialization
//   P11TLS_TESTMOD_SLOW             a call in flight for longer than the fork
//                                   gate waits
//   P11TLS_TESTMOD_FORK_IN_INIT     the module forks inside C_Initialize
//   P11TLS_TESTMOD_REFUSE_OS_LOCKING  C_Initialize refuses CKF_OS_LOCKING_OK
// The module reads these at C_Initialize, so every case runs in a fresh
// re-executed process (a *Child suite) with the variable set. Run through
// tests/suites/faults.*.test (tests/with-token.sh, reset_on_fork false/true).
//
// Forked children report only through their exit status; every wait is
// bounded (WNOHANG polling for at most 30 s, then SIGKILL).
#include <gtest/gtest.h>

#include <p11-kit/pkcs11.h>
#include <p11tls/p11tls.h>

#include "../support/testmod.hpp"

// kGateWaitMs only (a constant: nothing internal is linked).
#include "base/fork.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace tmh;

namespace {

const char kMsg[] = "injected faults";

// 0 if key signs kMsg with scheme and the signature verifies under label's
// certificate; else a code from base.
int signs_as(p11tls_key *key, uint16_t scheme, const char *label, gnutls_sign_algorithm_t alg, int base) {
    std::vector<unsigned char> sig;
    if (th::sign(key, scheme, kMsg, sizeof kMsg - 1, sig) != 0) return base;
    if (th::verify_data(label, alg, kMsg, sizeof kMsg - 1, sig.data(), sig.size()) < 0) return base + 1;
    return 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// 1. Handle numbers reused after re-initialization.
//
// Two RSA keys (rsa2048, CKA_ID 01; rsa3072, CKA_ID 02). Under
// P11TLS_TESTMOD_SHUFFLE_HANDLES the number the module showed for one of
// them before a re-initialization names the other one after it (first test:
// the fault is real, with raw PKCS#11). p11tls must never use a handle from
// another generation: in a forked child each key still signs as itself.

namespace {

const gnutls_sign_algorithm_t kRsaAlg = GNUTLS_SIGN_RSA_SHA256;

// Raw PKCS#11 through the test module, no p11tls.
struct Raw {
    CK_FUNCTION_LIST *f = nullptr;
};

CK_RV raw_init(Raw &r) {
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    return r.f->C_Initialize(&args);
}

// A logged-in session on the test token, or CK_INVALID_HANDLE.
CK_SESSION_HANDLE raw_session(Raw &r) {
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    if (r.f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK) return CK_INVALID_HANDLE;
    for (CK_ULONG i = 0; i < n; ++i) {
        CK_TOKEN_INFO ti;
        if (r.f->C_GetTokenInfo(slots[i], &ti) != CKR_OK) continue;
        std::string label((const char *)ti.label, sizeof ti.label);
        if (label.compare(0, 11, "p11tls-test") != 0 || label.find_first_not_of(' ', 11) != std::string::npos)
            continue;
        CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
        if (r.f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK)
            return CK_INVALID_HANDLE;
        std::string pin = th::test_pin();
        CK_RV rv = r.f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin.data(), pin.size());
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) return CK_INVALID_HANDLE;
        return s;
    }
    return CK_INVALID_HANDLE;
}

CK_OBJECT_HANDLE raw_find_private(Raw &r, CK_SESSION_HANDLE s, const char *label) {
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    if (r.f->C_FindObjectsInit(s, t, 2) != CKR_OK) return CK_INVALID_HANDLE;
    if (r.f->C_FindObjects(s, &h, 1, &n) != CKR_OK || n != 1) h = CK_INVALID_HANDLE;
    r.f->C_FindObjectsFinal(s);
    return h;
}

// 0 if handle h signs kMsg (RSA PKCS#1 v1.5, SHA-256) as label and not as
// other; else a code from base.
int raw_signs_as(Raw &r, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const char *label, const char *other,
                 int base) {
    CK_MECHANISM mech = {CKM_SHA256_RSA_PKCS, nullptr, 0};
    unsigned char sig[512];
    CK_ULONG n = sizeof sig;
    if (r.f->C_SignInit(s, &mech, h) != CKR_OK) return base;
    if (r.f->C_Sign(s, (CK_BYTE *)kMsg, sizeof kMsg - 1, sig, &n) != CKR_OK) return base + 1;
    if (th::verify_data(label, kRsaAlg, kMsg, sizeof kMsg - 1, sig, n) < 0) return base + 2;
    if (th::verify_data(other, kRsaAlg, kMsg, sizeof kMsg - 1, sig, n) >= 0) return base + 3;
    return 0;
}

struct RawStale {
    Raw *r;
    CK_OBJECT_HANDLE h2048;
};

// Grandchild: initialize again, and use the handle from before.
int raw_stale_handle(void *arg) {
    auto *st = static_cast<RawStale *>(arg);
    CK_RV rv = raw_init(*st->r);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) return 20;
    CK_SESSION_HANDLE s = raw_session(*st->r);
    if (s == CK_INVALID_HANDLE) return 21;
    // The old number for rsa2048 now names rsa3072.
    return raw_signs_as(*st->r, s, st->h2048, "rsa3072", "rsa2048", 22);
}

int raw_shuffle(void *) {
    setenv("P11TLS_TESTMOD_SHUFFLE_HANDLES", "1", 1);
    void *lib = dlopen(testmod_path().c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) return 10;
    auto gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
    Raw r;
    if (!gfl || gfl(&r.f) != CKR_OK) return 11;
    if (raw_init(r) != CKR_OK) return 12;
    CK_SESSION_HANDLE s = raw_session(r);
    if (s == CK_INVALID_HANDLE) return 13;
    CK_OBJECT_HANDLE h = raw_find_private(r, s, "rsa2048");
    if (h == CK_INVALID_HANDLE) return 14;
    if (int rc = raw_signs_as(r, s, h, "rsa2048", "rsa3072", 15)) return rc;
    RawStale st = {&r, h};
    int status = run_in_child(raw_stale_handle, &st, nullptr);
    if (status < 0 || !WIFEXITED(status)) return 30;
    return WEXITSTATUS(status);
}

}  // namespace

TEST(Faults, ShuffledHandleNamesTheOtherKeyAfterReinit) {
    REQUIRE_SOFTHSM();
    // Without p11tls: a handle kept across fork + C_Initialize signs with
    // the wrong key. This is the trap the next test must not fall into.
    int st = th::run_in_child(raw_shuffle, nullptr, 60);
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

namespace {

struct TwoKeys {
    p11tls_key *rsa2048, *rsa3072;
};

// Each key signs as itself, and not as the other one.
int two_keys_sign_as_themselves(void *arg) {
    auto *t = static_cast<TwoKeys *>(arg);
    const uint16_t scheme = P11TLS_SIG_RSA_PKCS1_SHA256;
    std::vector<unsigned char> s2, s3;
    // rsa3072 first: the keys are found again in the opposite order.
    if (th::sign(t->rsa3072, scheme, kMsg, sizeof kMsg - 1, s3) != 0) return 40;
    if (th::verify_data("rsa3072", kRsaAlg, kMsg, sizeof kMsg - 1, s3.data(), s3.size()) < 0) return 41;
    if (th::verify_data("rsa2048", kRsaAlg, kMsg, sizeof kMsg - 1, s3.data(), s3.size()) >= 0) return 42;
    if (th::sign(t->rsa2048, scheme, kMsg, sizeof kMsg - 1, s2) != 0) return 43;
    if (th::verify_data("rsa2048", kRsaAlg, kMsg, sizeof kMsg - 1, s2.data(), s2.size()) < 0) return 44;
    if (th::verify_data("rsa3072", kRsaAlg, kMsg, sizeof kMsg - 1, s2.data(), s2.size()) >= 0) return 45;
    return 0;
}

// Child: the keys sign as themselves; then so they do in a grandchild (one
// more re-initialization, so the mapping flips back).
int shuffle_child(void *arg) {
    if (int rc = two_keys_sign_as_themselves(arg)) return rc;
    if (int rc = two_keys_sign_as_themselves(arg)) return rc + 10;
    int st = run_in_child(two_keys_sign_as_themselves, arg, nullptr);
    if (st < 0 || !WIFEXITED(st)) return 70;
    return WEXITSTATUS(st) ? WEXITSTATUS(st) + 20 : 0;
}

}  // namespace

TEST(FaultsShuffleChild, EachKeySignsAsItself) {
    if (!in_child("P11TLS_FAULTS_SHUFFLE_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key k2048, k3072;
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("rsa2048").c_str(), 0, k2048.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("rsa3072").c_str(), 0, k3072.put()), 0) << p11tls_last_error_detail();
    TwoKeys t = {k2048.get(), k3072.get()};
    // Bound (handles taken) in this generation before the fork.
    ASSERT_EQ(two_keys_sign_as_themselves(&t), 0);
    pid_t child = 0;
    int st = run_in_child(shuffle_child, &t, &child);
    EXPECT_TRUE(exited_ok(st)) << describe(st);
    auto log = read_log();
    EXPECT_EQ(count_calls(log, child, "C_Initialize"), 1u) << "the child initializes the module again";
    EXPECT_GE(count_calls(log, child, "C_FindObjectsInit"), 2u) << "the child finds both keys again";
    // The parent keeps working, with its own generation's handles.
    EXPECT_EQ(two_keys_sign_as_themselves(&t), 0);
}

TEST(Faults, ShuffledHandlesEachKeySignsAsItselfAfterFork) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("FaultsShuffleChild.*", "P11TLS_FAULTS_SHUFFLE_CHILD",
                            {{"P11TLS_TESTMOD_SHUFFLE_HANDLES", "1"}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// ---------------------------------------------------------------------------
// 2. Slow calls: a thread is inside a C_Sign that lasts until the test
// releases it (P11TLS_TESTMOD_SLOW=C_Sign:20000:FILE) when the main thread
// forks. fork() must return while that call is still in flight (the gate's
// wait is bounded, kGateWaitMs), the child must sign, and the parent
// thread's signature must succeed and verify. Nothing here depends on
// timing: the slow call ends only when the file appears, which the test
// creates after fork() has returned; the 20 s are a fallback.

namespace {

int child_signs_p256(void *arg) {
    return signs_as(static_cast<p11tls_key *>(arg), P11TLS_SIG_ECDSA_SECP256R1_SHA256, "p256",
                    GNUTLS_SIGN_ECDSA_SHA256, 50);
}

}  // namespace

TEST(FaultsSlowChild, ForkWhileSlowSign) {
    if (!in_child("P11TLS_FAULTS_SLOW_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const std::string release = th::env("P11TLS_FAULTS_RELEASE");
    ASSERT_FALSE(release.empty());
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, key.put()), 0) << p11tls_last_error_detail();

    const long me = getpid();
    const size_t mark = read_log().size();
    std::atomic<bool> done{false};
    int worker_rc = -1;
    std::vector<unsigned char> worker_sig;
    std::thread worker([&] {
        worker_rc = th::sign(key.get(), P11TLS_SIG_ECDSA_SECP256R1_SHA256, kMsg, sizeof kMsg - 1, worker_sig);
        done = true;
    });
    // The module logs a call on entry, before its delay.
    bool inside = wait_for([&] { return count_calls(read_log(), me, "C_Sign", mark) > 0; });

    pid_t pid = -1;
    bool in_flight_at_fork = false;
    double fork_ms = 0;
    if (inside) {
        auto t0 = std::chrono::steady_clock::now();
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid == 0) _exit(child_signs_p256(key.get()));
        fork_ms = ms_since(t0);
        in_flight_at_fork = !done;
    }
    // Release the slow calls (the parent thread's, and the child's).
    { std::ofstream(release.c_str()) << "go\n"; }
    int st = pid > 0 ? wait_bounded(pid) : -3;
    bool finished = wait_for([&] { return done.load(); });
    if (finished)
        worker.join();
    else
        worker.detach();  // cannot happen unless the call hangs; the process exits soon

    ASSERT_TRUE(inside) << "the parent thread never reached C_Sign";
    ASSERT_GT(pid, 0) << "fork failed";
    EXPECT_TRUE(in_flight_at_fork) << "fork() returned only after the slow C_Sign had returned";
    EXPECT_TRUE(exited_ok(st)) << "child: " << describe(st);
    ASSERT_TRUE(finished) << "the parent thread's C_Sign did not return";
    EXPECT_EQ(worker_rc, 0) << p11tls_strerror_name(worker_rc);
    EXPECT_GE(th::verify_data("p256", GNUTLS_SIGN_ECDSA_SHA256, kMsg, sizeof kMsg - 1, worker_sig.data(),
                              worker_sig.size()),
              0);
    // The parent keeps working (the slow rule is released now).
    EXPECT_EQ(child_signs_p256(key.get()), 0);
    std::cout << "[ figures  ] fork() with a C_Sign in flight returned after " << (int)fork_ms
              << " ms (gate bound " << p11tls::kGateWaitMs << " ms)" << std::endl;
}

TEST(Faults, SlowSignForkReturnsWhileCallInFlight) {
    REQUIRE_SOFTHSM();
    static int n = 0;
    const std::string release = count_dir() + "/slow-release." + std::to_string(getpid()) + "." + std::to_string(++n);
    unlink(release.c_str());
    int st = run_exec_child("FaultsSlowChild.*", "P11TLS_FAULTS_SLOW_CHILD",
                            {{"P11TLS_TESTMOD_SLOW", "C_Sign:20000:" + release},
                             {"P11TLS_FAULTS_RELEASE", release}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
    unlink(release.c_str());
}

// ---------------------------------------------------------------------------
// 3. fork() inside C_Initialize (P11TLS_TESTMOD_FORK_IN_INIT=exec|exit): the
// module forks a helper and waits for it. p11tls's first use in a fresh
// process must complete (its atfork handlers run inside its own call to
// C_Initialize), a key must sign, and the helper must make no PKCS#11 call.
// Likewise in a forked child, whose first call initializes the module again.
// (The module is added by path: p11-kit ignores a user's module
// configuration in a program running as root, as tests may.)

namespace {

// One line of init-forks.log (tests/module/testmod.c).
struct InitFork {
    long parent, helper;
    int status;
    long long ms;  // fork to reaped: includes the fork gate's wait, if any
};

std::vector<InitFork> init_forks_of(long parent) {
    std::vector<InitFork> out;
    std::ifstream in(count_dir() + "/init-forks.log");
    InitFork f;
    while (in >> f.parent >> f.helper >> f.status >> f.ms)
        if (f.parent == parent) out.push_back(f);
    return out;
}

// 0 if pid forked exactly one helper in C_Initialize, which exited 0 and
// made no PKCS#11 call; else a code from base.
int helper_clean(long pid, int base) {
    auto forks = init_forks_of(pid);
    if (forks.size() != 1) return base;
    if (forks[0].status < 0 || !WIFEXITED(forks[0].status) || WEXITSTATUS(forks[0].status) != 0) return base + 1;
    if (count_calls(read_log(), forks[0].helper) != 0) return base + 2;
    return 0;
}

int child_after_init_fork(void *arg) {
    if (int rc = child_signs_p256(static_cast<p11tls_key *>(arg))) return rc;
    return helper_clean(getpid(), 60);
}

}  // namespace

TEST(FaultsForkInInitChild, FirstUse) {
    if (!in_child("P11TLS_FAULTS_INIT_FORK_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    // Nothing in this process has used p11tls or the module yet.
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, key.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(child_signs_p256(key.get()), 0);
    const long me = getpid();
    EXPECT_EQ(count_calls(read_log(), me, "C_Initialize"), 1u);
    EXPECT_EQ(helper_clean(me, 1), 0) << "helper forked in this process's C_Initialize";

    // A child's first call initializes the module again, which forks again.
    pid_t child = 0;
    int st = run_in_child(child_after_init_fork, key.get(), &child);
    EXPECT_TRUE(exited_ok(st)) << "child: " << describe(st);
    EXPECT_EQ(helper_clean(child, 1), 0) << "helper forked in the child's C_Initialize";
    EXPECT_EQ(child_signs_p256(key.get()), 0);
    // Not asserted (timing): about kGateWaitMs here would mean the gate waited
    // for the forking thread's own call.
    for (long pid : {me, (long)child})
        for (const InitFork &f : init_forks_of(pid))
            std::cout << "[ figures  ] helper forked in C_Initialize of " << (pid == me ? "the process" : "its child")
                      << ": fork to reaped " << f.ms << " ms" << std::endl;
}

TEST(Faults, ForkInsideInitializeFirstUse) {
    REQUIRE_SOFTHSM();
    for (const char *mode : {"exec", "exit"}) {
        auto t0 = std::chrono::steady_clock::now();
        int st = run_exec_child("FaultsForkInInitChild.*", "P11TLS_FAULTS_INIT_FORK_CHILD",
                                {{"P11TLS_TESTMOD_FORK_IN_INIT", mode}});
        EXPECT_TRUE(exited_ok(st)) << mode << ": " << describe(st);
        std::cout << "[ figures  ] fork in C_Initialize (" << mode << "): re-executed child done in "
                  << (int)ms_since(t0) << " ms" << std::endl;
    }
}

// ---------------------------------------------------------------------------
// 4. A module that cannot use the OS's locks (P11TLS_TESTMOD_REFUSE_OS_LOCKING):
// its C_Initialize with CKF_OS_LOCKING_OK fails with CKR_CANT_LOCK (or
// CKR_NEED_TO_CREATE_THREADS). p11tls initializes it again without, as
// GnuTLS 3.8.12 does, and keeps the promise that makes: one call at a time.
// Threads signing together meet no concurrent call (the module checks), and
// a forked child initializes it the same way and signs.

namespace {

const int kNoLockThreads = 4, kNoLockSigns = 10;

// 0 if this process initialized the module twice (refused, then without
// locking) and made no two calls at once; else a code from base.
int initialized_without_locks(long pid, int base) {
    auto log = read_log();
    if (count_calls(log, pid, "C_Initialize") != 2) return base;
    if (count_calls(log, pid, "CONCURRENT") != 0) return base + 1;
    return 0;
}

int child_no_lock(void *arg) {
    if (int rc = child_signs_p256(arg)) return rc;
    return initialized_without_locks(getpid(), 60);
}

}  // namespace

TEST(FaultsNoLockChild, OneCallAtATime) {
    if (!in_child("P11TLS_FAULTS_NO_LOCK_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, key.put()), 0) << p11tls_last_error_detail();
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kNoLockThreads; ++i)
        threads.emplace_back([&] {
            for (int j = 0; j < kNoLockSigns; ++j)
                if (child_signs_p256(key.get()) != 0) ++failed;
        });
    for (auto &t : threads) t.join();
    EXPECT_EQ(failed.load(), 0);
    const long me = getpid();
    EXPECT_EQ(count_calls(read_log(), me, "C_Initialize"), 2u) << "refused with CKF_OS_LOCKING_OK, then without";
    EXPECT_EQ(count_calls(read_log(), me, "CONCURRENT"), 0u) << "calls made at once into a module that takes no locks";
    EXPECT_GE(count_calls(read_log(), me, "C_Sign"), (size_t)(kNoLockThreads * kNoLockSigns));

    pid_t child = 0;
    int st = run_in_child(child_no_lock, key.get(), &child);
    EXPECT_TRUE(exited_ok(st)) << "child: " << describe(st);
}

TEST(Faults, CantLockInitializedWithoutOsLocking) {
    REQUIRE_SOFTHSM();
    for (const char *rv : {"0xa", "0x9"}) {  // CKR_CANT_LOCK, CKR_NEED_TO_CREATE_THREADS
        int st = run_exec_child("FaultsNoLockChild.*", "P11TLS_FAULTS_NO_LOCK_CHILD",
                                {{"P11TLS_TESTMOD_REFUSE_OS_LOCKING", rv}});
        EXPECT_TRUE(exited_ok(st)) << rv << ": " << describe(st);
    }
}
