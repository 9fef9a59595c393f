// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Processes made without atfork handlers (issue 12, item 7): _Fork(),
// syscall(SYS_fork) and clone() without CLONE_VM copy the process but run
// no pthread_atfork handler, so p11tls's child handler never bumps the
// generation. p11tls must still see a new process (lib/base/fork.cpp: a
// MADV_WIPEONFORK page) and build the child's own world: the child signs
// correctly with SoftHSM's reset_on_fork true (where the parent's sessions
// are gone) and false (where they would still work, so the test also checks
// that the child found the key again in its own world, from the test
// module's per-pid call log).
#include "robust.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

using namespace tmh;

struct Case {
    p11tls_ctx *ctx;
    p11tls_key *key;
    bool threads;  // two threads race to notice first
};

// Two threads of the child race to notice that the process is new (any
// entry does: here setting the context's PIN function, whose lock reads
// the generation).
// They do not sign at once: SoftHSM's C_GetTokenInfo is not thread-safe
// (gmtime; TSan reports it) and both would rebind, which the threaded
// tests cover anyway.
void *notice_thread(void *arg) {
    auto *c = static_cast<Case *>(arg);
    return (void *)(intptr_t)(p11tls_ctx_set_pin_fn(c->ctx, nullptr, nullptr) != 0);
}

int child_signs(void *arg) {
    auto *c = static_cast<Case *>(arg);
    if (c->threads) {
        pthread_t t[2];
        for (auto &th : t)
            if (pthread_create(&th, nullptr, notice_thread, c) != 0) return 10;
        int rc = 0;
        for (auto &th : t) {
            void *r = nullptr;
            pthread_join(th, &r);  // bounded by the parent's wait on this child
            if (r) rc = 11;
        }
        if (rc) return rc;
    }
    if (rb::sign_verifies(c->key)) return 20;
    return rb::sign_verifies(c->key) ? 21 : 0;
}

enum How { kUnderscoreFork, kSysFork, kClone };

pid_t fork_without_handlers(How how, Case *c) {
    fflush(stdout);
    fflush(stderr);
    if (how == kClone) {
        static char stack[512 * 1024];
        return clone(child_signs, stack + sizeof stack, SIGCHLD, c);
    }
    pid_t pid = how == kUnderscoreFork ? _Fork() : (pid_t)syscall(SYS_fork);
    if (pid == 0) _exit(child_signs(c));
    return pid;
}

void run_case(How how) {
    REQUIRE_SOFTHSM();
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), rb::kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();

    // A clone() child starts no thread: under TSan (GCC 12) one that did
    // hung in every run (killed by the bound); TSan's fork() interceptor
    // prepares its runtime for a child, and clone() bypasses it. The race
    // is the _Fork and SYS_fork cases'.
    Case c{ctx.get(), key.get(), how != kClone};
    pid_t pid = fork_without_handlers(how, &c);
    ASSERT_GT(pid, 0) << strerror(errno);
    int st = wait_bounded(pid);
    EXPECT_TRUE(exited_ok(st)) << describe(st);
    EXPECT_TRUE(rb::searched(pid)) << "the child did not find the key again in its own world";
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << "parent after the child: " << p11tls_last_error_detail();
}

}  // namespace

TEST(RawFork, UnderscoreForkChildSigns) { run_case(kUnderscoreFork); }
TEST(RawFork, SysForkChildSigns) { run_case(kSysFork); }
TEST(RawFork, CloneWithoutVmChildSigns) { run_case(kClone); }
