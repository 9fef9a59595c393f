// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/sigpipe.hpp"

#include <errno.h>
#include <pthread.h>
#include <time.h>

namespace p11tls {

namespace {
sigset_t pipe_set() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    return s;
}
}  // namespace

SigpipeGuard::SigpipeGuard(bool active) noexcept : active_(active) {
    if (!active_) return;
    const sigset_t pipe = pipe_set();
    sigset_t pending;
    sigemptyset(&old_);
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
    if (sigpending(&pending) == 0) was_pending_ = sigismember(&pending, SIGPIPE) == 1;
}

SigpipeGuard::~SigpipeGuard() {
    if (!active_) return;
    const int saved = errno;
    if (!was_pending_) {
        // Ours (a signal sent to this thread by its own write): taken back
        // before the caller's mask returns, so it is never delivered.
        const sigset_t pipe = pipe_set();
        sigset_t pending;
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
            const struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    errno = saved;
}

}  // namespace p11tls
