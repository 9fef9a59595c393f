// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Listing: tokens, objects and modules, reported through caller callbacks.
#include "cert/list.hpp"

#include <string>

#include "base/error.hpp"
#include "base/log.hpp"
#include "key/pubkey.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/search.hpp"
#include "uri/uri.hpp"
#include "world/matching.hpp"
#include "world/pooled_session.hpp"
#include "world/world.hpp"

namespace p11tls {

namespace {

int algorithm_of(CK_KEY_TYPE kt, TokenState *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h) {
    if (kt == CKK_RSA) return P11TLS_ALG_RSA;
    if (kt == CKK_EC) return P11TLS_ALG_ECDSA;
    if (kt == CKK_EC_EDWARDS) {
        return edwards_curve(get_attribute(t->module(), s, h, CKA_EC_PARAMS));
    }
    return 0;
}

// More objects than this on one token for one listing: refused with an
// error rather than listed in part (a module that never ends a search
// would otherwise keep p11tls reading forever).
constexpr size_t kMaxListedObjects = 100000;

// A listing is a filter: no token matching is an empty list, not an error;
// but a user who mistyped a token name is told what there is (a warning).
std::vector<TokenState *> tokens_to_list(const CtxState &ctx, const Uri &uri) {
    std::string why;
    auto tokens = matching_tokens(ctx, uri, &why);
    if (tokens.empty()) log_warning("%s", no_token_detail(why).c_str());
    return tokens;
}
}  // namespace

int list_tokens(const CtxState &ctx, const char *uri_text, p11tls_token_cb cb, void *arg) {
    Uri uri = Uri::parse(uri_text);
    for (TokenState *t : tokens_to_list(ctx, uri)) {
        const CK_TOKEN_INFO &ti = t->info();
        std::string label = P11TLS_FIELD(ti.label), manuf = P11TLS_FIELD(ti.manufacturerID),
                    model = P11TLS_FIELD(ti.model), serial = P11TLS_FIELD(ti.serialNumber);
        p11tls_token_info info = {t->uri().c_str(), label.c_str(),     manuf.c_str(),
                                  model.c_str(),    serial.c_str(),    t->module()->name.c_str(),
                                  t->slot(),        ti.flags};
        if (int rc = cb(arg, &info)) return rc;
    }
    return 0;
}

int list_objects(const CtxState &ctx, const char *uri_text, unsigned flags, p11tls_object_cb cb,
                 void *arg) {
    Uri uri = Uri::parse(uri_text);
    for (TokenState *t : tokens_to_list(ctx, uri)) {
        if (flags & P11TLS_LIST_LOGIN) t->ensure_login(ctx, &uri);
        PooledSession s(t);
        auto handles = find_objects(t->module(), s.get(), uri.object_template(), kMaxListedObjects + 1);
        if (handles.size() > kMaxListedObjects)
            fail(P11TLS_E_UNSUPPORTED, "token " + t->label() + " has more than " +
                                           std::to_string(kMaxListedObjects) +
                                           " objects matching the URI; not listing part of them");
        for (CK_OBJECT_HANDLE h : handles) {
            CK_OBJECT_CLASS cls = 0;
            if (!get_scalar(t->module(), s.get(), h, CKA_CLASS, &cls)) continue;
            auto label = get_attribute(t->module(), s.get(), h, CKA_LABEL);
            auto id = get_attribute(t->module(), s.get(), h, CKA_ID);
            std::string lab(label.begin(), label.end());
            int alg = 0;
            CK_KEY_TYPE kt;
            if ((cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY) &&
                get_scalar(t->module(), s.get(), h, CKA_KEY_TYPE, &kt))
                alg = algorithm_of(kt, t, s.get(), h);
            std::string ouri = format_object_uri(t->info(), cls, lab, id);
            p11tls_object_info info = {ouri.c_str(), lab.c_str(), cls,
                                       alg,          id.data(),   id.size(),
                                       t->label().c_str()};
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
