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
#include "key/ec_learn.hpp"
#include "key/ecdsa.hpp"
#include "key/identity.hpp"
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

// One init and operation on a pooled session of b's token: rv, and the
// output in *out (resized to what the token returned). The session is
// dropped (not pooled) on failure.
CK_RV try_op(p11tls_key *key, Binding *b, CK_MECHANISM *mech, const unsigned char *in, size_t in_len,
             bool decrypt, std::vector<unsigned char> *out, Stage *stage) {
    const Module *m = b->token->module();
    PooledSession s(b->token);
    *stage = decrypt ? Stage::kDecryptInit : Stage::kSignInit;
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
    CK_ULONG n = out->size();
    if (rv == CKR_OK) {
        *stage = decrypt ? Stage::kDecrypt : Stage::kSign;
        rv = decrypt ? P11CALL(m, C_Decrypt, s.get(), (CK_BYTE *)in, (CK_ULONG)in_len, out->data(), &n)
                     : P11CALL(m, C_Sign, s.get(), (CK_BYTE *)in, (CK_ULONG)in_len, out->data(), &n);
        if (rv == CKR_BUFFER_TOO_SMALL) {  // the operation is still active
            out->resize(n);
            rv = decrypt ? P11CALL(m, C_Decrypt, s.get(), (CK_BYTE *)in, (CK_ULONG)in_len, out->data(), &n)
                         : P11CALL(m, C_Sign, s.get(), (CK_BYTE *)in, (CK_ULONG)in_len, out->data(), &n);
        }
    }
    if (rv == CKR_OK) {
        out->resize(n);
    } else {
        s.mark_broken();
        // Said while the session is still out: the session's return would
        // otherwise take the module's closing every session for a state
        // lost under the call, and start the call over (pooled_session.hpp);
        // a pulled token's operation is not.
        if (is_token_gone(rv)) b->token->mark_lost();
    }
    return rv;
}

[[noreturn]] void fail_not_the_key(const p11tls_key *key, const std::string &how) {
    fail(P11TLS_E_KEY_MISMATCH, "key " + key->object_uri + ": the object on the token is not the key opened (" +
                                    how + "); nothing it made is returned");
}

// Proves an unproven RSA binding before it decrypts anything: a random
// secret encrypted to the key's public key in software must come back
// from the token (PKCS#1 v1.5). rv as try_op's; P11TLS_E_KEY_MISMATCH if
// another secret comes back. The caller's ciphertext is never decrypted
// by a key not proven: its plaintext could not be checked.
CK_RV prove_decrypt(p11tls_key *key, Binding *b, Stage *stage) {
    const DecryptChallenge c = decrypt_challenge(key->pub);
    CK_MECHANISM mech = {CKM_RSA_PKCS, nullptr, 0};
    std::vector<unsigned char> out((key->pub.bits + 7) / 8);
    CK_RV rv = try_op(key, b, &mech, c.cipher.data(), c.cipher.size(), true, &out, stage);
    if (rv == CKR_OK && out != c.plain) fail_not_the_key(key, "it does not decrypt a secret encrypted to the key's public key");
    // The secret is well formed for the right key: refused as data (or as
    // a general error, SoftHSM's answer to a bad padding), it was another.
    if (*stage == Stage::kDecrypt &&
        (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE || rv == CKR_GENERAL_ERROR))
        fail_not_the_key(key, std::string("it cannot decrypt a secret encrypted to the key's public key: ") +
                                  ckr_name(rv));
    if (rv == CKR_OK) b->proven.store(true);
    return rv;
}

// One sign or decrypt operation on a pooled session. A session that the
// module says is invalid is dropped and the operation retried once. A
// binding not yet proven to be the key opened (key/identity.hpp) proves
// itself first: a signature is returned only if it verifies under the
// key's public key (check, for signing), a decryption is made only after
// the key decrypted a challenge.
std::vector<unsigned char> run_op(p11tls_key *key, CK_MECHANISM *mech, const unsigned char *in,
                                  size_t in_len, size_t out_guess, bool decrypt,
                                  const SignatureCheck *check) {
    BindingUse use(key);
    Binding *b = bind(key);
    // One retry, for whichever comes first: a dead session, or a lost login.
    for (int attempt = 0;; ++attempt) {
        const Module *m = b->token->module();
        if (!b->proven.load() && key->pub.spki.empty())
            fail(P11TLS_E_UNSUPPORTED, "key " + key->object_uri +
                                           " has no public key on its token, so the object found again (after "
                                           "fork or a lost login) cannot be proven to be the key opened; store "
                                           "its public key or certificate beside it");
        Stage stage = decrypt ? Stage::kDecryptInit : Stage::kSignInit;
        std::vector<unsigned char> out(out_guess);
        CK_RV rv = decrypt && !b->proven.load() ? prove_decrypt(key, b, &stage) : CKR_OK;
        if (rv == CKR_OK) rv = try_op(key, b, mech, in, in_len, decrypt, &out, &stage);
        if (rv == CKR_OK) {
            if (!decrypt && !b->proven.load()) {
                if (!check || !signature_verifies(key->pub, *check, out))
                    fail_not_the_key(key, "its signature does not verify under the key's public key");
                b->proven.store(true);
            }
            return out;
        }
        if (is_session_error(rv) && attempt == 0) {
            // Every session gone (a card pulled out and put back, the module
            // reset): the key is found again on its token, if it is there.
            if (b->token->lost() || b->token->sessions_gone()) b = bind(key);
            continue;
        }
        if (is_login_lost(rv) && attempt == 0) {
            b = refresh_binding(key, b);
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

void learn_ec_public_key(p11tls_key *key, const std::vector<unsigned char> &params) {
    const size_t bytes = ec_curve_bytes(params);
    TokenState *t;
    {
        BindingUse use(key);
        t = bind(key)->token;
    }
    if (!bytes || !key->can_sign || !t->has_mechanism(CKM_ECDSA)) return;
    // The digest of the curve's scheme (SHA-256, -384, -512): zero, then random.
    const Scheme *s = find_scheme(bytes == 32   ? P11TLS_SIG_ECDSA_SECP256R1_SHA256
                                  : bytes == 48 ? P11TLS_SIG_ECDSA_SECP384R1_SHA384
                                                : P11TLS_SIG_ECDSA_SECP521R1_SHA512);
    std::vector<unsigned char> zero(s->hash->digest_size, 0), digest(s->hash->digest_size);
    if (gnutls_rnd(GNUTLS_RND_NONCE, digest.data(), digest.size()) < 0) return;
    CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
    const size_t max = max_signature_size(key);
    const auto candidates = zero_digest_signers(params, run_op(key, &mech, zero.data(), zero.size(), max, false, nullptr));
    const auto sig = run_op(key, &mech, digest.data(), digest.size(), max, false, nullptr);
    const SignatureCheck check = {s, digest.data(), digest.size(), true};
    for (const PublicKey &pk : candidates)
        if (signature_verifies(pk, check, sig)) {
            key->pub = pk;
            return;
        }
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
        const SignatureCheck check = {&s, data, len, false};
        return run_op(key, &mech, data, len, max, false, &check);
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
    // What the signature is over, for the check of an unproven binding.
    const SignatureCheck check = {&s, data, len, !combined};
    if (s.alg == P11TLS_ALG_RSA && s.pss) {
        CK_MECHANISM mech = {combined ? s.combined : (CK_MECHANISM_TYPE)CKM_RSA_PKCS_PSS, &pss, sizeof pss};
        return run_op(key, &mech, data, len, max, false, &check);
    }
    if (s.alg == P11TLS_ALG_RSA) {
        if (combined) {
            CK_MECHANISM mech = {s.combined, nullptr, 0};
            return run_op(key, &mech, data, len, max, false, &check);
        }
        const DigestInfoPrefix *p = digest_info_prefix(s.code);
        if (!p || p->hash_len != len) fail(P11TLS_E_INTERNAL, "no DigestInfo for this scheme");
        std::vector<unsigned char> di(p->prefix, p->prefix + sizeof p->prefix);
        di.insert(di.end(), data, data + len);
        CK_MECHANISM mech = {CKM_RSA_PKCS, nullptr, 0};
        return run_op(key, &mech, di.data(), di.size(), max, false, &check);
    }
    CK_MECHANISM mech = {combined ? s.combined : (CK_MECHANISM_TYPE)CKM_ECDSA, nullptr, 0};
    return ecdsa_to_der(run_op(key, &mech, data, len, max, false, &check));
}

std::vector<unsigned char> key_decrypt(p11tls_key *key, int padding, const unsigned char *ct,
                                       size_t len) {
    if (!key->can_decrypt)
        fail(P11TLS_E_UNSUPPORTED, "key " + key->object_uri + " may not decrypt (CKA_DECRYPT is false)");
    const size_t max = key_plaintext_size(key, padding);
    if (padding == P11TLS_DECRYPT_RSA_PKCS1) {
        CK_MECHANISM mech = {CKM_RSA_PKCS, nullptr, 0};
        return run_op(key, &mech, ct, len, max, true, nullptr);
    }
    if (padding == P11TLS_DECRYPT_RSA_OAEP_SHA256) {
        CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
        CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
        return run_op(key, &mech, ct, len, max, true, nullptr);
    }
    fail(P11TLS_E_INTERNAL, "padding checked by key_plaintext_size");
}
}  // namespace p11tls
