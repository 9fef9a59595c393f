// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The RAII session: borrowed from a token's pool for one operation.
// It lives in world/, not pkcs11/, because it is the pool's handle: it
// returns the session to its TokenState and knows the generation it came
// from (doc/architecture.md).
#pragma once
#include <cstdint>
#include <exception>

#include <p11-kit/pkcs11.h>

#include "base/fork.hpp"
#include "pkcs11/init_watch.hpp"
#include "world/module_state.hpp"
#include "world/token_state.hpp"

namespace p11tls {

// A session borrowed from a token's pool; returns itself on scope exit.
// Left by an exception, it is closed instead: an operation may still be
// active on it (a C_FindObjectsFinal that failed leaves the search open,
// and every later C_FindObjectsInit on that session would fail with
// CKR_OPERATION_ACTIVE; found with a module failing at random). Left in a
// child (a PIN function forked), it is abandoned with the parent's world.
// It holds its module's epoch (EpochUse) meanwhile. A session found closed
// under it makes the token's state lost (see the destructor).
//
// With NewSession: a session opened for this operation and closed after it,
// for modules that read their store when a session first searches
// (p11-kit's trust module reads its files once per session): a new read of
// the tokens then sees the files as they are now.
struct NewSession {};
class PooledSession {
public:
    explicit PooledSession(TokenState *t)
        : use_(t->module_state()), t_(t), h_(t->acquire_session()), gen_(current_generation()),
          exceptions_(std::uncaught_exceptions()) {}
    PooledSession(TokenState *t, NewSession)
        : use_(t->module_state()), t_(t), h_(t->open_session()), gen_(current_generation()),
          exceptions_(std::uncaught_exceptions()), broken_(true) {}
    ~PooledSession() {
        if (current_generation() != gen_) return;
        // The module was initialized again (this thread found the key anew
        // while it held this session): the handle may name another session
        // now, and is abandoned, as in a child.
        if (t_->module_state()->ended()) return;
        // A session the module no longer knew, and the login session gone
        // too: another caller closed every session of the token (libp11
        // does, C_CloseAllSessions) and so logged it out. The token is
        // then lost, and the call starts over (once) on a new state of it;
        // not when the call found the token gone itself (a pulled token's
        // operation is not retried).
        const bool was_lost = t_->lost();
        if (t_->release_session(h_, broken_ || std::uncaught_exceptions() > exceptions_) && !was_lost &&
            t_->sessions_gone())
            mark_state_lost();
    }
    PooledSession(const PooledSession &) = delete;
    PooledSession &operator=(const PooledSession &) = delete;
    CK_SESSION_HANDLE get() const { return h_; }
    void mark_broken() { broken_ = true; }

private:
    EpochUse use_;  // first: held until the session is back in the pool or closed
    TokenState *t_;
    CK_SESSION_HANDLE h_;
    const uint64_t gen_;
    const int exceptions_;
    bool broken_ = false;
};

}  // namespace p11tls
