// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A module that talks to its tokens over a socket (p11-kit-client.so)
// writes to it without MSG_NOSIGNAL: when the server dies, the write raises
// SIGPIPE, whose default action kills the whole process (a TLS server
// loses every connection because its key server restarted). Around each
// call into such a module, SIGPIPE is blocked in the calling thread and a
// SIGPIPE the call raised is taken back; the call itself then sees EPIPE
// and fails (CKR_DEVICE_ERROR), which the caller recovers from.
#pragma once
#include <signal.h>

namespace p11tls {

class SigpipeGuard {
public:
    // Does nothing unless active (a link module: Module::link).
    explicit SigpipeGuard(bool active) noexcept;
    ~SigpipeGuard();
    SigpipeGuard(const SigpipeGuard &) = delete;
    SigpipeGuard &operator=(const SigpipeGuard &) = delete;

private:
    bool active_;
    bool was_pending_ = false;  // a SIGPIPE of the caller's own was already pending
    sigset_t old_;
};

}  // namespace p11tls
