// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Header-only C++17 wrappers over the provisioning API of
// <p11tls/provision.h>, in the style of <p11tls/p11tls.hpp> (a separate
// header, as in C: a program that only opens keys does not see these).
// Each is the C function of the same name without the prefix: ownership
// and failures as documented there, errors thrown as p11tls_cxx::error,
// thread-safe as the C function. An empty id or label stands for NULL (the
// C function's default); ctx may hold NULL (the process default).
#ifndef P11TLS_PROVISION_HPP
#define P11TLS_PROVISION_HPP

#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include <p11tls/p11tls.hpp>
#include <p11tls/provision.h>

namespace p11tls_cxx {

// p11tls_token_set_pin: the old and the new PIN through ctx's PIN function
// (or the old one from token_uri's pin-value); a wrong PIN is not retried.
inline void token_set_pin(const context &ctx, const std::string &token_uri) {
    check(p11tls_token_set_pin(ctx.get(), token_uri.c_str(), 0));
}

// p11tls_key_generate: type "rsa:2048", "ec:p256", "ed25519", ...; returns
// the new private key, opened. flags: P11TLS_KEYGEN_EXTRACTABLE or 0.
inline key key_generate(const context &ctx, const std::string &token_uri, const std::string &type,
                        const std::string &label, const std::vector<uint8_t> &id = {},
                        unsigned flags = 0) {
    p11tls_key *k = nullptr;
    check(p11tls_key_generate(ctx.get(), token_uri.c_str(), type.c_str(), label.c_str(),
                              id.empty() ? nullptr : id.data(), id.size(), flags, &k));
    return key(k);
}

// p11tls_cert_write: returns the certificate's URI, or "" when
// P11TLS_CERT_WRITE_SKIP_EXISTING found it there already. An empty label is
// the subject's common name; an empty id, the ID of its private key.
inline std::string cert_write(const context &ctx, const std::string &token_uri,
                              const std::vector<uint8_t> &der, const std::string &label = {},
                              const std::vector<uint8_t> &id = {}, unsigned flags = 0) {
    char *uri = nullptr;
    check(p11tls_cert_write(ctx.get(), token_uri.c_str(), der.data(), der.size(),
                            label.empty() ? nullptr : label.c_str(),
                            id.empty() ? nullptr : id.data(), id.size(), flags, &uri));
    std::string out = uri ? uri : "";
    p11tls_free(uri);
    return out;
}

// p11tls_cert_get_chain: the certificate uri names, then its issuers found
// on its token, leaf first (DER each).
inline std::vector<std::vector<uint8_t>> cert_get_chain(const context &ctx, const std::string &uri) {
    std::vector<std::vector<uint8_t>> chain;
    auto add = [](void *arg, const uint8_t *der, size_t len) noexcept -> int {
        try {
            static_cast<std::vector<std::vector<uint8_t>> *>(arg)->emplace_back(der, der + len);
            return 0;
        } catch (const std::bad_alloc &) {
            return P11TLS_E_MEMORY;  // stops the walk; thrown below
        }
    };
    check(p11tls_cert_get_chain(ctx.get(), uri.c_str(), 0, add, &chain));
    return chain;
}

// p11tls_object_delete: the number of objects deleted. flags:
// P11TLS_DELETE_MULTIPLE to delete every object uri matches.
inline int object_delete(const context &ctx, const std::string &uri, unsigned flags = 0) {
    int n = p11tls_object_delete(ctx.get(), uri.c_str(), flags);
    check(n);
    return n;
}

// One mechanism of p11tls_token_list_mechanisms, owning its name.
struct mechanism {
    unsigned long type;  // CKM_*
    std::string name;    // "CKM_ECDSA_SHA256"
    unsigned long min_key_size, max_key_size, flags;
};

// p11tls_token_list_mechanisms: the token's mechanisms, in its order.
inline std::vector<mechanism> token_list_mechanisms(const context &ctx,
                                                    const std::string &token_uri) {
    std::vector<mechanism> out;
    auto add = [](void *arg, const p11tls_mechanism_info *m) noexcept -> int {
        try {
            static_cast<std::vector<mechanism> *>(arg)->push_back(
                {m->type, m->name, m->min_key_size, m->max_key_size, m->flags});
            return 0;
        } catch (const std::bad_alloc &) {
            return P11TLS_E_MEMORY;
        }
    };
    check(p11tls_token_list_mechanisms(ctx.get(), token_uri.c_str(), add, &out));
    return out;
}

}  // namespace p11tls_cxx

#endif  // P11TLS_PROVISION_HPP
