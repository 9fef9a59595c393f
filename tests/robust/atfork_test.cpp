// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Another library's atfork handlers that call p11tls (issue 12, item 1).
// glibc runs prepare handlers in reverse order of registration and parent
// and child handlers in order: a library that registered before p11tls's
// first call runs its prepare after p11tls closed the fork gate, and its
// parent and child handlers before p11tls reopens it (and, in the child,
// before p11tls's own child handler ran). A signature made in any of them,
// on the forking thread, must not wait for the gate, and in the child must
// already use the child's own world. Each case is a fresh process (p11tls
// registers its handlers at its first use, after the test's).
#include "robust.hpp"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace tmh;

enum Mode { kPrepare = 1, kParent = 2, kChild = 3 };
int g_mode;
p11tls_key *g_key;      // set while the test forks
int g_result = -1;      // the handler's rb::sign_verifies

void in_handler(Mode m) {
    if (g_mode == m && g_key) g_result = rb::sign_verifies(g_key, "signed in an atfork handler");
}
void on_prepare() { in_handler(kPrepare); }
void on_parent() { in_handler(kParent); }
void on_child() { in_handler(kChild); }

const char kChildVar[] = "P11TLS_ROBUST_ATFORK_CHILD";

}  // namespace

TEST(AtforkChild, SignsInHandler) {
    if (!in_child(kChildVar)) GTEST_SKIP() << "runs only in a re-executed child";
    g_mode = atoi(getenv("P11TLS_ROBUST_ATFORK_MODE"));
    // Registered before p11tls's first use (p11tls_ctx_new, in make_ctx).
    ASSERT_EQ(pthread_atfork(on_prepare, on_parent, on_child), 0);
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), rb::kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();

    g_key = key.get();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (g_mode == kChild && g_result != 0) _exit(30 + g_result);  // -1: never ran
        _exit(rb::sign_verifies(key.get()) ? 40 : 0);  // and an ordinary call afterwards
    }
    g_key = nullptr;
    ASSERT_GT(pid, 0);
    // Shorter than the bound on this process (30 s), so that a hung child
    // is killed here rather than left behind.
    int st = th::wait_bounded(pid, 10);
    EXPECT_TRUE(exited_ok(st)) << describe(st);
    if (g_mode != kChild) {
        EXPECT_EQ(g_result, 0) << "the handler's signature";
    }
    // The child used its own world, not the parent's.
    EXPECT_TRUE(rb::searched(pid));
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << "parent after the fork: " << p11tls_last_error_detail();
}

namespace {
void run_mode(Mode m) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("AtforkChild.*", kChildVar,
                            {{"P11TLS_ROBUST_ATFORK_MODE", std::to_string(m)}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}
}  // namespace

TEST(Atfork, SignInEarlierRegisteredPrepareHandler) { run_mode(kPrepare); }
TEST(Atfork, SignInEarlierRegisteredParentHandler) { run_mode(kParent); }
TEST(Atfork, SignInEarlierRegisteredChildHandler) { run_mode(kChild); }
