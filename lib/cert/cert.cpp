// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Certificates by URI: the one a URI names, and those beside it on its
// token (where its issuers are looked for).
#include "cert/cert.hpp"

#include "base/error.hpp"
#include "base/log.hpp"
#include "uri/uri.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/search.hpp"
#include "world/matching.hpp"
#include "world/pooled_session.hpp"

namespace p11tls {

namespace {

// The one certificate the URI names: its token and its DER value.
struct FoundCert {
    TokenState *token = nullptr;
    std::vector<unsigned char> der;
};

FoundCert find_cert(const CtxState &ctx, const char *uri_text) {
    Uri uri = Uri::parse(uri_text);
    if (uri.has_class() && uri.object_class() != CKO_CERTIFICATE)
        fail(P11TLS_E_INVALID_ARGUMENT, "URI names an object type other than a certificate");
    std::string why;
    auto tokens = matching_tokens(ctx, uri, &why);
    if (tokens.empty()) fail_no_token(why);
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    FoundCert out;
    int found = 0;
    for (TokenState *t : tokens) {
        std::vector<CK_ATTRIBUTE> tmpl;
        for (const CK_ATTRIBUTE &a : uri.object_template())
            if (a.type != CKA_CLASS) tmpl.push_back(a);
        tmpl.push_back({CKA_CLASS, &cls, sizeof cls});
        PooledSession s(t);
        for (CK_OBJECT_HANDLE h : find_objects(t->module(), s.get(), tmpl, 2)) {
            if (++found > 1) fail(P11TLS_E_AMBIGUOUS, "the URI matches more than one certificate");
            out.der = get_attribute(t->module(), s.get(), h, CKA_VALUE);
            out.token = t;
        }
    }
    if (!found) fail(P11TLS_E_NOT_FOUND, "no certificate matches the URI");
    if (out.der.empty()) fail(P11TLS_E_DEVICE, "certificate has no CKA_VALUE");
    return out;
}

// More certificates than this on one token is not a chain but a store; the
// rest are not read.
constexpr size_t kMaxCertsBeside = 256;

}  // namespace

std::vector<unsigned char> cert_der(const CtxState &ctx, const char *uri) {
    return find_cert(ctx, uri).der;
}

std::vector<std::vector<unsigned char>> certs_beside(const CtxState &ctx, const char *uri) {
    FoundCert c = find_cert(ctx, uri);
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof cls}};
    std::vector<std::vector<unsigned char>> out = {c.der};
    PooledSession s(c.token);
    for (CK_OBJECT_HANDLE h : find_objects(c.token->module(), s.get(), tmpl, kMaxCertsBeside)) {
        auto der = get_attribute(c.token->module(), s.get(), h, CKA_VALUE);
        if (!der.empty() && der != c.der) out.push_back(std::move(der));
    }
    return out;
}

}  // namespace p11tls

