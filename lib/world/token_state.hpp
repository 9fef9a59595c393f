// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A token as one generation sees it: its identity, a pool of sessions, its
// mechanisms and its login state (login.cpp).
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
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
class ObjectIndex;

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
    CK_SESSION_HANDLE open_session();              // new, not from the pool
    // Back to the pool, or closed if broken: then true if the module no
    // longer knew it (someone closed it, or all of the token's sessions).
    bool release_session(CK_SESSION_HANDLE h, bool broken);
    void close_idle_sessions();                    // the pool's, not those borrowed

    // Logs in as user if the token needs it and is not logged in yet. The
    // PIN comes from the URI, then the context's PIN function (called with
    // no lock held). Never retries a refused PIN.
    void ensure_login(const CtxState &ctx, const Uri *uri) { login(ctx, uri, false); }
    // Logs out (if logged in) and in again with the PIN from the URI or the
    // PIN function: succeeds only if that PIN is right
    // (P11TLS_KEY_OPEN_VERIFY_PIN). The logout is process-wide.
    void verify_login(const CtxState &ctx, const Uri *uri) { login(ctx, uri, true); }
    // Whether a lookup on this token needs a PIN now: the token requires a
    // login and is not logged in (by p11tls or another caller in the
    // process). Asks the module; no PIN, no user code.
    bool needs_login();
    // An operation said CKR_USER_NOT_LOGGED_IN: the next ensure_login logs in.
    void note_logged_out();
    // Context-specific login (CKA_ALWAYS_AUTHENTICATE) on session h.
    void context_login(const CtxState &ctx, const Uri *uri, CK_SESSION_HANDLE h);
    // The Security Officer's login, on the caller's read-write session h,
    // for what only the SO may write (CKA_TRUSTED). The SO PIN comes from
    // the context's PIN function only (flag P11TLS_PIN_SO: a URI's PIN is
    // the user's), asked with no lock held, never retried; the protected
    // path needs none. Refused (P11TLS_E_NOT_PERMITTED) while the token is
    // logged in as its user in this process: PKCS#11 logs an application
    // in as one user type at a time. so_logout(h) ends it.
    void so_login(const CtxState &ctx, CK_SESSION_HANDLE h);
    void so_logout(CK_SESSION_HANDLE h);

    // For the PIN change (provision/set_pin.cpp), the login in two steps:
    // the token's info now (C_GetTokenInfo; P11TLS_E_PIN_LOCKED if the
    // user PIN is locked), then a PIN as a login would get it (uri's
    // pin-value or pin-source if uri, else the PIN function with the
    // reasons token_flags give and extra_flags; called with no lock held;
    // false: the protected path, no PIN), then login_with that PIN unless
    // the token is logged in already. Never retried.
    CK_TOKEN_INFO info_now();
    bool ask_pin(const CtxState &ctx, const Uri *uri, CK_FLAGS token_flags, unsigned extra_flags,
                 SecretBuffer &pin);
    void login_with(bool have_pin, SecretBuffer &pin);
    // After C_SetPIN: the session-wide login stays, and the PIN a URI must
    // give to match it (check_uri_pin) is now the new one.
    void note_pin_changed(bool have_pin, SecretBuffer &new_pin);

    bool has_mechanism(CK_MECHANISM_TYPE m);  // lock-free once loaded
    std::vector<CK_MECHANISM_TYPE> mechanisms();  // as the token listed them

    // What this generation learnt of the token's objects, for the login
    // state it is in now (object_index.hpp). With build, the first call in
    // a login state reads the whole token (one search, one attribute call
    // per object); other threads wait for that read rather than make their
    // own. Null without build when there is none yet, when the index is
    // off (P11TLS_NO_OBJECT_INDEX set) or when reading the token failed.
    // Every change of login state throws it away: private objects appear
    // or vanish with it. So does age: an index is trusted for
    // kIndexTrust after its read began, or kIndexTrustFactor times as long
    // as the read took if that is longer (a read never costs more than
    // 1/kIndexTrustFactor of a process's time); the next lookup reads the
    // token again. An object another process creates is therefore seen
    // within that time even under a name the index answers (a second key
    // with the same label: P11TLS_E_AMBIGUOUS, as a real search says).
    std::shared_ptr<ObjectIndex> object_index(bool build);
    static constexpr std::chrono::milliseconds kIndexTrust{1000};
    static constexpr int kIndexTrustFactor = 20;

    // The module said the token is gone (CKR_DEVICE_REMOVED,
    // CKR_TOKEN_NOT_PRESENT, its slot no longer listed, its sessions all
    // invalid), or the module's epoch ended (another caller finalized it):
    // its sessions, login and object handles are dead. A lost TokenState is
    // never found again; when the token is back, discovery makes a new one
    // and keys bound here rebind to it.
    bool lost() const;
    // Also drops what the state kept of the token that no one can use any
    // more: its object index and its idle sessions' handles (the state
    // itself stays: keys' bindings may name it until they rebind).
    void mark_lost();
    // After an operation's session was refused (CKR_SESSION_HANDLE_INVALID,
    // CKR_SESSION_CLOSED): whether every session of the token is gone, as
    // when a card is pulled out and put back, or the module was initialized
    // again: then the token is marked lost (true). Otherwise only that
    // session was (someone closed it), and the pool's idle ones are closed
    // too, being as old.
    bool sessions_gone();
    // After an operation failed as a device (CKR_GENERAL_ERROR,
    // CKR_DEVICE_ERROR: OpenSC's answer once pcscd is gone): has the
    // module look for its slots and list them now (OpenSC looks at its
    // readers only then). False, and the token marked lost, if it is not
    // listed. A fixed() token is taken as present.
    bool still_present();

private:
    void load_mechanisms();
    void login(const CtxState &ctx, const Uri *uri, bool verify);
    CK_FLAGS login_flags() { return info_now().flags; }
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

    // One read of the whole token at a time, held across it on purpose (as
    // mechs_mu_): threads that ask meanwhile wait for that index. Taken
    // before index_mu_, never after it.
    std::mutex index_build_mu_;
    std::mutex index_mu_;                         // guards the two below (no module call under it)
    std::shared_ptr<ObjectIndex> index_;          // guarded by index_mu_
    uint64_t index_epoch_ = 0;                    // guarded by index_mu_: login_epoch_ it was read in
    std::chrono::steady_clock::time_point index_expires_;  // guarded by index_mu_: trusted until
    const bool index_off_;                        // P11TLS_NO_OBJECT_INDEX, read once
    // Changes of logged_in_ (set_logged_in_locked): which login state an
    // index belongs to.
    std::atomic<uint64_t> login_epoch_{0};

    // With login_mu_ held.
    void set_logged_in_locked(bool v) {
        if (v != logged_in_) login_epoch_.fetch_add(1, std::memory_order_acq_rel);
        logged_in_ = v;
    }
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
