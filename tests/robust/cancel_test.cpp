// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A thread that ends inside the PIN function (issue 12, item 3):
// pthread_cancel while it waits there, or pthread_exit from it. glibc ends
// the thread by unwinding its stack with abi::__forced_unwind, through
// p11tls; swallowing it aborted the process ("FATAL: exception not
// rethrown"). The thread must end, the process go on, and no lock stay held:
// the next open from another thread logs in and signs. Each case runs in a
// fresh process (the first login is the one interrupted).
#include "robust.hpp"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace {

using namespace tmh;

enum How { kCancel = 1, kExit = 2 };
int g_how;
int g_entered;  // atomic: the PIN function is running
std::string g_pin;

// Under ASan, what __cxa_throw does before any C++ exception unwinds and
// glibc's forced unwind does not: unpoison the stack. Otherwise the frames
// the cancellation unwinds without running code keep their redzones
// poisoned, and GCC 12's libasan trips over them in its own
// __asan_handle_no_return, at p11tls's first cleanup (sigaltstack
// interceptor: "CHECK failed: asan_thread.cpp:371 ... kCurrentStackFrameMagic");
// later libasan versions call sigaltstack internally there.
void before_forced_unwind() {
#if defined(__SANITIZE_ADDRESS__)
    __asan_handle_no_return();
#endif
}

int dying_pin_fn(void *, const char *, const char *, unsigned, char *pin, size_t size) {
    // A PIN in p11tls's buffer when the thread dies: wiped on the way out.
    snprintf(pin, size, "%s", g_pin.c_str());
    before_forced_unwind();
    if (g_how == kExit) pthread_exit((void *)42);
    __atomic_store_n(&g_entered, 1, __ATOMIC_SEQ_CST);
    for (;;) pause();  // a cancellation point
}

int good_pin_fn(void *, const char *, const char *, unsigned, char *pin, size_t size) {
    snprintf(pin, size, "%s", th::test_pin().c_str());
    return 0;
}

void *opener(void *ctx) {
    p11tls_key *k = nullptr;
    int rc = p11tls_key_open(static_cast<p11tls_ctx *>(ctx), rb::kNoPinUri, 0, &k);
    p11tls_key_free(k);
    return (void *)(intptr_t)(rc == 0 ? 1 : 2);  // neither is expected
}

bool wait_entered() {
    for (int i = 0; i < 1000; i++) {  // 10 s
        if (__atomic_load_n(&g_entered, __ATOMIC_SEQ_CST)) return true;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, nullptr);
    }
    return false;
}

const char kChildVar[] = "P11TLS_ROBUST_CANCEL_CHILD";

}  // namespace

TEST(CancelChild, ThreadEndsInPinFunction) {
    if (!in_child(kChildVar)) GTEST_SKIP() << "runs only in a re-executed child";
    g_how = atoi(getenv("P11TLS_ROBUST_CANCEL_HOW"));
    g_pin = th::test_pin();
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), dying_pin_fn, nullptr), 0);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, nullptr, opener, ctx.get()), 0);
    if (g_how == kCancel) {
        ASSERT_TRUE(wait_entered()) << "the PIN function was not called";
        ASSERT_EQ(pthread_cancel(t), 0);
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    void *ret = nullptr;
    ASSERT_EQ(pthread_timedjoin_np(t, &ret, &deadline), 0) << "the thread did not end";
    EXPECT_EQ(ret, g_how == kCancel ? PTHREAD_CANCELED : (void *)42);

    // Another thread (this one) opens, logs in and signs: no lock is held.
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), good_pin_fn, nullptr), 0);
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), rb::kNoPinUri, 0, key.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    // The dead thread's PIN never reached the token.
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login"), 1u);
}

namespace {
void run_how(How h) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("CancelChild.*", kChildVar,
                            {{"P11TLS_ROBUST_CANCEL_HOW", std::to_string(h)}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}
}  // namespace

TEST(Cancel, PthreadCancelInPinFunction) { run_how(kCancel); }
TEST(Cancel, PthreadExitInPinFunction) { run_how(kExit); }
