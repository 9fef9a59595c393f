// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// What every writing job needs: the one token a URI names, and a
// read-write session on it (the pool's sessions are read-only).
#pragma once
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "base/fork.hpp"
#include "world/context.hpp"
#include "world/module_state.hpp"
#include "world/token_state.hpp"

namespace p11tls {

class Uri;

// The one token uri names: P11TLS_E_TOKEN_NOT_PRESENT (saying which tokens
// there are) if none, P11TLS_E_AMBIGUOUS (naming them) if several: a
// change is never made on whichever token comes first. what names the job
// for the messages ("a PIN change").
TokenState *one_token(const CtxState &ctx, const Uri &uri, const char *what);

// Fails with P11TLS_E_READ_ONLY if the token says it is write-protected.
void check_writable(const TokenState &t, const CK_TOKEN_INFO &now);

class RwSession;
// Whether an object matching tmpl is on the token (private ones too, when
// logged in).
bool any_object(const RwSession &s, const std::vector<CK_ATTRIBUTE> &tmpl);
// Whether one matching tmpl is there that is none of mine: after creating
// mine, whether another process created one at the same time (a token
// has no "create if absent": check, create, check again).
bool other_object(const RwSession &s, const std::vector<CK_ATTRIBUTE> &tmpl,
                  const std::vector<CK_OBJECT_HANDLE> &mine);

// An object this call created, to remove it when the call fails.
struct Created {
    CK_OBJECT_HANDLE handle;
    const char *what;  // "private key", "public key", "certificate"
};
// Destroys each of objs (labelled label on t) and says exactly what that
// did, for the error detail: all removed, or which could not be (with the
// CKR_ value) and stays on the token (also logged, as a warning). Never
// throws.
struct Removal {
    bool complete;       // every one removed
    std::string detail;
};
Removal remove_created(const RwSession &s, const TokenState &t, const std::string &label,
                       const std::vector<Created> &objs) noexcept;
// Hex of an ID, for messages.
std::string hex(const std::vector<unsigned char> &v);

// A read-write session of its own, closed on scope exit (abandoned in a
// forked child, with the parent's world). CKR_TOKEN_WRITE_PROTECTED from
// C_OpenSession is P11TLS_E_READ_ONLY.
class RwSession {
public:
    explicit RwSession(TokenState *t);
    ~RwSession();
    RwSession(const RwSession &) = delete;
    RwSession &operator=(const RwSession &) = delete;
    CK_SESSION_HANDLE get() const { return h_; }
    const Module *module() const { return t_->module(); }
    // False in a child forked since it was opened: nothing may use it there.
    bool current() const { return current_generation() == gen_; }

private:
    EpochUse use_;  // the module's epoch, held while the session exists
    TokenState *t_;
    CK_SESSION_HANDLE h_ = CK_INVALID_HANDLE;
    const uint64_t gen_;
};

}  // namespace p11tls
