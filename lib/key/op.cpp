// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Signing and decrypting: the mechanism for a scheme, and the operation on
// a pooled session with its one retry (dead session, lost login).
#include <cstring>

#include <gnutls/crypto.h>
#include <nettle/nettle-meta.h>
#include <p11tls/p11tls.h>

#include "base/error.hpp"
#include "key/bind.hpp"
#include "key/digest_info.hpp"
#include "key/ecdsa.hpp"
#include "key/key.hpp"
#include "key/scheme.hpp"
#include "world/pooled_session.hpp"

namespace p11tls {

namespace {

bool is_session_error(CK_RV rv) {
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED;
}

// The token forgot our login (someone in the process logged out: another
// library, or P11TLS_KEY_OPEN_VERIFY_PIN; or the device dropped it), and
// with it the handles of private objects (SoftHSM invalidates them).
bool is_login_lost(CK_RV rv) {
    return rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_OBJECT_HANDLE_INVALID ||
           rv == CKR_KEY_HANDLE_INVALID;
}

bool is_token_gone(CK_RV rv) {
    return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT;
}

// Where an operation failed: its init call, or the operation itself.
enum class Stage { kSignInit, kDecryptInit, kSign, kDecrypt };

const char *stage_name(Stage s) {
    switch (s) {
    case Stage::kSignInit: return "C_SignInit";
    case Stage::kDecryptInit: return "C_DecryptInit";
    case Stage::kSign: return "C_Sign";
    case Stage::kDecrypt: return "C_Decrypt";
    }
    return "?";
}

bool is_init(Stage s) { return s == Stage::kSignInit || s == Stage::kDecryptInit; }

// One sign or decrypt operation on a pooled session. A session that the
// module says is invalid is dropped and the operation retried once.
std::vector<unsigned char> run_op(p11tls_key *key, CK_MECHANISM *mech, const unsigned char *in,
                                  size_t in_len, size_t out_guess, bool decrypt) {
    BindingUse use(key);
    Binding *b = bind(key);
    const Module *m = b->token->module();
    // One retry, for whichever comes first: a dead session, or a lost login.
    for (int attempt = 0;; ++attempt) {
        PooledSession s(b->token);
        Stage stage = decrypt ? Stage::kDecryptInit : Stage::kSignInit;
        CK_RV rv = decrypt ? P11CALL(m, C_DecryptInit, s.get(), mech, b->handle)
                           : P11CALL(m, C_SignInit, s.get(), mech, b->handle);
        if (rv == CKR_OK && b->always_auth) {
            try {
                b->token->context_login(*key->ctx, &key->uri, s.get());
            } catch (...) {
                s.mark_broken();  // an operation is pending on it
                throw;
            }
        }
        std::vector<unsigned char> out(out_guess);
        CK_ULONG n = out.size();
        if (rv == CKR_OK) {
            stage = decrypt ? Stage::kDecrypt : Stage::kSign;
            rv = decrypt ? P11CALL(m, C_Decrypt, s.get(), (CK_BYTE *)in, (CK_ULONG)in_len, out.data(), &n)
                         : P11CALL(m, C_Sign, s.get(), (CK_BYTE *)in, (CK_ULONG)in_len, out.data(), &n);
            if (rv == CKR_BUFFER_TOO_SMALL) {  // the operation is still active
                out.resize(n);
                rv = decrypt ? P11CALL(m, C_Decrypt, s.get(), (CK_BYTE *)in, (CK_ULONG)in_len, out.data(), &n)
                             : P11CALL(m, C_Sign, s.get(), (CK_BYTE *)in, (CK_ULONG)in_len, out.data(), &n);
            }
        }
        if (rv == CKR_OK) {
            out.resize(n);
            return out;
        }
        s.mark_broken();
        if (is_session_error(rv) && attempt == 0) {
            // Every session gone (a card pulled out and put back, the module
            // reset): the key is found again on its token, if it is there.
            if (b->token->sessions_gone()) {
                b = bind(key);
                m = b->token->module();
            }
            continue;
        }
        if (is_login_lost(rv) && attempt == 0) {
            b = refresh_binding(key, b);
            m = b->token->module();
            continue;
        }
        // Not retried: the token is gone now. The next operation finds it
        // again if it is back.
        if (is_token_gone(rv)) b->token->mark_lost();
        // A device failure may be a token gone without the module saying so
        // (OpenSC once pcscd stopped: CKR_GENERAL_ERROR on a card it still
        // lists): said as such, and found again by the next operation.
        if (ckr_to_error(rv) == P11TLS_E_DEVICE && !b->token->still_present())
            fail(P11TLS_E_TOKEN_NOT_PRESENT, "module " + m->name + ": " + stage_name(stage) + ": " +
                                                 ckr_name(rv) + "; token " + b->token->label() +
                                                 " is no longer listed");
        // A mechanism or parameters the token refuses are not the caller's
        // bad arguments.
        if (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID)
            if (is_init(stage))
                fail(P11TLS_E_UNSUPPORTED, "module " + m->name + ": " + stage_name(stage) + ": " + ckr_name(rv) +
                                               " (the token does not support this mechanism or its parameters)");
        fail_ckr(m, stage_name(stage), rv);
    }
}

std::vector<unsigned char> software_hash(const Scheme &s, const unsigned char *msg, size_t len) {
    std::vector<unsigned char> ctx(s.hash->context_size);
    std::vector<unsigned char> out(s.hash->digest_size);
    s.hash->init(ctx.data());
    s.hash->update(ctx.data(), len, msg);
    s.hash->digest(ctx.data(), out.size(), out.data());
    return out;
}

size_t max_signature_size(const p11tls_key *key) {
    size_t bytes = (key->pub.bits + 7) / 8;
    switch (key->pub.alg) {
    case P11TLS_ALG_RSA: return bytes;
    case P11TLS_ALG_ECDSA: return 2 * bytes + 16;  // DER SEQUENCE of two INTEGERs
    case P11TLS_ALG_ED25519: return 64;
    case P11TLS_ALG_ED448: return 114;
    }
    return 0;
}
}  // namespace

size_t key_signature_size(const p11tls_key *key, const Scheme &s) {
    if (s.alg != key->pub.alg)
        fail(P11TLS_E_UNSUPPORTED, std::string("scheme ") + s.name + " does not fit this key's algorithm");
    return max_signature_size(key);
}

size_t key_plaintext_size(const p11tls_key *key, int padding) {
    if (key->pub.alg != P11TLS_ALG_RSA) fail(P11TLS_E_UNSUPPORTED, "only RSA keys decrypt");
    if (padding != P11TLS_DECRYPT_RSA_PKCS1 && padding != P11TLS_DECRYPT_RSA_OAEP_SHA256)
        fail(P11TLS_E_INVALID_ARGUMENT, "unknown padding");
    return (key->pub.bits + 7) / 8;
}

bool key_supports(p11tls_key *key, const Scheme &s) {
    if (s.alg != key->pub.alg || !key->can_sign) return false;
    BindingUse use(key);
    Binding *b = bind(key);
    TokenState *t = b->token;
    switch (s.alg) {
    case P11TLS_ALG_RSA:
        if (s.pss) return t->has_mechanism(s.combined) || t->has_mechanism(CKM_RSA_PKCS_PSS);
        return t->has_mechanism(s.combined) || t->has_mechanism(CKM_RSA_PKCS);
    case P11TLS_ALG_ECDSA:
        return t->has_mechanism(s.combined) || t->has_mechanism(CKM_ECDSA);
    default:
        return t->has_mechanism(CKM_EDDSA);
    }
}

std::vector<unsigned char> key_sign(p11tls_key *key, const Scheme &s, const unsigned char *data,
                                    size_t len, bool prehashed) {
    if (!key->can_sign)
        fail(P11TLS_E_UNSUPPORTED, "key " + key->object_uri + " may not sign (CKA_SIGN is false)");
    const size_t max = key_signature_size(key, s);
    if (s.alg == P11TLS_ALG_ED25519 || s.alg == P11TLS_ALG_ED448) {
        if (prehashed) fail(P11TLS_E_UNSUPPORTED, "EdDSA signs messages, not hashes");
        CK_MECHANISM mech = {CKM_EDDSA, nullptr, 0};
        return run_op(key, &mech, data, len, max, false);
    }
    if (prehashed && len != s.hash->digest_size)
        fail(P11TLS_E_INVALID_ARGUMENT, "hash length does not match the scheme");
    TokenState *t;
    {
        BindingUse use(key);
        t = bind(key)->token;  // TokenStates live as long as their world
    }
    CK_RSA_PKCS_PSS_PARAMS pss = {s.hash_mech, s.mgf, (CK_ULONG)s.hash->digest_size};
    const bool combined = !prehashed && t->has_mechanism(s.combined);
    std::vector<unsigned char> hash;
    if (!combined && !prehashed) {
        hash = software_hash(s, data, len);
        data = hash.data();
        len = hash.size();
    }
    if (s.alg == P11TLS_ALG_RSA && s.pss) {
        CK_MECHANISM mech = {combined ? s.combined : (CK_MECHANISM_TYPE)CKM_RSA_PKCS_PSS, &pss, sizeof pss};
        return run_op(key, &mech, data, len, max, false);
    }
    if (s.alg == P11TLS_ALG_RSA) {
        if (combined) {
            CK_MECHANISM mech = {s.combined, nullptr, 0};
            return run_op(key, &mech, data, len, max, false);
        }
        const DigestInfoPrefix *p = digest_info_prefix(s.code);
        if (!p || p->hash_len != len) fail(P11TLS_E_INTERNAL, "no DigestInfo for this scheme");
        std::vector<unsigned char> di(p->prefix, p->prefix + sizeof p->prefix);
        di.insert(di.end(), data, data + len);
        CK_MECHANISM mech = {CKM_RSA_PKCS, nullptr, 0};
        return run_op(key, &mech, di.data(), di.size(), max, false);
    }
    CK_MECHANISM mech = {combined ? s.combined : (CK_MECHANISM_TYPE)CKM_ECDSA, nullptr, 0};
    return ecdsa_to_der(run_op(key, &mech, data, len, max, false));
}

std::vector<unsigned char> key_decrypt(p11tls_key *key, int padding, const unsigned char *ct,
                                       size_t len) {
    if (!key->can_decrypt)
        fail(P11TLS_E_UNSUPPORTED, "key " + key->object_uri + " may not decrypt (CKA_DECRYPT is false)");
    const size_t max = key_plaintext_size(key, padding);
    if (padding == P11TLS_DECRYPT_RSA_PKCS1) {
        CK_MECHANISM mech = {CKM_RSA_PKCS, nullptr, 0};
        return run_op(key, &mech, ct, len, max, true);
    }
    if (padding == P11TLS_DECRYPT_RSA_OAEP_SHA256) {
        CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
        CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
        return run_op(key, &mech, ct, len, max, true);
    }
    fail(P11TLS_E_INTERNAL, "padding checked by key_plaintext_size");
}
}  // namespace p11tls
