// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Exported key functions.
#include <cstdlib>
#include <cstring>

#include <gnutls/gnutls.h>

#include "capi/guard.hpp"
#include "capi/out.hpp"
#include "key/key.hpp"
#include "key/scheme.hpp"

using namespace p11tls;

namespace {
// A key's messages go to the context it was opened through.
LogSink *key_log(const p11tls_key *key) { return key ? key->ctx->log() : current_log_sink(); }

const Scheme &scheme_of(uint16_t code) {
    const Scheme *s = find_scheme(code);
    if (!s) fail(P11TLS_E_UNSUPPORTED, "unknown signature scheme");
    return *s;
}

int sign_common(p11tls_key *key, uint16_t scheme, const uint8_t *in, size_t in_len, uint8_t *sig,
                size_t *sig_len, bool prehashed) {
    if (!key || !sig_len || (!in && in_len)) fail(P11TLS_E_INVALID_ARGUMENT, "NULL argument");
    const Scheme &s = scheme_of(scheme);
    if (!sig) {
        *sig_len = key_signature_size(key, s);
        return 0;
    }
    auto out = key_sign(key, s, in, in_len, prehashed);
    return copy_out(out.data(), out.size(), sig, sig_len);
}
}  // namespace

extern "C" {

int p11tls_key_open(p11tls_ctx *ctx, const char *uri, unsigned flags, p11tls_key **out_key) {
    return guard<true>(__func__, state_of(ctx)->log(), [&] {
        if (!uri || !out_key) fail(P11TLS_E_INVALID_ARGUMENT, "NULL argument");
        if (flags & ~P11TLS_KEY_OPEN_VERIFY_PIN) fail(P11TLS_E_INVALID_ARGUMENT, "unknown flags");
        *out_key = open_key(state_of(ctx), uri, flags).release();
        return 0;
    });
}

void p11tls_key_free(p11tls_key *key) { delete key; }

int p11tls_key_get_algorithm(const p11tls_key *key) {
    return key ? key->pub.alg : P11TLS_E_INVALID_ARGUMENT;
}

int p11tls_key_get_bits(const p11tls_key *key) {
    return key ? key->pub.bits : P11TLS_E_INVALID_ARGUMENT;
}

int p11tls_key_get_spki(const p11tls_key *key, uint8_t **out_der, size_t *out_len) {
    return guard(__func__, key_log(key), [&] {
        if (!key) fail(P11TLS_E_INVALID_ARGUMENT, "key is NULL");
        if (key->pub.spki.empty())
            fail(P11TLS_E_UNSUPPORTED, "key " + key->object_uri +
                                           ": its public key is not on its token and could not be learnt");
        return alloc_out(key->pub.spki.data(), key->pub.spki.size(), out_der, out_len);
    });
}

const char *p11tls_key_get_uri(const p11tls_key *key) {
    return key ? key->object_uri.c_str() : nullptr;
}

int p11tls_key_supports(p11tls_key *key, uint16_t scheme) {
    int r = guard<true>(__func__, key_log(key), [&] {
        if (!key) fail(P11TLS_E_INVALID_ARGUMENT, "key is NULL");
        const Scheme *s = find_scheme(scheme);
        return s && key_supports(key, *s) ? 1 : 0;
    });
    return r == 1 ? 1 : 0;
}

int p11tls_key_sign(p11tls_key *key, uint16_t scheme, const uint8_t *msg, size_t msg_len,
                    uint8_t *sig, size_t *sig_len) {
    return guard<true>(__func__, key_log(key), [&] { return sign_common(key, scheme, msg, msg_len, sig, sig_len, false); });
}

int p11tls_key_sign_hash(p11tls_key *key, uint16_t scheme, const uint8_t *hash, size_t hash_len,
                         uint8_t *sig, size_t *sig_len) {
    return guard<true>(__func__, key_log(key), [&] { return sign_common(key, scheme, hash, hash_len, sig, sig_len, true); });
}

int p11tls_key_decrypt(p11tls_key *key, int padding, const uint8_t *ct, size_t ct_len,
                       uint8_t *pt, size_t *pt_len) {
    return guard<true>(__func__, key_log(key), [&] {
        if (!key || !ct || !pt_len) fail(P11TLS_E_INVALID_ARGUMENT, "NULL argument");
        if (!pt) {
            *pt_len = key_plaintext_size(key, padding);
            return 0;
        }
        auto out = key_decrypt(key, padding, ct, ct_len);
        struct Wipe {  // plaintext may be a TLS premaster secret
            std::vector<unsigned char> &v;
            ~Wipe() { gnutls_memset(v.data(), 0, v.size()); }
        } wipe{out};
        return copy_out(out.data(), out.size(), pt, pt_len);
    });
}

}  // extern "C"
