// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "world/pin_route.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "base/log.hpp"
#include "pkcs11/search.hpp"
#include "uri/uri.hpp"
#include "world/pooled_session.hpp"

namespace p11tls {

namespace {

std::string names(const std::vector<TokenState *> &tokens) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i)
        out += (i ? ", " : "") + tokens[i]->uri() + " (module " + tokens[i]->module()->name + ")";
    return out;
}

}  // namespace

PinRoute::PinRoute(const Uri &uri, const std::vector<TokenState *> &tokens)
    : uri_(uri), one_token_(tokens.size() == 1) {
    for (TokenState *t : tokens) (t->needs_login() ? need_pin_ : free_).push_back(t);
}

// One search per class the URI could show itself by, on a session that is
// not logged in (the token needs a login: its pooled sessions are public).
bool PinRoute::shows(TokenState *t) const {
    std::vector<CK_ATTRIBUTE> base;
    for (const CK_ATTRIBUTE &a : uri_.object_template())
        if (a.type != CKA_CLASS) base.push_back(a);
    std::vector<CK_OBJECT_CLASS> classes;
    const CK_OBJECT_CLASS cls = uri_.has_class() ? uri_.object_class() : (CK_OBJECT_CLASS)-1;
    if (cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY)
        classes = {CKO_PUBLIC_KEY, CKO_CERTIFICATE};  // what a key is seen by before a login
    else if (uri_.has_class())
        classes = {cls};
    PooledSession s(t);
    if (classes.empty()) return !find_objects(t->module(), s.get(), base, 1).empty();
    for (CK_OBJECT_CLASS &c : classes) {
        std::vector<CK_ATTRIBUTE> tmpl = base;
        tmpl.push_back({CKA_CLASS, &c, sizeof c});
        if (!find_objects(t->module(), s.get(), tmpl, 1).empty()) return true;
    }
    return false;
}

TokenState *PinRoute::pin_token(const std::function<bool()> &found_on_free,
                                 const std::function<bool(const std::vector<TokenState *> &)> &same_key) {
    if (need_pin_.empty()) return nullptr;
    if (one_token_) return need_pin_[0];
    std::vector<TokenState *> showing;
    for (TokenState *t : need_pin_)
        if (shows(t)) showing.push_back(t);
    if (showing.size() == 1) return showing[0];
    if (showing.size() > 1 && same_key && same_key(showing)) {
        replicas_.assign(showing.begin() + 1, showing.end());
        debug("%s show one key: replicas; the PIN goes to the first", names(showing).c_str());
        return showing[0];
    }
    if (showing.size() > 1)
        fail(P11TLS_E_AMBIGUOUS, "the URI matches " + std::to_string(showing.size()) +
                                     " tokens that need a PIN and show objects it names: " + names(showing) +
                                     "; no PIN was sent to any (name the token in the URI, or its module "
                                     "with module-name=)");
    if (found_on_free()) {
        debug("not logging in to %s: it shows nothing the URI names, and it was found elsewhere",
              names(need_pin_).c_str());
        return nullptr;
    }
    if (need_pin_.size() == 1) return need_pin_[0];
    fail(P11TLS_E_AMBIGUOUS, "the URI matches " + std::to_string(need_pin_.size()) +
                                 " tokens that need a PIN, and none shows (without a login) an object it names: " +
                                 names(need_pin_) + "; no PIN was sent to any (name the token in the URI)");
}

std::vector<TokenState *> log_in_where_routed(const CtxState &ctx, const Uri &uri,
                                              const std::vector<TokenState *> &tokens) {
    if (tokens.size() == 1) {
        tokens[0]->ensure_login(ctx, &uri);
        return tokens;
    }
    PinRoute route(uri, tokens);
    TokenState *routed = route.pin_token([&] {
        for (TokenState *t : route.free()) {
            PooledSession s(t);
            if (!find_objects(t->module(), s.get(), uri.object_template(), 1).empty()) return true;
        }
        return false;
    });
    if (routed) routed->ensure_login(ctx, &uri);
    std::vector<TokenState *> out;
    for (TokenState *t : tokens)
        if (t == routed || std::find(route.free().begin(), route.free().end(), t) != route.free().end())
            out.push_back(t);
    return out;
}

}  // namespace p11tls
