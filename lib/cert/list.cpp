// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Listing: tokens, objects and modules, reported through caller callbacks.
#include "cert/list.hpp"

#include <cstring>
#include <iterator>
#include <string>

#include "base/error.hpp"
#include "base/log.hpp"
#include "key/pubkey.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/module.hpp"
#include "pkcs11/search.hpp"
#include "uri/uri.hpp"
#include "world/matching.hpp"
#include "world/pin_route.hpp"
#include "world/pooled_session.hpp"
#include "world/world.hpp"

namespace p11tls {

namespace {

int algorithm_of(CK_KEY_TYPE kt, const Attributes &a) {
    if (kt == CKK_RSA) return P11TLS_ALG_RSA;
    if (kt == CKK_EC) return P11TLS_ALG_ECDSA;
    if (kt == CKK_EC_EDWARDS) return edwards_curve(a.get(CKA_EC_PARAMS));
    return 0;
}

// What a listing reads of every object, in one C_GetAttributeValue call
// (CKA_CLASS first: see Attributes). Never CKA_VALUE: a data object's or
// an extractable secret key's value is not the listing's to read.
constexpr CK_ATTRIBUTE_TYPE kListedAttributes[] = {
    CKA_CLASS, CKA_LABEL, CKA_ID, CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT,
    CKA_PUBLIC_KEY_INFO, CKA_EC_PARAMS, CKA_EC_POINT, CKA_PRIVATE, CKA_SENSITIVE,
    CKA_ALWAYS_SENSITIVE, CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_AUTHENTICATE, CKA_LOCAL, CKA_MODIFIABLE};

unsigned long attribute_bits(const Attributes &a) {
    static const struct {
        CK_ATTRIBUTE_TYPE type;
        unsigned long bit;
    } table[] = {{CKA_PRIVATE, P11TLS_OBJECT_PRIVATE},
                 {CKA_SENSITIVE, P11TLS_OBJECT_SENSITIVE},
                 {CKA_ALWAYS_SENSITIVE, P11TLS_OBJECT_ALWAYS_SENSITIVE},
                 {CKA_EXTRACTABLE, P11TLS_OBJECT_EXTRACTABLE},
                 {CKA_NEVER_EXTRACTABLE, P11TLS_OBJECT_NEVER_EXTRACTABLE},
                 {CKA_ALWAYS_AUTHENTICATE, P11TLS_OBJECT_ALWAYS_AUTHENTICATE},
                 {CKA_LOCAL, P11TLS_OBJECT_LOCAL},
                 {CKA_MODIFIABLE, P11TLS_OBJECT_MODIFIABLE}};
    unsigned long bits = 0;
    for (const auto &e : table) {
        CK_BBOOL v = CK_FALSE;
        if (a.scalar(e.type, &v) && v == CK_TRUE) bits |= e.bit;
    }
    return bits;
}

// The public key of a key object, if it can be told: a key whose public
// half is nowhere on the token (or of a type p11tls does not use) is still
// listed, without it. Other failures (the module's) fail the listing.
PublicKey public_key_or_none(TokenState *t, CK_SESSION_HANDLE s, const Attributes &a,
                             const std::vector<Companion> &companions) {
    try {
        return read_public_key(t, s, a, companions);
    } catch (const Error &e) {
        if (e.code() != P11TLS_E_UNSUPPORTED) throw;
        return {};
    }
}

// More objects than this on one token for one listing: refused with an
// error rather than listed in part (a module that never ends a search
// would otherwise keep p11tls reading forever).
constexpr size_t kMaxListedObjects = 100000;

// A listing is a filter: no token matching is an empty list, not an error;
// but a user who mistyped a token name is told what there is (a warning).
// Without a URI nothing was asked for that could fail to match: only what
// there is, or is not, is said ("no token present; module X failed ...").
std::vector<TokenState *> tokens_to_list(const CtxState &ctx, const char *uri_text, const Uri &uri,
                                         bool uninitialized_too) {
    std::string why;
    auto tokens = matching_tokens(ctx, uri, &why, uninitialized_too);
    const bool no_uri = !uri_text || !*uri_text || strcmp(uri_text, "pkcs11:") == 0;
    if (tokens.empty()) log_warning("%s", no_uri ? why.c_str() : no_token_detail(why).c_str());
    return tokens;
}
}  // namespace

int list_tokens(const CtxState &ctx, const char *uri_text, p11tls_token_cb cb, void *arg) {
    Uri uri = Uri::parse(uri_text);
    for (TokenState *t : tokens_to_list(ctx, uri_text, uri, true)) {
        // Flags now, not as discovered: the PIN counters change.
        CK_TOKEN_INFO ti = t->info();
        CK_TOKEN_INFO now;
        if (P11CALL(t->module(), C_GetTokenInfo, t->slot(), &now) == CKR_OK) ti.flags = now.flags;
        std::string label = P11TLS_FIELD(ti.label), manuf = P11TLS_FIELD(ti.manufacturerID),
                    model = P11TLS_FIELD(ti.model), serial = P11TLS_FIELD(ti.serialNumber);
        p11tls_token_info info = {t->uri().c_str(),
                                  label.c_str(),
                                  manuf.c_str(),
                                  model.c_str(),
                                  serial.c_str(),
                                  t->module()->name.c_str(),
                                  t->slot(),
                                  ti.flags,
                                  shares_state_with_children(t->module()) ? 1 : 0};
        if (int rc = cb(arg, &info)) return rc;
    }
    return 0;
}

int list_objects(const CtxState &ctx, const char *uri_text, unsigned flags, p11tls_object_cb cb,
                 void *arg) {
    Uri uri = Uri::parse(uri_text);
    std::vector<TokenState *> tokens = tokens_to_list(ctx, uri_text, uri, false);
    // A PIN goes only where the URI's objects are known to be (pin_route.hpp).
    if ((flags & P11TLS_LIST_LOGIN) && !tokens.empty()) tokens = log_in_where_routed(ctx, uri, tokens);
    for (TokenState *t : tokens) {
        PooledSession s(t);
        auto handles = find_objects(t->module(), s.get(), uri.object_template(), kMaxListedObjects + 1);
        if (handles.size() > kMaxListedObjects)
            fail(P11TLS_E_UNSUPPORTED, "token " + t->label() + " has more than " +
                                           std::to_string(kMaxListedObjects) +
                                           " objects matching the URI; not listing part of them");
        // Attributes of all first: a private key's public half is found
        // among them (its public key or certificate) without a search.
        const std::vector<CK_ATTRIBUTE_TYPE> types(std::begin(kListedAttributes),
                                                   std::end(kListedAttributes));
        std::vector<Attributes> attrs;
        attrs.reserve(handles.size());
        for (CK_OBJECT_HANDLE h : handles) attrs.emplace_back(t->module(), s.get(), h, types);
        std::vector<Companion> companions;
        for (size_t i = 0; i < handles.size(); ++i) companions.push_back({handles[i], &attrs[i]});

        for (size_t i = 0; i < handles.size(); ++i) {
            const Attributes &a = attrs[i];
            CK_OBJECT_CLASS cls = 0;
            if (!a.scalar(CKA_CLASS, &cls)) continue;
            const auto &label = a.get(CKA_LABEL);
            const auto &id = a.get(CKA_ID);
            std::string lab(label.begin(), label.end());
            int alg = 0;
            CK_KEY_TYPE kt;
            PublicKey pk;
            std::vector<unsigned char> value;
            if ((cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY) && a.scalar(CKA_KEY_TYPE, &kt)) {
                alg = algorithm_of(kt, a);
                if (alg) pk = public_key_or_none(t, s.get(), a, companions);
            } else if (cls == CKO_CERTIFICATE) {
                value = get_attribute(t->module(), s.get(), handles[i], CKA_VALUE);
            }
            std::string ouri = format_object_uri(t->info(), cls, lab, id);
            p11tls_object_info info = {ouri.c_str(),
                                       lab.c_str(),
                                       cls,
                                       alg,
                                       id.data(),
                                       id.size(),
                                       t->label().c_str(),
                                       attribute_bits(a),
                                       pk.bits,
                                       pk.spki.empty() ? nullptr : pk.spki.data(),
                                       pk.spki.size(),
                                       value.empty() ? nullptr : value.data(),
                                       value.size()};
            if (int rc = cb(arg, &info)) return rc;
        }
    }
    return 0;
}

int list_modules(const CtxState &ctx, p11tls_module_cb cb, void *arg) {
    World &w = current_world();
    for (Module *m : ctx.modules()) {
        ModuleState *ms = w.state(m);
        int status = ms->ensure_initialized();
        std::string desc = status == 0 ? P11TLS_FIELD(ms->info().libraryDescription) : "";
        p11tls_module_info info = {m->name.c_str(), m->path.c_str(), desc.c_str(), status,
                                   status == 0 ? "" : ms->error().c_str()};
        if (int rc = cb(arg, &info)) return rc;
    }
    for (const CtxState::FailedModule &f : ctx.failed_modules()) {
        p11tls_module_info info = {f.path.c_str(), f.path.c_str(), "", f.status, f.error.c_str()};
        if (int rc = cb(arg, &info)) return rc;
    }
    return 0;
}

}  // namespace p11tls
