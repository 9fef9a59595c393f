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
// Movable, not copyable. Thread-safety as for the p11tls_ctx it holds.
class context {
public:
    // A new context (p11tls_ctx_new); throws error.
    context() { check(p11tls_ctx_new(&ctx_)); }
    static context process_default() noexcept { return context(nullptr); }
    // Takes ownership of c, a context from p11tls_ctx_new, without calling
    // p11tls. NULL stands for the process default, as in the C API.
    explicit context(p11tls_ctx *c) noexcept : ctx_(c) {}

    context(context &&o) noexcept : ctx_(o.release()) {}
    context &operator=(context &&o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    context(const context &) = delete;
    context &operator=(const context &) = delete;
    ~context() { p11tls_ctx_free(ctx_); }

    void set_pin_fn(p11tls_pin_fn fn, void *arg) { check(p11tls_ctx_set_pin_fn(ctx_, fn, arg)); }
    void set_log_fn(p11tls_log_fn fn, void *arg, int max_level) {
        check(p11tls_ctx_set_log_fn(ctx_, fn, arg, max_level));
    }
    void set_fork_policy(int policy) { check(p11tls_ctx_set_fork_policy(ctx_, policy)); }
    void add_module(const std::string &path) { check(p11tls_ctx_add_module(ctx_, path.c_str())); }
    void add_module(const std::string &path, const std::string &init_reserved) {
        check(p11tls_ctx_add_module_with_args(ctx_, path.c_str(), init_reserved.c_str()));
    }
    void set_flags(unsigned flags) { check(p11tls_ctx_set_flags(ctx_, flags)); }

    std::vector<uint8_t> cert_der(const std::string &uri) const {
        uint8_t *der = nullptr;
        size_t len = 0;
        check(p11tls_cert_get_der(ctx_, uri.c_str(), &der, &len));
        std::vector<uint8_t> out(der, der + len);
        p11tls_free(der);
        return out;
    }

    // The context, NULL for the process default; still owned by *this.
    p11tls_ctx *get() const noexcept { return ctx_; }
    // Frees the context held (*this becomes the process default) and
    // returns where a C call that makes one (p11tls_ctx_new) stores it.
    p11tls_ctx **put() noexcept {
        reset(nullptr);
        return &ctx_;
    }
    // Gives up ownership: the caller frees the result (p11tls_ctx_free);
    // *this becomes the process default.
    p11tls_ctx *release() noexcept {
        p11tls_ctx *c = ctx_;
        ctx_ = nullptr;
        return c;
    }
    // Frees the context held and takes ownership of c (NULL: the default).
    void reset(p11tls_ctx *c) noexcept {
        p11tls_ctx_free(ctx_);
        ctx_ = c;
    }

private:
    p11tls_ctx *ctx_ = nullptr;
};

// Owns a p11tls_key. Safe to use from several threads at once.
//
// As with context, a key opened by the C call, to check its return code:
//
//   p11tls_cxx::key key;                                    // no key yet
//   int rc = p11tls_key_open(ctx.get(), uri, 0, key.put());  // key owns it
//
// Movable, not copyable. A key that holds none (default-constructed,
// moved from, released) is only for put(), reset() or assigning to.
class key {
public:
    // No key: get() is NULL until put() is filled or a key is moved in.
    key() noexcept = default;
    // Opens the key uri names (p11tls_key_open, no flags); throws error.
    key(const context &ctx, const std::string &uri) { check(p11tls_key_open(ctx.get(), uri.c_str(), 0, &key_)); }
    // Takes ownership of k, a key from p11tls_key_open (or NULL).
    explicit key(p11tls_key *k) noexcept : key_(k) {}

    key(key &&o) noexcept : key_(o.release()) {}
    key &operator=(key &&o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    key(const key &) = delete;
    key &operator=(const key &) = delete;
    ~key() { p11tls_key_free(key_); }

    int algorithm() const { return p11tls_key_get_algorithm(key_); }
    int bits() const { return p11tls_key_get_bits(key_); }
    std::string uri() const { return p11tls_key_get_uri(key_); }
    bool supports(uint16_t scheme) const { return p11tls_key_supports(key_, scheme) == 1; }

    std::vector<uint8_t> spki() const {
        uint8_t *der = nullptr;
        size_t len = 0;
        check(p11tls_key_get_spki(key_, &der, &len));
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
        check(p11tls_key_decrypt(key_, padding, ct.data(), ct.size(), nullptr, &len));
        std::vector<uint8_t> out(len);
        check(p11tls_key_decrypt(key_, padding, ct.data(), ct.size(), out.data(), &len));
        out.resize(len);
        return out;
    }

    // The key (NULL if none); still owned by *this.
    p11tls_key *get() const noexcept { return key_; }
    explicit operator bool() const noexcept { return key_ != nullptr; }
    // Frees the key held and returns where a C call that opens one
    // (p11tls_key_open) stores it.
    p11tls_key **put() noexcept {
        reset(nullptr);
        return &key_;
    }
    // Gives up ownership: the caller frees the result (p11tls_key_free).
    p11tls_key *release() noexcept {
        p11tls_key *k = key_;
        key_ = nullptr;
        return k;
    }
    // Frees the key held and takes ownership of k (or holds none: NULL).
    void reset(p11tls_key *k) noexcept {
        p11tls_key_free(key_);
        key_ = k;
    }

private:
    using sign_fn = int (*)(p11tls_key *, uint16_t, const uint8_t *, size_t, uint8_t *, size_t *);
    std::vector<uint8_t> run(sign_fn fn, uint16_t scheme, const std::vector<uint8_t> &in) const {
        size_t len = 0;
        check(fn(key_, scheme, in.data(), in.size(), nullptr, &len));
        std::vector<uint8_t> out(len);
        check(fn(key_, scheme, in.data(), in.size(), out.data(), &len));
        out.resize(len);
        return out;
    }
    p11tls_key *key_ = nullptr;
};

}  // namespace p11tls_cxx

#endif  // P11TLS_P11TLS_HPP
