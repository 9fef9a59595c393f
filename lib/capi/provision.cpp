// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Exported provisioning functions (include/p11tls/provision.h). None that
// writes is started again in a child its PIN function forked: each changes
// a token.
#include <p11tls/provision.h>

#include <cstring>

#include "capi/guard.hpp"
#include "capi/out.hpp"
#include "cert/chain.hpp"
#include "key/key.hpp"
#include "provision/provision.hpp"

using namespace p11tls;

namespace {
std::vector<unsigned char> id_of(const uint8_t *id, size_t id_len) {
    if (!id && id_len) fail(P11TLS_E_INVALID_ARGUMENT, "id is NULL with a length");
    if (id && !id_len) fail(P11TLS_E_INVALID_ARGUMENT, "empty id");
    return id ? std::vector<unsigned char>(id, id + id_len) : std::vector<unsigned char>();
}
}  // namespace

extern "C" {

int p11tls_token_set_pin(p11tls_ctx *ctx, const char *token_uri, unsigned flags) {
    return guard(__func__, state_of(ctx)->log(), [&] {
        if (!token_uri) fail(P11TLS_E_INVALID_ARGUMENT, "token_uri is NULL");
        if (flags) fail(P11TLS_E_INVALID_ARGUMENT, "unknown flags");
        set_user_pin(*state_of(ctx), token_uri);
        return 0;
    });
}

int p11tls_key_generate(p11tls_ctx *ctx, const char *token_uri, const char *type, const char *label,
                        const uint8_t *id, size_t id_len, unsigned flags, p11tls_key **out_key) {
    return guard(__func__, state_of(ctx)->log(), [&] {
        if (!token_uri || !type || !label || !out_key) fail(P11TLS_E_INVALID_ARGUMENT, "NULL argument");
        if (!*label) fail(P11TLS_E_INVALID_ARGUMENT, "empty label");
        if (flags & ~P11TLS_KEYGEN_EXTRACTABLE) fail(P11TLS_E_INVALID_ARGUMENT, "unknown flags");
        *out_key = generate_key(state_of(ctx), token_uri, type, label, id_of(id, id_len),
                                flags & P11TLS_KEYGEN_EXTRACTABLE)
                       .release();
        return 0;
    });
}

int p11tls_cert_write(p11tls_ctx *ctx, const char *token_uri, const uint8_t *der, size_t der_len,
                      const char *label, const uint8_t *id, size_t id_len, unsigned flags, char **out_uri) {
    return guard(__func__, state_of(ctx)->log(), [&] {
        if (out_uri) *out_uri = nullptr;
        if (!token_uri || !der || !der_len) fail(P11TLS_E_INVALID_ARGUMENT, "NULL or empty argument");
        if (label && !*label) fail(P11TLS_E_INVALID_ARGUMENT, "empty label");
        const unsigned trust = P11TLS_CERT_WRITE_TRUSTED | P11TLS_CERT_WRITE_CA | P11TLS_CERT_WRITE_DISTRUSTED;
        if (flags & ~(P11TLS_CERT_WRITE_SKIP_EXISTING | trust))
            fail(P11TLS_E_INVALID_ARGUMENT, "unknown flags");
        if ((flags & P11TLS_CERT_WRITE_TRUSTED) && (flags & P11TLS_CERT_WRITE_DISTRUSTED))
            fail(P11TLS_E_INVALID_ARGUMENT, "a certificate is written trusted or distrusted, not both");
        std::string uri = write_cert(*state_of(ctx), token_uri, std::vector<unsigned char>(der, der + der_len),
                                     label, id_of(id, id_len), flags & P11TLS_CERT_WRITE_SKIP_EXISTING,
                                     flags & trust);
        if (out_uri && !uri.empty()) {
            uint8_t *copy = nullptr;
            size_t len = 0;
            alloc_out(uri.c_str(), uri.size() + 1, &copy, &len);
            *out_uri = reinterpret_cast<char *>(copy);
        }
        return 0;
    });
}

int p11tls_cert_get_chain(p11tls_ctx *ctx, const char *uri, unsigned flags, p11tls_der_cb cb, void *arg) {
    return guard<true>(__func__, state_of(ctx)->log(), [&] {
        if (!uri || !cb) fail(P11TLS_E_INVALID_ARGUMENT, "NULL argument");
        if (flags & ~(P11TLS_CERT_NEWEST | P11TLS_CERT_LOGIN)) fail(P11TLS_E_INVALID_ARGUMENT, "unknown flags");
        for (const auto &der : cert_chain(*state_of(ctx), uri, flags))
            if (int rc = cb(arg, der.data(), der.size())) return rc;
        return 0;
    });
}

int p11tls_object_delete(p11tls_ctx *ctx, const char *uri, unsigned flags) {
    return guard(__func__, state_of(ctx)->log(), [&] {
        if (!uri) fail(P11TLS_E_INVALID_ARGUMENT, "uri is NULL");
        if (flags & ~P11TLS_DELETE_MULTIPLE) fail(P11TLS_E_INVALID_ARGUMENT, "unknown flags");
        size_t n = delete_objects(*state_of(ctx), uri, flags & P11TLS_DELETE_MULTIPLE);
        return n > 0x7fffffff ? 0x7fffffff : (int)n;
    });
}

int p11tls_token_list_mechanisms(p11tls_ctx *ctx, const char *token_uri, p11tls_mechanism_cb cb, void *arg) {
    return guard(__func__, state_of(ctx)->log(), [&] {
        if (!token_uri || !cb) fail(P11TLS_E_INVALID_ARGUMENT, "NULL argument");
        return list_mechanisms(*state_of(ctx), token_uri, cb, arg);
    });
}

}  // extern "C"
