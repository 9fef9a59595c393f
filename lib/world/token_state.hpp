// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A token as one generation sees it: its identity, a pool of sessions, its
// mechanisms and its login state (login.cpp).
#pragma once
#include <array>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "base/secure.hpp"
#include "pkcs11/module.hpp"
#include "world/context.hpp"

namespace p11tls {

class Uri;
class ModuleState;

class TokenState {
public:
    TokenState(ModuleState *ms, CK_SLOT_ID slot, const CK_SLOT_INFO &slot_info,
               const CK_TOKEN_INFO &info);

    ModuleState *module_state() const { return ms_; }
    const Module *module() const;
    CK_SLOT_ID slot() const { return slot_; }
    const CK_TOKEN_INFO &info() const { return info_; }  // as discovered
    const CK_SLOT_INFO &slot_info() const { return slot_info_; }  // as discovered
    // An initialized token in a slot that is not removable (an HSM, a
    // software token): it stays this token for the generation, unless an
    // operation says it is gone (mark_lost).
    bool fixed() const;
    const std::string &uri() const { return uri_; }
    const std::string &label() const { return label_; }
    bool same_token(const CK_TOKEN_INFO &other) const;

    CK_SESSION_HANDLE acquire_session();           // from the pool, or new
    void release_session(CK_SESSION_HANDLE h, bool broken);

    // Logs in as user if the token needs it and is not logged in yet. The
    // PIN comes from the URI, then the context's PIN function (called with
    // no lock held). Never retries a refused PIN.
    void ensure_login(const CtxState &ctx, const Uri *uri) { login(ctx, uri, false); }
    // Logs out (if logged in) and in again with the PIN from the URI or the
    // PIN function: succeeds only if that PIN is right
    // (P11TLS_KEY_OPEN_VERIFY_PIN). The logout is process-wide.
    void verify_login(const CtxState &ctx, const Uri *uri) { login(ctx, uri, true); }
    // An operation said CKR_USER_NOT_LOGGED_IN: the next ensure_login logs in.
    void note_logged_out();
    // Context-specific login (CKA_ALWAYS_AUTHENTICATE) on session h.
    void context_login(const CtxState &ctx, const Uri *uri, CK_SESSION_HANDLE h);

    bool has_mechanism(CK_MECHANISM_TYPE m);  // lock-free once loaded

    // The module said the token is gone (CKR_DEVICE_REMOVED,
    // CKR_TOKEN_NOT_PRESENT): its sessions, login and object handles are
    // dead. A lost TokenState is never found again; when the token is back,
    // discovery makes a new one and keys bound here rebind to it.
    bool lost() const { return lost_.load(std::memory_order_acquire); }
    void mark_lost() { lost_.store(true, std::memory_order_release); }

private:
    void load_mechanisms();
    void login(const CtxState &ctx, const Uri *uri, bool verify);
    // The token's flags now; P11TLS_E_PIN_LOCKED if the user PIN is locked.
    CK_FLAGS login_flags();
    // With login_mu_ held:
    void open_keeper_locked();
    void login_locked(bool have_pin, SecretBuffer &pin);
    // Logged in already: a PIN the URI gives (pin-value, pin-source) must be
    // the one that logged in (doc/security.md, "A PIN given to a logged-in
    // token"). True if the token is logged in (nothing more to do).
    bool check_uri_pin(const Uri *uri);

    std::atomic<bool> lost_{false};
    ModuleState *ms_;
    const CK_SLOT_ID slot_;
    const CK_SLOT_INFO slot_info_;
    const CK_TOKEN_INFO info_;
    const std::string uri_, label_;

    std::mutex pool_mu_;                          // guards idle_ (no module call under it)
    std::vector<CK_SESSION_HANDLE> idle_;         // guarded by pool_mu_

    // Serializes the one load of mechs_, and is held across that
    // C_GetMechanismList on purpose: threads that ask meanwhile wait for the
    // list instead of each asking the token. Only has_mechanism's first
    // calls take it; the pool does not wait for a device call.
    std::mutex mechs_mu_;
    // Written once under mechs_mu_, then read without it: every signature
    // asks, from every thread.
    std::vector<CK_MECHANISM_TYPE> mechs_;
    std::atomic<bool> mechs_loaded_{false};       // set (release) after mechs_ is written

    std::mutex login_mu_;                         // serializes C_Login; guards the three below
    bool logged_in_ = false;                      // guarded by login_mu_
    bool last_pin_wrong_ = false;                 // guarded by login_mu_
    CK_SESSION_HANDLE keeper_ = CK_INVALID_HANDLE; // guarded by login_mu_: keeps the login alive
    // A keyed hash (HMAC-SHA-256, a random per-process key) of the PIN that
    // logged in, never the PIN; empty when the login's PIN is not known
    // (another caller logged in, a protected path). Guarded by login_mu_.
    std::array<unsigned char, 32> login_pin_mac_{};
    bool login_pin_known_ = false;                // guarded by login_mu_
};

}  // namespace p11tls
