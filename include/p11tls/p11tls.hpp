// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Header-only C++17 wrappers over the p11tls C API: RAII ownership of
// contexts and keys, errors as exceptions. Nothing here is compiled into
// libp11tls, so the library's ABI stays the C one.
#ifndef P11TLS_P11TLS_HPP
#define P11TLS_P11TLS_HPP

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <p11tls/p11tls.h>

namespace p11tls_cxx {

// A failed p11tls call: code() is the P11TLS_E_* value, what() the
// strerror text followed by the thread's last-error detail.
class error : public std::runtime_error {
public:
    explicit error(int code)
        : std::runtime_error(std::string(p11tls_strerror(code)) + ": " +
                             p11tls_last_error_detail()),
          code_(code) {}
    int code() const noexcept { return code_; }

private:
    int code_;
};

inline void check(int rc) {
    if (rc < 0) throw error(rc);
}

namespace detail {

// What context and key share: owning one pointer, freed with Free
// (p11tls_ctx_free, p11tls_key_free: both accept NULL). Movable, not
// copyable.
template <typename T, void (*Free)(T *)>
class owner {
public:
    owner(const owner &) = delete;
    owner &operator=(const owner &) = delete;

    // The object (NULL if none); still owned by *this.
    T *get() const noexcept { return p_; }
    // Frees the object held and returns where a C call that makes one
    // (p11tls_ctx_new, p11tls_key_open) stores the new one: for a caller
    // that checks that call's return code rather than catching an error.
    T **put() noexcept {
        reset(nullptr);
        return &p_;
    }
    // Gives up ownership: the caller frees the result.
    T *release() noexcept {
        T *p = p_;
        p_ = nullptr;
        return p;
    }
    // Frees the object held and takes ownership of p (or holds none: NULL).
    void reset(T *p) noexcept {
        Free(p_);
        p_ = p;
    }

protected:
    explicit owner(T *p = nullptr) noexcept : p_(p) {}
    owner(owner &&o) noexcept : p_(o.release()) {}
    owner &operator=(owner &&o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    ~owner() { Free(p_); }

    T *p_;
};

}  // namespace detail

// Owns a p11tls_ctx. A default-constructed context{} is a new context; use
// context::process_default() for the shared process default (NULL).
//
// To check a return code instead of catching an exception, make the
// context with the C call and let the wrapper own it, either adopted or
// filled in place:
//
//   p11tls_cxx::context ctx{nullptr};          // the process default, for now
//   int rc = p11tls_ctx_new(ctx.put());        // ctx owns the new context
//
// Movable, not copyable; get(), put(), release() and reset() as in
// detail::owner, where holding NULL means the process default.
// Thread-safety as for the p11tls_ctx it holds.
class context : public detail::owner<p11tls_ctx, p11tls_ctx_free> {
public:
    // A new context (p11tls_ctx_new); throws error.
    context() { check(p11tls_ctx_new(&p_)); }
    static context process_default() noexcept { return context(nullptr); }
    // Takes ownership of c, a context from p11tls_ctx_new, without calling
    // p11tls. NULL stands for the process default, as in the C API.
    explicit context(p11tls_ctx *c) noexcept : owner(c) {}

    void set_pin_fn(p11tls_pin_fn fn, void *arg) { check(p11tls_ctx_set_pin_fn(p_, fn, arg)); }
    void set_log_fn(p11tls_log_fn fn, void *arg, int max_level) {
        check(p11tls_ctx_set_log_fn(p_, fn, arg, max_level));
    }
    void set_fork_policy(int policy) { check(p11tls_ctx_set_fork_policy(p_, policy)); }
    void add_module(const std::string &path) { check(p11tls_ctx_add_module(p_, path.c_str())); }
    void add_module(const std::string &path, const std::string &init_reserved) {
        check(p11tls_ctx_add_module_with_args(p_, path.c_str(), init_reserved.c_str()));
    }
    void set_flags(unsigned flags) { check(p11tls_ctx_set_flags(p_, flags)); }
    // Throws error(P11TLS_E_TIMEOUT) if no token matching uri appeared.
    void wait_for_token(const std::string &uri, unsigned timeout_ms) {
        check(p11tls_ctx_wait_for_token(p_, uri.c_str(), timeout_ms));
    }

    std::vector<uint8_t> cert_der(const std::string &uri) const {
        uint8_t *der = nullptr;
        size_t len = 0;
        check(p11tls_cert_get_der(p_, uri.c_str(), &der, &len));
        std::vector<uint8_t> out(der, der + len);
        p11tls_free(der);
        return out;
    }
};

// Owns a p11tls_key. Safe to use from several threads at once.
//
// As with context, a key opened by the C call, to check its return code:
//
//   p11tls_cxx::key key;                                    // no key yet
//   int rc = p11tls_key_open(ctx.get(), uri, 0, key.put());  // key owns it
//
// Movable, not copyable; get(), put(), release() and reset() as in
// detail::owner. A key that holds none (default-constructed, moved from,
// released) is only for put(), reset() or assigning to.
class key : public detail::owner<p11tls_key, p11tls_key_free> {
public:
    // No key: get() is NULL until put() is filled or a key is moved in.
    key() noexcept = default;
    // Opens the key uri names (p11tls_key_open, no flags); throws error.
    key(const context &ctx, const std::string &uri) { check(p11tls_key_open(ctx.get(), uri.c_str(), 0, &p_)); }
    // Takes ownership of k, a key from p11tls_key_open (or NULL).
    explicit key(p11tls_key *k) noexcept : owner(k) {}

    int algorithm() const { return p11tls_key_get_algorithm(p_); }
    int bits() const { return p11tls_key_get_bits(p_); }
    std::string uri() const { return p11tls_key_get_uri(p_); }
    bool supports(uint16_t scheme) const { return p11tls_key_supports(p_, scheme) == 1; }

    std::vector<uint8_t> spki() const {
        uint8_t *der = nullptr;
        size_t len = 0;
        check(p11tls_key_get_spki(p_, &der, &len));
        std::vector<uint8_t> out(der, der + len);
        p11tls_free(der);
        return out;
    }

    std::vector<uint8_t> sign(uint16_t scheme, const std::vector<uint8_t> &msg) const {
        return run(&p11tls_key_sign, scheme, msg);
    }
    std::vector<uint8_t> sign_hash(uint16_t scheme, const std::vector<uint8_t> &hash) const {
        return run(&p11tls_key_sign_hash, scheme, hash);
    }
    std::vector<uint8_t> decrypt(int padding, const std::vector<uint8_t> &ct) const {
        size_t len = 0;
        check(p11tls_key_decrypt(p_, padding, ct.data(), ct.size(), nullptr, &len));
        std::vector<uint8_t> out(len);
        check(p11tls_key_decrypt(p_, padding, ct.data(), ct.size(), out.data(), &len));
        out.resize(len);
        return out;
    }

    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    using sign_fn = int (*)(p11tls_key *, uint16_t, const uint8_t *, size_t, uint8_t *, size_t *);
    std::vector<uint8_t> run(sign_fn fn, uint16_t scheme, const std::vector<uint8_t> &in) const {
        size_t len = 0;
        check(fn(p_, scheme, in.data(), in.size(), nullptr, &len));
        std::vector<uint8_t> out(len);
        check(fn(p_, scheme, in.data(), in.size(), out.data(), &len));
        out.resize(len);
        return out;
    }
};

}  // namespace p11tls_cxx

#endif  // P11TLS_P11TLS_HPP
