// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The per-generation state: module initialization, tokens, session pools
// and login. A world belongs to one fork generation; a child builds its own
// on first use and never touches (or frees) the one it inherited, whose
// locks may have been held by threads that do not exist there.
#pragma once
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "base/fork.hpp"
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
    bool lost() const { return __atomic_load_n(&lost_, __ATOMIC_ACQUIRE); }
    void mark_lost() { __atomic_store_n(&lost_, true, __ATOMIC_RELEASE); }

private:
    void load_mechanisms();
    void login(const CtxState &ctx, const Uri *uri, bool verify);
    // The token's flags now; P11TLS_E_PIN_LOCKED if the user PIN is locked.
    CK_FLAGS login_flags();
    // With login_mu_ held:
    void open_keeper_locked();
    void login_locked(bool have_pin, SecretBuffer &pin);

    bool lost_ = false;  // atomic access only
    ModuleState *ms_;
    const CK_SLOT_ID slot_;
    const CK_SLOT_INFO slot_info_;
    const CK_TOKEN_INFO info_;
    const std::string uri_, label_;

    std::mutex pool_mu_;
    std::vector<CK_SESSION_HANDLE> idle_;         // guarded by pool_mu_
    // Written once under pool_mu_, then read without it: every signature
    // asks, from every thread.
    std::vector<CK_MECHANISM_TYPE> mechs_;
    bool mechs_loaded_ = false;                   // atomic access; set after mechs_

    std::mutex login_mu_;                         // serializes C_Login
    bool logged_in_ = false;                      // guarded by login_mu_
    bool last_pin_wrong_ = false;                 // guarded by login_mu_
    CK_SESSION_HANDLE keeper_ = CK_INVALID_HANDLE; // guarded by login_mu_: keeps the login alive
};

class ModuleState {
public:
    explicit ModuleState(Module *m) : mod_(m) {}
    Module *module() const { return mod_; }

    // C_Initialize once per generation (CKF_OS_LOCKING_OK). Returns 0 or a
    // P11TLS_E_* code; the reason is in error().
    int ensure_initialized();
    const std::string &error() const { return error_; }
    const CK_INFO &info() const { return info_; }

    // The present tokens: the slot list is read from the module on every
    // call; the token in a slot is re-read (C_GetTokenInfo) unless it is
    // fixed(). A token seen before keeps its state.
    std::vector<TokenState *> tokens();
    // The last C_GetSlotList failure ("module X: C_GetSlotList: CKR_..."),
    // or empty.
    std::string slot_error();

private:
    Module *mod_;
    std::mutex mu_;                                 // guards everything below
    bool init_done_ = false;
    int init_status_ = 0;
    std::string error_;
    CK_INFO info_{};
    std::vector<std::unique_ptr<TokenState>> tokens_;
    std::string slot_error_;  // the last C_GetSlotList failure
};

class World {
public:
    explicit World(uint64_t gen) : gen_(gen) {}
    uint64_t generation() const { return gen_; }
    ModuleState *state(Module *m);

private:
    const uint64_t gen_;
    std::mutex mu_;                                 // guards states_
    std::vector<std::unique_ptr<ModuleState>> states_;
};

// The world of the current generation, built on first use in a process.
World &current_world();

// A session borrowed from a token's pool; returns itself on scope exit.
// Left by an exception, it is closed instead: an operation may still be
// active on it (a C_FindObjectsFinal that failed leaves the search open,
// and every later C_FindObjectsInit on that session would fail with
// CKR_OPERATION_ACTIVE; found with a module failing at random). Left in a
// child (a PIN function forked), it is abandoned with the parent's world.
class PooledSession {
public:
    explicit PooledSession(TokenState *t)
        : t_(t), h_(t->acquire_session()), gen_(current_generation()),
          exceptions_(std::uncaught_exceptions()) {}
    ~PooledSession() {
        if (current_generation() != gen_) return;
        t_->release_session(h_, broken_ || std::uncaught_exceptions() > exceptions_);
    }
    PooledSession(const PooledSession &) = delete;
    PooledSession &operator=(const PooledSession &) = delete;
    CK_SESSION_HANDLE get() const { return h_; }
    void mark_broken() { broken_ = true; }

private:
    TokenState *t_;
    CK_SESSION_HANDLE h_;
    const uint64_t gen_;
    const int exceptions_;
    bool broken_ = false;
};

// Tokens visible to ctx that match uri (module and token attributes).
// Modules that fail to initialize are skipped (reported via the log and
// p11tls_list_modules). With why, when none matches, *why says what was
// seen: the tokens of the modules the URI names (all, if it names none)
// and why such modules showed none (C_Initialize, C_GetSlotList failures).
std::vector<TokenState *> matching_tokens(const CtxState &ctx, const Uri &uri,
                                          std::string *why = nullptr);

// Throws P11TLS_E_TOKEN_NOT_PRESENT "no token matches the URI; " + why
// (from matching_tokens).
[[noreturn]] void fail_no_token(const std::string &why);
std::string no_token_detail(const std::string &why);

// Finds objects on t matching tmpl: all of them, up to max (reading the
// results in chunks; ask for one more than a limit to know it was passed).
std::vector<CK_OBJECT_HANDLE> find_objects(TokenState *t, CK_SESSION_HANDLE s,
                                           const std::vector<CK_ATTRIBUTE> &tmpl,
                                           size_t max = 64);

// Several attributes of one object, read in one C_GetAttributeValue call
// with room for typical values (kAttributeRoom bytes each) rather than one
// or two calls per attribute; only a value larger than its room costs two
// more calls. Each call is a round trip to the token (with SoftHSM's file
// store, ~30 us: it re-checks the object's file), and p11tls_key_open used
// to make 11 (RSA) or 18 (EC) of them (bench/lookup.c, doc/performance.md).
//
// Relies on C_GetAttributeValue processing every attribute of the template
// even when it returns CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_SENSITIVE
// or CKR_BUFFER_TOO_SMALL for some (PKCS#11 2.20+, section 11.7). On any
// other error, or if the first attribute (by convention one every such
// object has, e.g. CKA_CLASS) comes back unavailable, the attributes are
// read one by one.
constexpr size_t kAttributeRoom = 640;
class Attributes {
public:
    Attributes(TokenState *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
               const std::vector<CK_ATTRIBUTE_TYPE> &types);
    // The value, empty if absent, unavailable or not requested.
    const std::vector<unsigned char> &get(CK_ATTRIBUTE_TYPE type) const;
    template <typename T>
    bool scalar(CK_ATTRIBUTE_TYPE type, T *out) const {
        const auto &v = get(type);
        if (v.size() != sizeof(T)) return false;
        memcpy(out, v.data(), sizeof(T));
        return true;
    }

private:
    std::vector<CK_ATTRIBUTE_TYPE> types_;
    std::vector<std::vector<unsigned char>> values_;
};

// Reads a variable-length attribute; empty if absent or sensitive. Other
// module errors throw (fail_ckr, "C_GetAttributeValue(CKA_...)").
std::vector<unsigned char> get_attribute(TokenState *t, CK_SESSION_HANDLE s,
                                         CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type);
template <typename T>
bool get_scalar(TokenState *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                CK_ATTRIBUTE_TYPE type, T *out) {
    CK_ATTRIBUTE a = {type, out, sizeof(T)};
    return get_attribute_value(t->module(), s, o, &a, 1UL) == CKR_OK &&
           a.ulValueLen == sizeof(T);
}

}  // namespace p11tls
