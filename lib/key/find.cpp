// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// p11tls_key_open's work: the tokens a URI names, the one private key on
// them, what identifies it across fork.
#include "key/find.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <optional>

#include <p11tls/p11tls.h>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"
#include "pkcs11/search.hpp"
#include "world/matching.hpp"
#include "world/object_index.hpp"
#include "world/pin_route.hpp"
#include "world/pooled_session.hpp"

namespace p11tls {

namespace {

// What open and rebind read of every object a key search finds: the public
// key's attributes, and what tells a private key from its companions.
std::vector<CK_ATTRIBUTE_TYPE> object_attribute_types() {
    std::vector<CK_ATTRIBUTE_TYPE> types = {CKA_CLASS};  // first: every object has one
    types.insert(types.end(), std::begin(kPublicKeyAttributes), std::end(kPublicKeyAttributes));
    types.push_back(CKA_LABEL);
    types.push_back(CKA_ALWAYS_AUTHENTICATE);
    types.push_back(CKA_SIGN);
    types.push_back(CKA_DECRYPT);
    return types;
}


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
// seen gets every object the search found (for the object index).
bool find_named(TokenState *t, CK_SESSION_HANDLE s, const std::vector<CK_ATTRIBUTE> &tmpl,
                std::vector<Match> &out, std::vector<ObjectIndex::Object> &seen) {
    auto handles = find_objects(t->module(), s, tmpl, kMaxNamedObjects + 1);
    if (handles.size() > kMaxNamedObjects) return false;
    std::vector<Match> keys;
    std::vector<Found> others;
    for (CK_OBJECT_HANDLE h : handles) {
        Attributes a(t->module(), s, h, object_attribute_types());
        CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
        if (a.scalar(CKA_CLASS, &cls)) seen.push_back({h, cls, a.get(CKA_LABEL), a.get(CKA_ID)});
        if (cls == CKO_PRIVATE_KEY) keys.push_back({t, h, std::move(a), {}, {}});
        else if (cls == CKO_PUBLIC_KEY || cls == CKO_CERTIFICATE) others.push_back({h, std::move(a)});
    }
    for (Match &k : keys) {
        k.companions = others;
        out.push_back(std::move(k));
    }
    return true;
}

// What find_named or the search by class would find, answered by the
// index: the same keys, the same companions. Each object used is read on
// the token and must still be what the index knew (class, label, ID); a key
// opened before must still have the public key it had then. False on a
// miss or a failed check (the failed entry is forgotten): search for real.
bool find_indexed(TokenState *t, ObjectIndex &idx, CK_SESSION_HANDLE s,
                  const std::vector<CK_ATTRIBUTE> &tmpl, std::vector<Match> &out) {
    std::vector<unsigned char> label, id;
    const ObjectIndex::Name name = name_of(tmpl, label, id);
    const auto objects = idx.find(name);
    if (std::none_of(objects.begin(), objects.end(),
                     [](const ObjectIndex::Object &o) { return o.cls == CKO_PRIVATE_KEY; }))
        return false;
    // As find_named, unless the name is missing or too crowded: then as the
    // search by class, which stops at two keys and has no companions.
    const bool named = (name.label || name.id) && objects.size() <= kMaxNamedObjects;
    const size_t max_keys = named ? kMaxNamedObjects : 2;
    std::vector<Match> keys;
    std::vector<Found> others;
    for (const ObjectIndex::Object &o : objects) {
        const bool key = o.cls == CKO_PRIVATE_KEY;
        if (key ? keys.size() >= max_keys
                : !named || (o.cls != CKO_PUBLIC_KEY && o.cls != CKO_CERTIFICATE))
            continue;
        std::optional<Attributes> a;
        try {
            a.emplace(t->module(), s, o.handle, object_attribute_types());
        } catch (const Error &) {  // e.g. CKR_OBJECT_HANDLE_INVALID: deleted
        }
        if (!a || !still_names(o, *a)) {
            idx.forget(o.handle);
            return false;
        }
        if (key) keys.push_back({t, o.handle, std::move(*a), {}, {}});
        else others.push_back({o.handle, std::move(*a)});
    }
    if (keys.empty()) return false;
    for (Match &k : keys) k.companions = others;
    if (keys.size() == 1) {
        const auto recorded = idx.public_key(keys[0].handle);
        if (!recorded.empty()) {
            try {
                keys[0].pub = public_key(keys[0], s);
            } catch (const Error &) {
            }
            if (!keys[0].pub || keys[0].pub->spki != recorded) {  // another key now
                idx.forget(keys[0].handle);
                return false;
            }
        }
    }
    for (Match &k : keys) out.push_back(std::move(k));
    return true;
}

}  // namespace

std::vector<std::vector<unsigned char>> shown_public_keys(TokenState *t, const std::vector<CK_ATTRIBUTE> &base,
                                                          size_t max) {
    std::vector<std::vector<unsigned char>> out;
    PooledSession s(t);
    for (CK_OBJECT_CLASS cls : {CKO_PUBLIC_KEY, CKO_CERTIFICATE}) {
        std::vector<CK_ATTRIBUTE> tmpl = base;
        tmpl.push_back({CKA_CLASS, &cls, sizeof cls});
        for (CK_OBJECT_HANDLE h : find_objects(t->module(), s.get(), tmpl, max)) {
            std::optional<PublicKey> pk;
            if (cls == CKO_CERTIFICATE) {
                const auto der = get_attribute(t->module(), s.get(), h, CKA_VALUE);
                if (!der.empty()) pk = public_key_of_cert(der);
            } else {
                std::vector<CK_ATTRIBUTE_TYPE> types = {CKA_CLASS};
                types.insert(types.end(), std::begin(kPublicKeyAttributes), std::end(kPublicKeyAttributes));
                pk = own_public_key(Attributes(t->module(), s.get(), h, types));
            }
            if (pk) out.push_back(std::move(pk->spki));
        }
    }
    return out;
}

namespace {
// Whether the tokens each show exactly one public key for the URI (its
// CKA_ID and label), the same one: replicas of one key.
bool show_one_key(const Uri &uri, const std::vector<TokenState *> &tokens) {
    std::vector<CK_ATTRIBUTE> base;
    for (const CK_ATTRIBUTE &a : uri.object_template())
        if (a.type == CKA_ID || a.type == CKA_LABEL) base.push_back(a);
    if (base.empty()) return false;
    std::vector<unsigned char> first;
    for (TokenState *t : tokens) {
        auto keys = shown_public_keys(t, base);
        for (auto &k : keys)
            if (k != keys[0]) return false;  // a public key object and a certificate that disagree
        if (keys.empty() || (!first.empty() && keys[0] != first)) return false;
        first = keys[0];
    }
    return true;
}
}  // namespace

std::vector<Match> find_private_keys(const CtxState &ctx, const Uri &uri,
                                     const std::vector<TokenState *> &tokens, bool use_index,
                                     std::vector<TokenState *> *replicas) {
    std::vector<Match> out;
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
    auto search = [&](TokenState *t) {
        std::vector<CK_ATTRIBUTE> tmpl;
        for (const CK_ATTRIBUTE &a : uri.object_template())
            if (a.type != CKA_CLASS) tmpl.push_back(a);
        std::shared_ptr<ObjectIndex> idx = use_index ? t->object_index(true) : nullptr;
        PooledSession s(t);
        if (idx && find_indexed(t, *idx, s.get(), tmpl, out)) return;
        std::vector<ObjectIndex::Object> seen;
        const bool named = names_objects(tmpl) && find_named(t, s.get(), tmpl, out, seen);
        if (named && idx) {
            std::vector<unsigned char> label, id;
            idx->replace(name_of(tmpl, label, id), seen);
        }
        if (!named) {
            tmpl.push_back({CKA_CLASS, &priv, sizeof priv});
            for (CK_OBJECT_HANDLE h : find_objects(t->module(), s.get(), tmpl, 2))
                out.push_back({t, h, std::nullopt, {}, {}});
        }
    };
    if (tokens.size() == 1) {  // the URI names its token: the PIN goes there
        tokens[0]->ensure_login(ctx, &uri);
        search(tokens[0]);
        return out;
    }
    // Several tokens: a PIN goes to one that is known to hold the key
    // (world/pin_route.hpp); those that need none are searched first.
    PinRoute route(uri, tokens);
    for (TokenState *t : route.free()) {
        search(t);
        if (out.size() > 1) return out;
    }
    std::function<bool(const std::vector<TokenState *> &)> same_key;
    if (replicas) same_key = [&](const std::vector<TokenState *> &ts) { return show_one_key(uri, ts); };
    if (TokenState *t = route.pin_token([&] { return !out.empty(); }, same_key)) {
        t->ensure_login(ctx, &uri);
        search(t);
        if (replicas) replicas->insert(replicas->end(), route.replicas().begin(), route.replicas().end());
    }
    // Found on a token logged in before: a PIN the URI gives must be the
    // one it logged in with (TokenState::check_uri_pin).
    if (out.size() == 1) out[0].token->ensure_login(ctx, &uri);
    return out;
}

Binding *make_binding(uint64_t gen, const Match &m, bool always_auth, Binding *prev, bool proven) {
    return new Binding{gen, m.token, m.handle, always_auth, prev, {proven}};
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

namespace {

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
}  // namespace

// Keys found on several tokens, one on each, that have one public key:
// replicas of one key (doc/remote.md, "Replicas"). Two on one token are two
// objects, and the URI is ambiguous.
bool replicas_of_one_key(std::vector<Match> &matches) {
    std::vector<unsigned char> first;
    for (size_t i = 0; i < matches.size(); ++i) {
        for (size_t j = 0; j < i; ++j)
            if (matches[j].token == matches[i].token) return false;
        try {
            PooledSession s(matches[i].token);
            PublicKey pk = public_key(matches[i], s.get());
            if (pk.spki.empty() || (i > 0 && pk.spki != first)) return false;
            if (i == 0) first = pk.spki;
        } catch (const Error &) {  // no public key to tell: not known to be one key
            return false;
        }
    }
    return true;
}

bool always_auth(const Attributes &a) {
    CK_BBOOL v = CK_FALSE;
    return a.scalar(CKA_ALWAYS_AUTHENTICATE, &v) && v == CK_TRUE;
}

// A usage attribute the token does not report is not taken as a refusal:
// the token decides when the key is used.
bool permitted(const Attributes &a, CK_ATTRIBUTE_TYPE usage) {
    CK_BBOOL v = CK_TRUE;
    return !a.scalar(usage, &v) || v == CK_TRUE;
}

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
    // An open that verifies the PIN logged out and in: the index of the
    // login state before is gone, and one open is not worth reading the
    // whole token for (PAM makes one per process).
    std::vector<TokenState *> replica_tokens;
    auto matches =
        find_private_keys(*ctx, uri, tokens, !(flags & P11TLS_KEY_OPEN_VERIFY_PIN), &replica_tokens);
    if (matches.empty()) fail(P11TLS_E_NOT_FOUND, "no private key matches the URI");
    if (matches.size() > 1) {
        if (!replicas_of_one_key(matches)) fail_ambiguous(matches);
        for (size_t i = 1; i < matches.size(); ++i) replica_tokens.push_back(matches[i].token);
        matches.resize(1);
    }

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
    key->can_sign = permitted(attrs, CKA_SIGN);
    key->can_decrypt = permitted(attrs, CKA_DECRYPT);
    // The key's public key, from the private object itself where it shows
    // it: then the object is proven to be that key. Otherwise (EC keys on
    // SoftHSM and NSS) from its public key object or certificate, which
    // prove nothing: its first output is checked (key/identity.hpp).
    std::optional<PublicKey> pub = own_public_key(attrs);
    bool proven = pub.has_value();
    key->shows_public = proven;
    key->always_auth = always_auth(attrs);
    if (!pub && m.pub) pub = std::move(m.pub);
    if (!pub) {
        std::vector<Companion> companions;
        for (const Found &f : m.companions) companions.push_back({f.handle, &f.attrs});
        pub = find_public_key(m.token, s.get(), attrs, companions);
    }
    // No public key anywhere on the token (an EC or EdDSA private key
    // stored alone): the object opened is, by definition, the key opened;
    // for EC its public key is learnt below.
    const bool on_token = pub.has_value();
    if (!pub && (pub = key_shape(attrs))) proven = true;
    key->pub = pub ? std::move(*pub) : public_key(m, s.get());  // the latter throws why there is none
    key->object_uri = format_object_uri(key->token_info, CKO_PRIVATE_KEY, key->label, key->id);
    for (TokenState *t : replica_tokens)
        if (t->module() != key->module || !t->same_token(key->token_info)) {
            key->replicas.push_back({t->module(), t->info()});
            log_info("key %s: a replica in module %s (%s)", key->object_uri.c_str(), t->module()->name.c_str(),
                     t->uri().c_str());
        }
    key->open_gen = current_generation();
    key->binding = make_binding(key->open_gen, m, key->always_auth, nullptr, proven);
    key->uri = std::move(uri);
    if (!on_token && key->pub.alg == P11TLS_ALG_ECDSA && !key->always_auth) {
        try {
            learn_ec_public_key(key.get(), attrs.get(CKA_EC_PARAMS));
        } catch (const Error &e) {  // it stays unknown, as an EdDSA key's
            log_info("key %s: its public key could not be learnt: %s", key->object_uri.c_str(), e.what());
        }
    }
    // The identity a later hit on this handle is checked against (one the
    // token shows: a learnt one the hit's check could not read again).
    if (auto idx = m.token->object_index(false); idx && on_token) idx->record_public_key(m.handle, key->pub.spki);
    log_info("opened key %s%s", key->object_uri.c_str(),
             key->pub.spki.empty() ? " (its public key is not on the token and cannot be learnt)"
             : on_token            ? ""
                                   : " (its public key, not on the token, learnt from two signatures)");
    return key;
}

}  // namespace p11tls
