// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Deleting what a URI names: all matches are found first, on every token
// the URI names, and nothing is deleted unless the count is what the
// caller allowed.
#include <memory>

#include "base/error.hpp"
#include "base/log.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/search.hpp"
#include "provision/provision.hpp"
#include "provision/token.hpp"
#include "uri/uri.hpp"
#include "world/matching.hpp"
#include "world/pin_route.hpp"
#include "world/pooled_session.hpp"

namespace p11tls {

namespace {

// More matches than this are refused whole: a delete is never partial
// because a search was cut.
constexpr size_t kMaxDeleted = 1000;

struct Doomed {
    RwSession *session;
    TokenState *token;
    CK_OBJECT_HANDLE handle;
};

std::string describe(const Doomed &d) {
    Attributes a(d.session->module(), d.session->get(), d.handle, {CKA_CLASS, CKA_LABEL, CKA_ID});
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
    a.scalar(CKA_CLASS, &cls);
    const auto &label = a.get(CKA_LABEL);
    return format_object_uri(d.token->info(), cls, std::string(label.begin(), label.end()), a.get(CKA_ID));
}

}  // namespace

size_t delete_objects(const CtxState &ctx, const char *uri_text, bool multiple) {
    Uri uri = Uri::parse(uri_text);
    const std::vector<CK_ATTRIBUTE> tmpl = uri.object_template();
    if (tmpl.empty())
        fail(P11TLS_E_INVALID_ARGUMENT, "the URI names no object (no object, id or type): refusing to delete "
                                        "everything on a token");
    std::string why;
    std::vector<std::unique_ptr<RwSession>> sessions;
    std::vector<Doomed> doomed;
    std::vector<TokenState *> tokens;
    for (TokenState *t : matching_tokens(ctx, uri, &why))
        if (t->info().flags & CKF_TOKEN_INITIALIZED) tokens.push_back(t);
    // A PIN goes only where the URI's objects are known to be (pin_route.hpp).
    if (!tokens.empty()) tokens = log_in_where_routed(ctx, uri, tokens);
    for (TokenState *t : tokens) {
        auto found = [&] {
            PooledSession s(t);
            return find_objects(t->module(), s.get(), tmpl, kMaxDeleted + 1);
        }();
        if (found.empty()) continue;
        check_writable(*t, t->info_now());
        sessions.push_back(std::make_unique<RwSession>(t));
        for (CK_OBJECT_HANDLE h : found) doomed.push_back({sessions.back().get(), t, h});
        if (doomed.size() > kMaxDeleted)
            fail(P11TLS_E_UNSUPPORTED, "the URI matches more than " + std::to_string(kMaxDeleted) +
                                           " objects; deleting none");
    }
    if (doomed.empty()) {
        if (!why.empty()) fail_no_token(why);
        fail(P11TLS_E_NOT_FOUND, "no object matches the URI");
    }
    if (doomed.size() > 1 && !multiple) {
        std::string list;
        for (size_t i = 0; i < doomed.size() && i < 4; ++i) list += (i ? ", " : "") + describe(doomed[i]);
        fail(P11TLS_E_AMBIGUOUS, "the URI matches " + std::to_string(doomed.size()) +
                                     " objects; deleting none (name one, or allow several): " + list +
                                     (doomed.size() > 4 ? ", ..." : ""));
    }
    size_t done = 0;
    for (const Doomed &d : doomed) {
        CK_RV rv = P11CALL(d.session->module(), C_DestroyObject, d.session->get(), d.handle);
        if (rv != CKR_OK)
            fail_ckr(d.session->module(),
                     ("C_DestroyObject (after " + std::to_string(done) + " of " + std::to_string(doomed.size()) +
                      " deleted)").c_str(),
                     rv);
        ++done;
    }
    log_info("deleted %zu object(s)", done);
    return done;
}

}  // namespace p11tls
