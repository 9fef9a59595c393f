// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A PIN function that forks (issue 12, item 4; p11tls.h allows it). Both
// processes return from the PIN function into the same p11tls_key_open.
// The parent goes on. The child's half-done open belongs to the parent's
// generation (its sessions, its login state, locks the parent's threads may
// hold), so p11tls starts the open again in the child's own world, where
// the PIN function is asked again: each PIN given is sent to C_Login once,
// by the process it was given in. Both processes then sign correctly, with
// SoftHSM's reset_on_fork true and false. Fresh process: the first login is
// the one whose PIN function forks.
#include "robust.hpp"

#include <unistd.h>

namespace {

using namespace tmh;

int g_calls;          // PIN function calls in this process
pid_t g_forked = -1;  // the PIN function's fork(): 0 in the child
int g_child_status = -1;

int forking_pin_fn(void *, const char *, const char *, unsigned, char *pin, size_t size) {
    ++g_calls;
    snprintf(pin, size, "%s", th::test_pin().c_str());
    if (g_forked < 0) {
        fflush(stdout);
        fflush(stderr);
        g_forked = fork();
        // The parent lets the child finish first: SoftHSM answers
        // CKR_GENERAL_ERROR to a C_Login while another process re-reads the
        // token's files (doc/fork-model.md), which is not what this tests.
        // (Bounded below this process's own bound, so no child is left.)
        if (g_forked > 0) g_child_status = th::wait_bounded(g_forked, 10);
    }
    return 0;
}

// The child's report, as its exit status.
int child_report(int open_rc, p11tls_key *key) {
    if (open_rc != 0) return 10;
    if (g_calls != 2) return 11;  // asked in the parent, then again here
    const long me = getpid();
    if (count_calls(read_log(), me, "C_Login") != 1) return 12;
    if (rb::initializations(me) != 1) return 13;  // its own world
    return rb::sign_verifies(key) ? 20 : 0;
}

const char kChildVar[] = "P11TLS_ROBUST_PIN_FORK_CHILD";

}  // namespace

TEST(PinForkChild, BothProcessesSign) {
    if (!in_child(kChildVar)) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), forking_pin_fn, nullptr), 0);
    p11tls_cxx::key key;
    int rc = p11tls_key_open(ctx.get(), rb::kNoPinUri, 0, key.put());
    if (g_forked == 0) _exit(child_report(rc, key.get()));
    ASSERT_GT(g_forked, 0) << "the PIN function did not fork";
    EXPECT_EQ(rc, 0) << p11tls_last_error_detail();
    EXPECT_EQ(g_calls, 1);
    if (rc == 0) {
        EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    }
    EXPECT_TRUE(exited_ok(g_child_status)) << "child: " << describe(g_child_status);
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login"), 1u);
}

TEST(PinFork, PinFunctionThatForks) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("PinForkChild.*", kChildVar, {});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}
