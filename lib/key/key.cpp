// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "key/key.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <nettle/nettle-meta.h>
#include <p11tls/p11tls.h>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"
#include "key/digest_info.hpp"
#include "key/ecdsa.hpp"
#include "key/scheme.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/search.hpp"
#include "world/matching.hpp"
#include "world/pooled_session.hpp"
#include "world/world.hpp"

namespace {
void free_chain(p11tls::Binding *b, p11tls::Binding *p11tls::Binding::*next) {
    while (b) {
        p11tls::Binding *n = b->*next;
        delete b;
        b = n;
    }
}
}  // namespace

p11tls_key::~p11tls_key() {
    free_chain(binding, &p11tls::Binding::prev);
    free_chain(retired, &p11tls::Binding::next_retired);
}

namespace p11tls {

namespace {

// An operation that loads key->binding and uses what it points to. Freeing
// a retired binding X is safe once the reader count of X's generation is
// zero at a moment after X was retired: a reader of X counted itself before
// it loaded key->binding, which was before X was replaced, which was before
// X was retired (every step SEQ_CST), so it has finished. Only bindings of
// the current generation are freed; the count is per generation because a
// child inherits the counts of parent threads that do not exist in it.
class BindingUse {
public:
    explicit BindingUse(p11tls_key *key) : key_(key), tag_(tag_of(current_generation())) {
        uint64_t w = __atomic_load_n(&key_->readers, __ATOMIC_SEQ_CST);
        for (;;) {
            uint64_t nw = (w >> 32) == tag_ ? w + 1 : (tag_ << 32 | 1);
            if (__atomic_compare_exchange_n(&key_->readers, &w, nw, false, __ATOMIC_SEQ_CST,
                                            __ATOMIC_SEQ_CST))
                break;
        }
    }
    ~BindingUse() {
        uint64_t w = __atomic_load_n(&key_->readers, __ATOMIC_SEQ_CST);
        for (;;) {
            if ((w >> 32) != tag_) return;  // entered before this process was forked
            if (__atomic_compare_exchange_n(&key_->readers, &w, w - 1, false, __ATOMIC_SEQ_CST,
                                            __ATOMIC_SEQ_CST))
                break;
        }
        if (((w - 1) & 0xffffffffu) == 0 && __atomic_load_n(&key_->retired, __ATOMIC_SEQ_CST))
            reclaim(key_);
    }
    BindingUse(const BindingUse &) = delete;
    BindingUse &operator=(const BindingUse &) = delete;

    // b was replaced in its own generation: freed now or by the last reader.
    static void retire(p11tls_key *key, Binding *b) {
        {
            GenSpinGuard g(key->retired_lock);
            b->next_retired = key->retired;
            __atomic_store_n(&key->retired, b, __ATOMIC_SEQ_CST);
        }
        reclaim(key);
    }

private:
    static uint64_t tag_of(uint64_t gen) { return gen & 0xffffffffu; }

    static void reclaim(p11tls_key *key) {
        const uint64_t gen = current_generation();
        Binding *dead = nullptr;
        {
            GenSpinGuard g(key->retired_lock);
            uint64_t w = __atomic_load_n(&key->readers, __ATOMIC_SEQ_CST);
            if ((w >> 32) == tag_of(gen) && (w & 0xffffffffu) != 0) return;
            Binding **link = &key->retired;
            while (Binding *b = *link) {
                if (b->gen == gen) {
                    __atomic_store_n(link, b->next_retired, __ATOMIC_SEQ_CST);
                    b->next_retired = dead;
                    dead = b;
                } else {
                    link = &b->next_retired;
                }
            }
        }
        free_chain(dead, &Binding::next_retired);
    }

    p11tls_key *key_;
    const uint64_t tag_;
};

// What open and rebind read of every object a key search finds: the public
// key's attributes, and what tells a private key from its companions.
std::vector<CK_ATTRIBUTE_TYPE> object_attribute_types() {
    std::vector<CK_ATTRIBUTE_TYPE> types = {CKA_CLASS};  // first: every object has one
    types.insert(types.end(), std::begin(kPublicKeyAttributes), std::end(kPublicKeyAttributes));
    types.push_back(CKA_LABEL);
    types.push_back(CKA_ALWAYS_AUTHENTICATE);
    return types;
}

struct Found {
    CK_OBJECT_HANDLE handle;
    Attributes attrs;
};

struct Match {
    TokenState *token;
    CK_OBJECT_HANDLE handle;
    std::optional<Attributes> attrs;  // the key's, when the search read them
    std::vector<Found> companions;    // its public key, certificate, ... if found
};

// A search by label or ID without CKA_CLASS finds a key's public key and
// certificate in the same scan of the token as the key itself; the public
// key of an EC key is on its public key object only (SoftHSM), so this saves
// a second scan, which costs as much as the first. More objects than this
// share the name: search by class instead.
constexpr size_t kMaxNamedObjects = 8;

bool names_objects(const std::vector<CK_ATTRIBUTE> &tmpl) {
    for (const CK_ATTRIBUTE &a : tmpl)
        if (a.type == CKA_LABEL || a.type == CKA_ID) return true;
    return false;
}

// Private keys on t matching tmpl (no CKA_CLASS in it), with their
// attributes and companions; false if too many objects share the name.
bool find_named(TokenState *t, CK_SESSION_HANDLE s, const std::vector<CK_ATTRIBUTE> &tmpl,
                std::vector<Match> &out) {
    auto handles = find_objects(t->module(), s, tmpl, kMaxNamedObjects + 1);
    if (handles.size() > kMaxNamedObjects) return false;
    std::vector<Match> keys;
    std::vector<Found> others;
    for (CK_OBJECT_HANDLE h : handles) {
        Attributes a(t->module(), s, h, object_attribute_types());
        CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
        a.scalar(CKA_CLASS, &cls);
        if (cls == CKO_PRIVATE_KEY) keys.push_back({t, h, std::move(a), {}});
        else if (cls == CKO_PUBLIC_KEY || cls == CKO_CERTIFICATE) others.push_back({h, std::move(a)});
    }
    for (Match &k : keys) {
        k.companions = others;
        out.push_back(std::move(k));
    }
    return true;
}

std::vector<Match> find_private_keys(const CtxState &ctx, const Uri &uri,
                                     const std::vector<TokenState *> &tokens,
                                     const std::vector<CK_ATTRIBUTE> &extra) {
    std::vector<Match> out;
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
    for (TokenState *t : tokens) {
        t->ensure_login(ctx, &uri);
        std::vector<CK_ATTRIBUTE> tmpl;
        for (const CK_ATTRIBUTE &a : uri.object_template())
            if (a.type != CKA_CLASS) tmpl.push_back(a);
        for (const CK_ATTRIBUTE &a : extra) tmpl.push_back(a);
        PooledSession s(t);
        if (!names_objects(tmpl) || !find_named(t, s.get(), tmpl, out)) {
            tmpl.push_back({CKA_CLASS, &priv, sizeof priv});
            for (CK_OBJECT_HANDLE h : find_objects(t->module(), s.get(), tmpl, 2))
                out.push_back({t, h, std::nullopt, {}});
        }
        if (out.size() > 1) break;
    }
    return out;
}

Binding *make_binding(uint64_t gen, const Match &m, bool always_auth, Binding *prev) {
    return new Binding{gen, m.token, m.handle, always_auth, prev};
}

const Attributes &key_attributes(Match &m, CK_SESSION_HANDLE s) {
    if (!m.attrs) m.attrs.emplace(m.token->module(), s, m.handle, object_attribute_types());
    return *m.attrs;
}

PublicKey public_key(Match &m, CK_SESSION_HANDLE s) {
    std::vector<Companion> companions;
    for (const Found &f : m.companions) companions.push_back({f.handle, &f.attrs});
    return read_public_key(m.token, s, key_attributes(m, s), companions);
}

// Names some of the keys found: a search stops early once it has two.
[[noreturn]] void fail_ambiguous(std::vector<Match> &matches) {
    constexpr size_t kNamed = 4;
    std::string list;
    for (size_t i = 0; i < matches.size() && i < kNamed; ++i) {
        Match &m = matches[i];
        std::string label;
        std::vector<unsigned char> id;
        try {
            PooledSession s(m.token);
            const Attributes &a = key_attributes(m, s.get());
            label.assign(a.get(CKA_LABEL).begin(), a.get(CKA_LABEL).end());
            id = a.get(CKA_ID);
        } catch (const Error &) {  // the ambiguity is the error to report
        }
        list += (i ? ", " : "") + format_object_uri(m.token->info(), CKO_PRIVATE_KEY, label, id);
    }
    fail(P11TLS_E_AMBIGUOUS, "the URI matches more than one private key, among them: " + list);
}

bool always_auth(const Attributes &a) {
    CK_BBOOL v = CK_FALSE;
    return a.scalar(CKA_ALWAYS_AUTHENTICATE, &v) && v == CK_TRUE;
}

[[noreturn]] void fork_abort(const p11tls_key *key) {
    char msg[512];
    snprintf(msg, sizeof msg,
             "p11tls: key %s was opened before fork() and its context's fork policy is "
             "P11TLS_FORK_ABORT; aborting\n",
             key->object_uri.c_str());
    ssize_t r = write(2, msg, strlen(msg));
    (void)r;
    abort();
}

// Finds the key again in the current generation: same module, same token,
// same CKA_ID and label, and the same public key; installs the new binding
// in front of old. Another thread may have replaced old first: its binding
// is kept and returned, ours dropped.
Binding *rebind(p11tls_key *key, uint64_t gen, Binding *old) {
    World &w = current_world();
    ModuleState *ms = w.state(const_cast<Module *>(key->module));
    if (ms->ensure_initialized() != 0) fail(P11TLS_E_MODULE, ms->error());
    TokenState *token = nullptr;
    for (TokenState *t : ms->tokens())
        if (t->same_token(key->token_info)) token = t;
    if (!token)
        fail(P11TLS_E_TOKEN_NOT_PRESENT,
             "token " + P11TLS_FIELD(key->token_info.label) + " is not present");
    std::vector<CK_ATTRIBUTE> extra;
    if (!key->id.empty()) extra.push_back({CKA_ID, key->id.data(), key->id.size()});
    if (!key->label.empty())
        extra.push_back({CKA_LABEL, (void *)key->label.data(), key->label.size()});
    // Leaves the certificate out of the named search: one object fewer to
    // read in every child's first operation.
    extra.push_back({CKA_KEY_TYPE, &key->key_type, sizeof key->key_type});
    auto matches = find_private_keys(*key->ctx, key->uri, {token}, extra);
    if (matches.empty()) fail(P11TLS_E_NOT_FOUND, "key " + key->object_uri + " is gone from its token");
    if (matches.size() > 1) fail(P11TLS_E_AMBIGUOUS, "key " + key->object_uri + " is no longer unique");
    PooledSession s(token);
    PublicKey pk = public_key(matches[0], s.get());
    if (pk.spki != key->pub.spki)
        fail(P11TLS_E_KEY_MISMATCH,
             "key found for " + key->object_uri + " is not the key that was opened");
    // A binding of this generation is superseded, not kept: it is retired
    // once installed (a lost login or a pulled token would otherwise add
    // one per occurrence for the key's life).
    const bool supersedes = old && old->gen == gen;
    Binding *nb = make_binding(gen, matches[0], always_auth(*matches[0].attrs),
                               supersedes ? old->prev : old);
    log_info("key %s: rebound in generation %llu", key->object_uri.c_str(), (unsigned long long)gen);
    if (!__atomic_compare_exchange_n(&key->binding, &old, nb, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST)) {
        delete nb;
        return old;
    }
    if (supersedes) BindingUse::retire(key, old);
    return nb;
}

// The binding for this generation, applying the context's fork policy. A
// binding whose token was lost (removed) is rebound too: the token may be
// back, as a new TokenState. Only inside a BindingUse.
Binding *bind(p11tls_key *key) {
    const uint64_t gen = current_generation();
    Binding *b = __atomic_load_n(&key->binding, __ATOMIC_SEQ_CST);
    if (b && b->gen == gen && !b->token->lost()) return b;
    if (key->open_gen != gen) {
        int policy = key->ctx->fork_policy();
        if (policy == P11TLS_FORK_FAIL)
            fail(P11TLS_E_FORKED, "key " + key->object_uri + " was opened before fork()");
        if (policy == P11TLS_FORK_ABORT) fork_abort(key);
    }
    return rebind(key, gen, b);
}

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

// Logs in again (with this key's own PIN source; a refused PIN is still
// never retried) and finds the key again, with the same identity checks as
// after fork.
Binding *refresh_binding(p11tls_key *key, Binding *old) {
    old->token->note_logged_out();
    return rebind(key, current_generation(), old);
}

bool is_token_gone(CK_RV rv) {
    return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT;
}


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
        const char *stage = decrypt ? "C_DecryptInit" : "C_SignInit";
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
            stage = decrypt ? "C_Decrypt" : "C_Sign";
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
        if (is_session_error(rv) && attempt == 0) continue;
        if (is_login_lost(rv) && attempt == 0) {
            b = refresh_binding(key, b);
            m = b->token->module();
            continue;
        }
        // Not retried: the token is gone now. The next operation finds it
        // again if it is back.
        if (is_token_gone(rv)) b->token->mark_lost();
        // A mechanism or parameters the token refuses are not the caller's
        // bad arguments.
        if (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID)
            if (strcmp(stage, "C_SignInit") == 0 || strcmp(stage, "C_DecryptInit") == 0)
                fail(P11TLS_E_UNSUPPORTED, "module " + m->name + ": " + stage + ": " + ckr_name(rv) +
                                               " (the token does not support this mechanism or its parameters)");
        fail_ckr(m, stage, rv);
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

}  // namespace

std::unique_ptr<p11tls_key> open_key(const std::shared_ptr<CtxState> &ctx, const char *uri_text,
                                     unsigned flags) {
    Uri uri = Uri::parse(uri_text);
    if (uri.has_class() && uri.object_class() != CKO_PRIVATE_KEY)
        fail(P11TLS_E_INVALID_ARGUMENT, "URI names an object type other than a private key");
    std::string why;
    auto tokens = matching_tokens(*ctx, uri, &why);
    if (tokens.empty()) fail_no_token(why);
    if (flags & P11TLS_KEY_OPEN_VERIFY_PIN) {
        if (tokens.size() > 1)
            fail(P11TLS_E_AMBIGUOUS,
                 "P11TLS_KEY_OPEN_VERIFY_PIN needs a URI that matches one token; it matches " +
                     std::to_string(tokens.size()));
        tokens[0]->verify_login(*ctx, &uri);
    }
    auto matches = find_private_keys(*ctx, uri, tokens, {});
    if (matches.empty()) fail(P11TLS_E_NOT_FOUND, "no private key matches the URI");
    if (matches.size() > 1) fail_ambiguous(matches);

    auto key = std::make_unique<p11tls_key>();
    Match &m = matches[0];
    PooledSession s(m.token);
    key->ctx = ctx;
    key->module = m.token->module();
    key->token_info = m.token->info();
    const Attributes &attrs = key_attributes(m, s.get());
    key->id = attrs.get(CKA_ID);
    const auto &label = attrs.get(CKA_LABEL);
    key->label.assign(label.begin(), label.end());
    attrs.scalar(CKA_KEY_TYPE, &key->key_type);
    key->pub = public_key(m, s.get());
    key->object_uri = format_object_uri(key->token_info, CKO_PRIVATE_KEY, key->label, key->id);
    key->open_gen = current_generation();
    key->binding = make_binding(key->open_gen, m, always_auth(attrs), nullptr);
    key->uri = std::move(uri);
    log_info("opened key %s", key->object_uri.c_str());
    return key;
}

namespace {
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
    if (s.alg != key->pub.alg) return false;
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

size_t key_binding_count(p11tls_key *key) {
    GenSpinGuard g(key->retired_lock);
    size_t n = 0;
    for (Binding *b = __atomic_load_n(&key->binding, __ATOMIC_SEQ_CST); b; b = b->prev) ++n;
    for (Binding *b = key->retired; b; b = b->next_retired) ++n;
    return n;
}

}  // namespace p11tls
