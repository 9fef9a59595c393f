// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Login: where PINs come from, and the rule that a refused PIN is never
// retried by p11tls itself.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"
#include "base/secure.hpp"
#include "uri/uri.hpp"
#include "world/world.hpp"

namespace p11tls {

namespace {

// Reads the first line of a pin-source file. The file must be a regular
// file that only its owner (and group) can read.
void read_pin_source(const char *source, SecretBuffer &pin) {
    const char *path = source;
    if (strncmp(path, "file:", 5) == 0) path += 5;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        const int err = errno;
        // O_NOFOLLOW: whoever can replace the link could point it elsewhere.
        if (err == ELOOP) fail(P11TLS_E_PIN_SOURCE, "pin-source is a symbolic link; refusing to follow it");
        fail(P11TLS_E_PIN_SOURCE, std::string("cannot open pin-source: ") + strerror(err));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        fail(P11TLS_E_PIN_SOURCE, "pin-source is not a regular file");
    }
    if (st.st_mode & S_IROTH) {
        close(fd);
        fail(P11TLS_E_PIN_SOURCE, "pin-source is readable by others; refusing to use it");
    }
    SecretBuffer buf(pin.size());
    ssize_t n = read(fd, buf.data(), buf.size() - 1);
    close(fd);
    if (n < 0) fail(P11TLS_E_PIN_SOURCE, "cannot read pin-source");
    size_t len = (size_t)n;
    for (size_t i = 0; i < len; ++i)
        if (buf.data()[i] == '\n' || buf.data()[i] == '\r') len = i;
    pin.assign(buf.data(), len);
}

unsigned pin_flags(CK_FLAGS token_flags, bool last_wrong) {
    unsigned f = 0;
    if (token_flags & CKF_USER_PIN_FINAL_TRY) f |= P11TLS_PIN_FINAL_TRY;
    if (token_flags & CKF_USER_PIN_COUNT_LOW) f |= P11TLS_PIN_COUNT_LOW;
    if (last_wrong) f |= P11TLS_PIN_WRONG;
    return f;
}

// Fills pin from the URI or the PIN function; runs user code, so the caller
// must hold no lock. Returns false for "use the protected path" (NULL PIN).
bool obtain_pin(const CtxState &ctx, const Uri *uri, const TokenState &t, CK_FLAGS token_flags,
                unsigned extra_flags, bool last_wrong, SecretBuffer &pin) {
    const bool final_try = token_flags & CKF_USER_PIN_FINAL_TRY;
    // On the final try only a person, through the PIN function, may decide.
    if (uri && !final_try && !(extra_flags & P11TLS_PIN_CONTEXT_SPECIFIC)) {
        if (const char *v = uri->pin_value()) {
            pin.assign(v, strlen(v));
            return true;
        }
        if (const char *src = uri->pin_source()) {
            read_pin_source(src, pin);
            return true;
        }
    }
    if (uri && !final_try && (extra_flags & P11TLS_PIN_CONTEXT_SPECIFIC) && uri->pin_value()) {
        pin.assign(uri->pin_value(), strlen(uri->pin_value()));
        return true;
    }
    PinFn f = ctx.pin_fn();
    if (!f.fn) {
        if (token_flags & CKF_PROTECTED_AUTHENTICATION_PATH) return false;
        fail(P11TLS_E_PIN_REQUIRED,
             final_try ? "token " + t.label() +
                             " is on its final PIN try; only a PIN function may supply the PIN"
                       : "token " + t.label() + " needs a PIN and none was given");
    }
    if (token_flags & CKF_PROTECTED_AUTHENTICATION_PATH) return false;
    unsigned flags = pin_flags(token_flags, last_wrong) | extra_flags;
    int rc = f.fn(f.arg, t.uri().c_str(), t.label().c_str(), flags, pin.data(), pin.size());
    pin.data()[pin.size() - 1] = '\0';
    if (rc < 0) fail(P11TLS_E_PIN_CANCELLED, "the PIN function declined for token " + t.label());
    return true;
}

// obtain_pin ran user code, which may have forked (p11tls.h allows it). In
// the child, this token, its sessions and its login belong to the parent's
// generation (and its locks may be held by the parent's threads): the call
// starts again in the child's world, where the PIN function is asked again
// (a PIN is never sent to C_Login twice: the parent sends this one).
void check_not_forked(uint64_t gen_before) {
    if (current_generation() != gen_before) throw ForkedDuringCall();
}

bool session_logged_in(const Module *m, CK_SESSION_HANDLE h) {
    CK_SESSION_INFO si;
    if (P11CALL(m, C_GetSessionInfo, h, &si) != CKR_OK) return false;
    return si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS;
}

}  // namespace

void TokenState::open_keeper_locked() {
    if (keeper_ != CK_INVALID_HANDLE) return;
    const Module *m = module();
    CK_RV rv = P11CALL(m, C_OpenSession, slot_, (CK_FLAGS)CKF_SERIAL_SESSION, (void *)nullptr,
                       (CK_NOTIFY) nullptr, &keeper_);
    if (rv != CKR_OK) {
        keeper_ = CK_INVALID_HANDLE;
        fail_ckr(m, "C_OpenSession", rv);
    }
}

CK_FLAGS TokenState::login_flags() {
    const Module *m = module();
    CK_TOKEN_INFO ti;
    CK_RV rv = P11CALL(m, C_GetTokenInfo, slot_, &ti);
    if (rv != CKR_OK) fail_ckr(m, "C_GetTokenInfo", rv);
    if (ti.flags & CKF_USER_PIN_LOCKED)
        fail(P11TLS_E_PIN_LOCKED, "token " + label_ + ": the user PIN is locked");
    return ti.flags;
}

void TokenState::login_locked(bool have_pin, SecretBuffer &pin) {
    const Module *m = module();
    CK_RV rv = P11CALL(m, C_Login, keeper_, (CK_USER_TYPE)CKU_USER,
                       have_pin ? (CK_UTF8CHAR *)pin.data() : nullptr,
                       have_pin ? (CK_ULONG)pin.length() : 0UL);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        logged_in_ = true;
        last_pin_wrong_ = false;
        debug("token %s: logged in", label_.c_str());
        return;
    }
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE)
        last_pin_wrong_ = true;
    fail_ckr(m, "C_Login", rv);
}

// The PIN is fetched with no lock held: the PIN function is user code.
void TokenState::login(const CtxState &ctx, const Uri *uri, bool verify) {
    const Module *m = module();
    CK_FLAGS flags;
    bool last_wrong;
    {
        std::lock_guard<std::mutex> g(login_mu_);
        if (logged_in_ && !verify) return;
        if (!(info_.flags & CKF_LOGIN_REQUIRED)) {
            if (verify)
                fail(P11TLS_E_UNSUPPORTED, "token " + label_ + " needs no login: it has no PIN to verify");
            return;
        }
        open_keeper_locked();
        // Another caller in this process may have logged in already.
        if (!verify && session_logged_in(m, keeper_)) {
            logged_in_ = true;
            return;
        }
        flags = login_flags();
        last_wrong = last_pin_wrong_;
    }

    SecretBuffer pin;
    const uint64_t gen = current_generation();
    bool have_pin = obtain_pin(ctx, uri, *this, flags, 0, last_wrong, pin);
    check_not_forked(gen);

    std::lock_guard<std::mutex> g(login_mu_);
    if (verify) {
        // C_Login while logged in would succeed without looking at the PIN.
        if (session_logged_in(m, keeper_)) {
            CK_RV rv = P11CALL(m, C_Logout, keeper_);
            if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN) fail_ckr(m, "C_Logout", rv);
            debug("token %s: logged out to verify a PIN", label_.c_str());
        }
        logged_in_ = false;
    } else if (logged_in_) {
        return;
    }
    login_locked(have_pin, pin);
}

void TokenState::note_logged_out() {
    std::lock_guard<std::mutex> g(login_mu_);
    logged_in_ = false;
}

void TokenState::context_login(const CtxState &ctx, const Uri *uri, CK_SESSION_HANDLE h) {
    const Module *m = module();
    const CK_FLAGS flags = login_flags();
    SecretBuffer pin;
    const uint64_t gen = current_generation();
    bool have_pin = obtain_pin(ctx, uri, *this, flags, P11TLS_PIN_CONTEXT_SPECIFIC, false, pin);
    check_not_forked(gen);
    CK_RV rv = P11CALL(m, C_Login, h, (CK_USER_TYPE)CKU_CONTEXT_SPECIFIC,
                 have_pin ? (CK_UTF8CHAR *)pin.data() : nullptr,
                 have_pin ? (CK_ULONG)pin.length() : 0UL);
    // The login is in effect: the operation goes on (if the module was
    // wrong, C_Sign says so and the caller gets that error).
    if (rv == CKR_USER_ALREADY_LOGGED_IN) {
        debug("token %s: C_Login(context-specific): CKR_USER_ALREADY_LOGGED_IN; going on", label_.c_str());
        return;
    }
    if (rv != CKR_OK) fail_ckr(m, "C_Login(context-specific)", rv);
}

}  // namespace p11tls
