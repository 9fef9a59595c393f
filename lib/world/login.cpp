// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Login: where PINs come from, and the rule that a refused PIN is never
// retried by p11tls itself.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/hmac.h>
#include <nettle/memops.h>

#include <p11tls/provision.h>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"
#include "base/secure.hpp"
#include "pkcs11/init_watch.hpp"
#include "uri/uri.hpp"
#include "world/module_state.hpp"
#include "world/pin_memory.hpp"
#include "world/token_state.hpp"

namespace p11tls {

namespace {

// What a pin-source path is, if it is not a regular file: opening a FIFO
// blocks until someone writes to it, and a device or socket is no PIN file.
// Anyone who can create the path must not be able to hang a login.
const char *not_a_pin_file(mode_t mode) {
    if (S_ISREG(mode)) return nullptr;
    if (S_ISDIR(mode)) return "pin-source is a directory, not a regular file";
    if (S_ISFIFO(mode)) return "pin-source is a FIFO (named pipe), not a regular file";
    if (S_ISSOCK(mode)) return "pin-source is a socket, not a regular file";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "pin-source is a device, not a regular file";
    return "pin-source is not a regular file";
}

// Reads the first line of a pin-source file. The file must be a regular
// file that only its owner (and group) can read.
void read_pin_source(const char *source, SecretBuffer &pin) {
    const char *path = source;
    if (strncmp(path, "file:", 5) == 0) path += 5;
    // Refused before open() where possible (opening some devices has side
    // effects); fstat() below is what counts, since the path may change.
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISLNK(st.st_mode))
        if (const char *why = not_a_pin_file(st.st_mode)) fail(P11TLS_E_PIN_SOURCE, why);
    // O_NONBLOCK: a FIFO put in place after lstat() must not block open().
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        const int err = errno;
        // O_NOFOLLOW: whoever can replace the link could point it elsewhere.
        if (err == ELOOP) fail(P11TLS_E_PIN_SOURCE, "pin-source is a symbolic link; refusing to follow it");
        if (err == ENXIO) fail(P11TLS_E_PIN_SOURCE, "pin-source is a socket or device, not a regular file");
        fail(P11TLS_E_PIN_SOURCE, std::string("cannot open pin-source: ") + strerror(err));
    }
    struct Closer {
        int fd;
        ~Closer() { close(fd); }
    } closer{fd};
    if (fstat(fd, &st) != 0) fail(P11TLS_E_PIN_SOURCE, "cannot stat pin-source");
    if (const char *why = not_a_pin_file(st.st_mode)) fail(P11TLS_E_PIN_SOURCE, why);
    if (st.st_mode & S_IROTH) fail(P11TLS_E_PIN_SOURCE, "pin-source is readable by others; refusing to use it");
    const int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
        fail(P11TLS_E_PIN_SOURCE, "cannot read pin-source");
    // One byte more than the longest PIN: enough to tell a line that fits
    // from one that does not.
    SecretBuffer buf(kMaxPinLength + 2);
    size_t got = 0;
    while (got < buf.size() - 1) {
        ssize_t n = read(fd, buf.data() + got, buf.size() - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(P11TLS_E_PIN_SOURCE, "cannot read pin-source");
        if (n == 0) break;
        got += (size_t)n;
        if (memchr(buf.data(), '\n', got)) break;
    }
    size_t len = got;
    for (size_t i = 0; i < got; ++i)
        if (buf.data()[i] == '\n' || buf.data()[i] == '\r') {
            len = i;
            break;
        }
    if (len > kMaxPinLength)
        fail(P11TLS_E_PIN_SOURCE, "pin-source's first line is longer than " + std::to_string(kMaxPinLength) +
                                      " bytes; refusing it rather than cutting it");
    // A PIN is a C string from here on: "1234\0JUNK" would log in as "1234".
    if (memchr(buf.data(), '\0', len))
        fail(P11TLS_E_PIN_SOURCE, "pin-source's first line holds a NUL byte; refusing it rather than cutting it there");
    if (!pin.assign(buf.data(), len)) fail(P11TLS_E_INTERNAL, "PIN buffer too small");
}

unsigned pin_flags(CK_FLAGS token_flags, bool last_wrong) {
    unsigned f = 0;
    if (token_flags & CKF_USER_PIN_FINAL_TRY) f |= P11TLS_PIN_FINAL_TRY;
    if (token_flags & CKF_USER_PIN_COUNT_LOW) f |= P11TLS_PIN_COUNT_LOW;
    if (last_wrong) f |= P11TLS_PIN_WRONG;
    return f;
}

// A URI's pin-value, checked: never cut, and "" is no PIN.
void pin_from_uri_value(const char *v, SecretBuffer &pin) {
    const size_t n = strnlen(v, kMaxPinLength + 1);
    if (n > kMaxPinLength)
        fail(P11TLS_E_INVALID_URI, "the URI's pin-value is longer than " + std::to_string(kMaxPinLength) +
                                       " bytes; refusing it rather than cutting it");
    if (!pin.assign(v, n)) fail(P11TLS_E_INTERNAL, "PIN buffer too small");
}

// Fills pin from the URI or the PIN function; runs user code, so the caller
// must hold no lock. Returns false for "use the protected path" (NULL PIN).
// An empty PIN is never sent: on a smart card it would burn a try. It is
// "no PIN given" (P11TLS_E_PIN_REQUIRED from a URI, P11TLS_E_PIN_CANCELLED
// from the PIN function), or the protected path if the token has one.
bool obtain_pin(const CtxState &ctx, const Uri *uri, const TokenState &t, CK_FLAGS token_flags,
                unsigned extra_flags, bool last_wrong, SecretBuffer &pin) {
    const bool final_try = token_flags & CKF_USER_PIN_FINAL_TRY;
    const bool protected_path = token_flags & CKF_PROTECTED_AUTHENTICATION_PATH;
    auto from_uri = [&](const char *what) {
        if (pin.length() > 0) return true;
        if (protected_path) return false;
        fail(P11TLS_E_PIN_REQUIRED, std::string("the URI's ") + what + " is empty: no PIN given for token " +
                                        t.label());
    };
    // On the final try only a person, through the PIN function, may decide.
    if (uri && !final_try && !(extra_flags & P11TLS_PIN_CONTEXT_SPECIFIC)) {
        if (const char *v = uri->pin_value()) {
            pin_from_uri_value(v, pin);
            return from_uri("pin-value");
        }
        if (const char *src = uri->pin_source()) {
            read_pin_source(src, pin);
            return from_uri("pin-source");
        }
    }
    if (uri && !final_try && (extra_flags & P11TLS_PIN_CONTEXT_SPECIFIC) && uri->pin_value()) {
        pin_from_uri_value(uri->pin_value(), pin);
        return from_uri("pin-value");
    }
    PinFn f = ctx.pin_fn();
    if (!f.fn) {
        if (protected_path) return false;
        fail(P11TLS_E_PIN_REQUIRED,
             final_try ? "token " + t.label() +
                             " is on its final PIN try; only a PIN function may supply the PIN"
                       : "token " + t.label() + " needs a PIN and none was given");
    }
    if (protected_path) return false;
    unsigned flags = pin_flags(token_flags, last_wrong) | extra_flags;
    pin.wipe();
    int rc = f.fn(f.arg, t.uri().c_str(), t.label().c_str(), flags, pin.data(), pin.size());
    if (rc < 0) fail(P11TLS_E_PIN_CANCELLED, "the PIN function declined for token " + t.label());
    // The function must leave a NUL in the buffer: without one its PIN
    // did not fit, and cutting it could make a wrong PIN a right one.
    if (!memchr(pin.data(), '\0', pin.size())) {
        pin.wipe();
        fail(P11TLS_E_PIN_CANCELLED, "the PIN function's PIN for token " + t.label() + " is longer than " +
                                         std::to_string(kMaxPinLength) + " bytes; refused, not cut");
    }
    if (pin.length() == 0)
        fail(P11TLS_E_PIN_CANCELLED, "the PIN function gave an empty PIN for token " + t.label() +
                                         ": no PIN given, no login tried");
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

// The key of the PIN hashes: random, so that a hash in memory cannot be
// looked up in a table made beforehand. Never changes in a process.
unsigned char g_mac_key[32];
bool g_mac_key_ok;
pthread_once_t g_mac_key_once = PTHREAD_ONCE_INIT;

void make_mac_key() {
    g_mac_key_ok = getrandom(g_mac_key, sizeof g_mac_key, 0) == (ssize_t)sizeof g_mac_key;
}

// false if no key could be made (then no PIN is ever compared).
bool pin_mac(SecretBuffer &pin, std::array<unsigned char, 32> &out) {
    pthread_once(&g_mac_key_once, make_mac_key);
    if (!g_mac_key_ok) return false;
    hmac_sha256_ctx h;
    hmac_sha256_set_key(&h, sizeof g_mac_key, g_mac_key);
    hmac_sha256_update(&h, pin.length(), reinterpret_cast<const uint8_t *>(pin.data()));
    hmac_sha256_digest(&h, out.size(), out.data());
    explicit_bzero(&h, sizeof h);
    return true;
}

// The login session's state: 1 logged in, 0 not, -1 the module no longer
// knows the session (it closed every session of the token: another caller's
// C_CloseAllSessions, as libp11 makes, or a card pulled out).
int session_login_state(const Module *m, CK_SESSION_HANDLE h) {
    CK_SESSION_INFO si;
    CK_RV rv = P11CALL(m, C_GetSessionInfo, h, &si);
    if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) return -1;
    if (rv != CKR_OK) return 0;
    return si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS ? 1 : 0;
}

bool session_logged_in(const Module *m, CK_SESSION_HANDLE h) { return session_login_state(m, h) > 0; }

}  // namespace

void TokenState::open_keeper_locked() {
    if (keeper_ != CK_INVALID_HANDLE) return;
    const Module *m = module();
    CK_RV rv = P11CALL(m, C_OpenSession, slot_, (CK_FLAGS)CKF_SERIAL_SESSION, (void *)nullptr,
                       (CK_NOTIFY) nullptr, &keeper_);
    if (rv != CKR_OK) {
        keeper_ = CK_INVALID_HANDLE;
        if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED) mark_lost();
        fail_ckr(m, "C_OpenSession", rv);
    }
}

CK_TOKEN_INFO TokenState::info_now() {
    const Module *m = module();
    CK_TOKEN_INFO ti;
    CK_RV rv = P11CALL(m, C_GetTokenInfo, slot_, &ti);
    if (rv != CKR_OK) fail_ckr(m, "C_GetTokenInfo", rv);
    if (ti.flags & CKF_USER_PIN_LOCKED)
        fail(P11TLS_E_PIN_LOCKED, "token " + label_ + ": the user PIN is locked");
    return ti;
}

bool TokenState::ask_pin(const CtxState &ctx, const Uri *uri, CK_FLAGS token_flags, unsigned extra_flags,
                         SecretBuffer &pin) {
    bool last_wrong;
    {
        std::lock_guard<std::mutex> g(login_mu_);
        last_wrong = last_pin_wrong_;
    }
    const uint64_t gen = current_generation();
    bool have_pin = obtain_pin(ctx, uri, *this, token_flags, extra_flags, last_wrong, pin);
    check_not_forked(gen);
    return have_pin;
}

void TokenState::login_with(bool have_pin, SecretBuffer &pin) {
    EpochUse use(ms_);
    std::lock_guard<std::mutex> g(login_mu_);
    open_keeper_locked();
    if (session_logged_in(module(), keeper_)) {
        set_logged_in_locked(true);
        return;
    }
    login_locked(have_pin, pin);
}

void TokenState::note_pin_changed(bool have_pin, SecretBuffer &new_pin) {
    ms_->pins().forget(info_);
    std::lock_guard<std::mutex> g(login_mu_);
    login_pin_known_ = logged_in_ && have_pin && pin_mac(new_pin, login_pin_mac_);
}

void TokenState::login_locked(bool have_pin, SecretBuffer &pin) {
    const Module *m = module();
    // A PIN this token refused before, in this world (an earlier login, a
    // login redone after the token was pulled out or the module finalized
    // by another caller), is not sent again: it would spend another try.
    PinMemory::Mac mac;
    const bool have_mac = have_pin && pin_mac(pin, mac);
    if (have_mac && ms_->pins().was_refused(info_, mac)) {
        last_pin_wrong_ = true;
        fail(P11TLS_E_PIN_INCORRECT, "token " + label_ +
                                         " refused this PIN before; it is not sent again (a wrong PIN is never "
                                         "retried)");
    }
    CK_RV rv = P11CALL(m, C_Login, keeper_, (CK_USER_TYPE)CKU_USER,
                       have_pin ? (CK_UTF8CHAR *)pin.data() : nullptr,
                       have_pin ? (CK_ULONG)pin.length() : 0UL);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        set_logged_in_locked(true);
        last_pin_wrong_ = false;
        // CKR_USER_ALREADY_LOGGED_IN: the module did not look at the PIN.
        login_pin_known_ = rv == CKR_OK && have_mac;
        if (login_pin_known_) login_pin_mac_ = mac;
        log_info("token %s: logged in", label_.c_str());
        return;
    }
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE)
        last_pin_wrong_ = true;
    if (rv == CKR_PIN_INCORRECT && have_mac) ms_->pins().refused(info_, mac);
    fail_ckr(m, "C_Login", rv);
}

// PKCS#11 logs a token in for the whole process, and C_Login on a
// logged-in token does not look at the PIN: a second open's PIN cannot be
// checked by the token without a process-wide logout, and a wrong one must
// not pass unseen. It is compared with the PIN that logged in (a keyed
// hash of it): the same passes with no module call, another is refused,
// P11TLS_E_PIN_INCORRECT, and costs no try. A pin-source that cannot be
// read fails as it would before the login.
bool TokenState::check_uri_pin(const Uri *uri) {
    std::array<unsigned char, 32> want;
    {
        std::lock_guard<std::mutex> g(login_mu_);
        if (!logged_in_) return false;
        if (!uri || (!uri->pin_value() && !uri->pin_source())) return true;
        if (!login_pin_known_) {
            debug("token %s: logged in with a PIN p11tls did not see; the URI's PIN is not compared",
                  label_.c_str());
            return true;
        }
        want = login_pin_mac_;
    }
    SecretBuffer pin;
    if (const char *v = uri->pin_value()) pin_from_uri_value(v, pin);
    else read_pin_source(uri->pin_source(), pin);
    std::array<unsigned char, 32> got;
    if (pin.length() == 0 || !pin_mac(pin, got)) return true;
    if (!nettle_memeql_sec(got.data(), want.data(), got.size()))
        fail(P11TLS_E_PIN_INCORRECT,
             "token " + label_ + " is logged in with another PIN than the URI's " +
                 (uri->pin_value() ? "pin-value" : "pin-source") +
                 "; refused without asking the token (P11TLS_KEY_OPEN_VERIFY_PIN has it check)");
    return true;
}

// The PIN is fetched with no lock held: the PIN function is user code.
void TokenState::login(const CtxState &ctx, const Uri *uri, bool verify) {
    const Module *m = module();
    CK_FLAGS flags;
    if (!verify && check_uri_pin(uri)) return;
    {
        EpochUse use(ms_);  // the login session's handle; not held while the PIN is asked
        std::lock_guard<std::mutex> g(login_mu_);
        if (logged_in_ && !verify) return;
        if (!(info_.flags & CKF_LOGIN_REQUIRED)) {
            if (verify)
                fail(P11TLS_E_UNSUPPORTED, "token " + label_ + " needs no login: it has no PIN to verify");
            return;
        }
        open_keeper_locked();
        const int state = session_login_state(m, keeper_);
        if (state < 0) {
            // Every session of this state is gone, and the login with them:
            // the call starts over on a new state of the token (once).
            mark_lost();
            mark_state_lost();
            fail(P11TLS_E_DEVICE, "token " + label_ + ": its sessions were closed (by another caller in the "
                                  "process?); looking at it again");
        }
        // Another caller in this process may have logged in already.
        if (!verify && state > 0) {
            set_logged_in_locked(true);
            return;
        }
        flags = login_flags();
    }

    SecretBuffer pin;
    bool have_pin = ask_pin(ctx, uri, flags, 0, pin);

    // An epoch that ended while the PIN was asked (another caller finalized
    // the module) fails here, before its login session is used: the call
    // starts over in the next epoch, and the PIN is asked there.
    EpochUse use(ms_);
    std::lock_guard<std::mutex> g(login_mu_);
    if (verify) {
        // C_Login while logged in would succeed without looking at the PIN.
        if (session_logged_in(m, keeper_)) {
            CK_RV rv = P11CALL(m, C_Logout, keeper_);
            if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN) fail_ckr(m, "C_Logout", rv);
            log_info("token %s: logged out to verify a PIN", label_.c_str());
        }
        set_logged_in_locked(false);
        login_pin_known_ = false;
    } else if (logged_in_) {
        return;
    }
    login_locked(have_pin, pin);
}

bool TokenState::needs_login() {
    std::lock_guard<std::mutex> g(login_mu_);
    if (logged_in_ || !(info_.flags & CKF_LOGIN_REQUIRED)) return false;
    open_keeper_locked();
    if (!session_logged_in(module(), keeper_)) return true;
    set_logged_in_locked(true);  // another caller in the process logged in
    return false;
}

void TokenState::note_logged_out() {
    std::lock_guard<std::mutex> g(login_mu_);
    set_logged_in_locked(false);
    login_pin_known_ = false;
}

void TokenState::context_login(const CtxState &ctx, const Uri *uri, CK_SESSION_HANDLE h) {
    const Module *m = module();
    const CK_FLAGS flags = login_flags();
    SecretBuffer pin;
    const uint64_t gen = current_generation();
    bool have_pin = obtain_pin(ctx, uri, *this, flags, P11TLS_PIN_CONTEXT_SPECIFIC, false, pin);
    check_not_forked(gen);
    // The PIN function may have called p11tls, and an epoch may have ended
    // meanwhile: h is then not to be used (the call starts over).
    if (ms_->ended()) {
        mark_state_lost();
        fail(P11TLS_E_MODULE, "module " + m->name + " was initialized again while the PIN was asked; "
                              "the call starts over");
    }
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

void TokenState::so_login(const CtxState &ctx, CK_SESSION_HANDLE h) {
    const Module *m = module();
    CK_TOKEN_INFO ti;
    CK_RV rv = P11CALL(m, C_GetTokenInfo, slot_, &ti);
    if (rv != CKR_OK) fail_ckr(m, "C_GetTokenInfo", rv);
    if (ti.flags & CKF_SO_PIN_LOCKED) fail(P11TLS_E_PIN_LOCKED, "token " + label_ + ": the SO PIN is locked");
    {
        std::lock_guard<std::mutex> g(login_mu_);
        if (logged_in_ || (keeper_ != CK_INVALID_HANDLE && session_logged_in(m, keeper_)))
            fail(P11TLS_E_NOT_PERMITTED, "token " + label_ +
                                             " is logged in as its user in this process; the SO login "
                                             "this needs cannot be made beside it");
        // PKCS#11 refuses the SO login while the application has read-only
        // sessions (CKR_SESSION_READ_ONLY_EXISTS): the keeper, which keeps
        // no login now, and the pool's idle ones are closed (opened again
        // when needed); one another thread is using still refuses it.
        if (keeper_ != CK_INVALID_HANDLE) {
            P11CALL(m, C_CloseSession, keeper_);
            keeper_ = CK_INVALID_HANDLE;
        }
    }
    close_idle_sessions();
    // The SO PIN's reasons, in the user PIN's flags obtain_pin reads.
    CK_FLAGS flags = ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH;
    if (ti.flags & CKF_SO_PIN_FINAL_TRY) flags |= CKF_USER_PIN_FINAL_TRY;
    if (ti.flags & CKF_SO_PIN_COUNT_LOW) flags |= CKF_USER_PIN_COUNT_LOW;
    SecretBuffer pin;
    const uint64_t gen = current_generation();
    bool have_pin = obtain_pin(ctx, nullptr, *this, flags, P11TLS_PIN_SO, false, pin);
    check_not_forked(gen);
    rv = P11CALL(m, C_Login, h, (CK_USER_TYPE)CKU_SO, have_pin ? (CK_UTF8CHAR *)pin.data() : nullptr,
                 have_pin ? (CK_ULONG)pin.length() : 0UL);
    if (rv != CKR_OK) fail_ckr(m, "C_Login(SO)", rv);
    log_info("token %s: logged in as security officer", label_.c_str());
}

void TokenState::so_logout(CK_SESSION_HANDLE h) {
    CK_RV rv = P11CALL(module(), C_Logout, h);
    if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN)
        debug("token %s: C_Logout(SO): %s", label_.c_str(), ckr_name(rv));
}

}  // namespace p11tls
