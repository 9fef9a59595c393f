// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Header-only C++17 wrappers over the p11tls C API: RAII ownership of
// contexts and keys, errors as exceptions. Nothing here is compiled into
// libp11tls, so the library's ABI stays the C one.
#ifndef P11TLS_P11TLS_HPP
#define P11TLS_P11TLS_HPP

#include <cstdint>
#include <memory>
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
class context {
public:
    context() {
        p11tls_ctx *c = nullptr;
        check(p11tls_ctx_new(&c));
        ctx_.reset(c);
    }
    static context process_default() { return context(nullptr); }

    void set_pin_fn(p11tls_pin_fn fn, void *arg) { check(p11tls_ctx_set_pin_fn(ctx_.get(), fn, arg)); }
    void set_log_fn(p11tls_log_fn fn, void *arg, int max_level) {
        check(p11tls_ctx_set_log_fn(ctx_.get(), fn, arg, max_level));
    }
    void set_fork_policy(int policy) { check(p11tls_ctx_set_fork_policy(ctx_.get(), policy)); }
    void add_module(const std::string &path) { check(p11tls_ctx_add_module(ctx_.get(), path.c_str())); }
    void add_module(const std::string &path, const std::string &init_reserved) {
        check(p11tls_ctx_add_module_with_args(ctx_.get(), path.c_str(), init_reserved.c_str()));
    }
    void set_flags(unsigned flags) { check(p11tls_ctx_set_flags(ctx_.get(), flags)); }
    // Throws error(P11TLS_E_TIMEOUT) if no token matching uri appeared.
    void wait_for_token(const std::string &uri, unsigned timeout_ms) {
        check(p11tls_ctx_wait_for_token(ctx_.get(), uri.c_str(), timeout_ms));
    }

    std::vector<uint8_t> cert_der(const std::string &uri) const {
        uint8_t *der = nullptr;
        size_t len = 0;
        check(p11tls_cert_get_der(ctx_.get(), uri.c_str(), &der, &len));
        std::vector<uint8_t> out(der, der + len);
        p11tls_free(der);
        return out;
    }

    p11tls_ctx *get() const noexcept { return ctx_.get(); }

private:
    explicit context(std::nullptr_t) {}
    struct deleter {
        void operator()(p11tls_ctx *c) const { p11tls_ctx_free(c); }
    };
    std::unique_ptr<p11tls_ctx, deleter> ctx_;
};

// Owns a p11tls_key. Safe to use from several threads at once.
class key {
public:
    key(const context &ctx, const std::string &uri) {
        p11tls_key *k = nullptr;
        check(p11tls_key_open(ctx.get(), uri.c_str(), 0, &k));
        key_.reset(k);
    }

    int algorithm() const { return p11tls_key_get_algorithm(key_.get()); }
    int bits() const { return p11tls_key_get_bits(key_.get()); }
    std::string uri() const { return p11tls_key_get_uri(key_.get()); }
    bool supports(uint16_t scheme) const { return p11tls_key_supports(key_.get(), scheme) == 1; }

    std::vector<uint8_t> spki() const {
        uint8_t *der = nullptr;
        size_t len = 0;
        check(p11tls_key_get_spki(key_.get(), &der, &len));
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
        check(p11tls_key_decrypt(key_.get(), padding, ct.data(), ct.size(), nullptr, &len));
        std::vector<uint8_t> out(len);
        check(p11tls_key_decrypt(key_.get(), padding, ct.data(), ct.size(), out.data(), &len));
        out.resize(len);
        return out;
    }

    p11tls_key *get() const noexcept { return key_.get(); }

private:
    using sign_fn = int (*)(p11tls_key *, uint16_t, const uint8_t *, size_t, uint8_t *, size_t *);
    std::vector<uint8_t> run(sign_fn fn, uint16_t scheme, const std::vector<uint8_t> &in) const {
        size_t len = 0;
        check(fn(key_.get(), scheme, in.data(), in.size(), nullptr, &len));
        std::vector<uint8_t> out(len);
        check(fn(key_.get(), scheme, in.data(), in.size(), out.data(), &len));
        out.resize(len);
        return out;
    }
    struct deleter {
        void operator()(p11tls_key *k) const { p11tls_key_free(k); }
    };
    std::unique_ptr<p11tls_key, deleter> key_;
};

}  // namespace p11tls_cxx

#endif  // P11TLS_P11TLS_HPP
