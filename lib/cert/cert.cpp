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
#include "world/object_index.hpp"
#include "world/pooled_session.hpp"

namespace p11tls {

namespace {


// What tells whether an object is still the one the index knew.
std::vector<CK_ATTRIBUTE_TYPE> name_types() { return {CKA_CLASS, CKA_LABEL, CKA_ID}; }

// The certificates on t the index knows under name (at most two: two is
// ambiguous), each read on the token and still what the index knew. False
// on a miss or a failed check (the failed entry is forgotten).
bool certs_indexed(TokenState *t, ObjectIndex &idx, CK_SESSION_HANDLE s, const ObjectIndex::Name &name,
                   std::vector<CK_OBJECT_HANDLE> &out) {
    const auto objects = idx.find(name);
    for (size_t i = 0; i < objects.size() && i < 2; ++i) {
        const ObjectIndex::Object &o = objects[i];
        bool same = false;
        try {
            same = still_names(o, Attributes(t->module(), s, o.handle, name_types()));
        } catch (const Error &) {  // e.g. CKR_OBJECT_HANDLE_INVALID: deleted
        }
        if (!same) {
            idx.forget(o.handle);
            return false;
        }
        out.push_back(o.handle);
    }
    return !out.empty();
}

// What a real search found under name, for the index.
void tell_index(TokenState *t, ObjectIndex &idx, CK_SESSION_HANDLE s, const ObjectIndex::Name &name,
                const std::vector<CK_OBJECT_HANDLE> &found) {
    std::vector<ObjectIndex::Object> seen;
    for (CK_OBJECT_HANDLE h : found) {
        Attributes a(t->module(), s, h, name_types());
        CK_OBJECT_CLASS cls;
        if (!a.scalar(CKA_CLASS, &cls)) return;
        seen.push_back({h, cls, a.get(CKA_LABEL), a.get(CKA_ID)});
    }
    idx.replace(name, seen);
}

}  // namespace

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
        std::vector<unsigned char> label, id;
        ObjectIndex::Name name = name_of(tmpl, label, id);
        name.any_class = false;
        name.cls = cls;
        tmpl.push_back({CKA_CLASS, &cls, sizeof cls});
        std::shared_ptr<ObjectIndex> idx = t->object_index(true);
        PooledSession s(t);
        std::vector<CK_OBJECT_HANDLE> handles;
        if (!idx || !certs_indexed(t, *idx, s.get(), name, handles)) {
            handles = find_objects(t->module(), s.get(), tmpl, 2);
            if (idx) tell_index(t, *idx, s.get(), name, handles);
        }
        for (CK_OBJECT_HANDLE h : handles) {
            if (++found > 1) fail(P11TLS_E_AMBIGUOUS, "the URI matches more than one certificate");
            Attributes a(t->module(), s.get(), h, {CKA_VALUE, CKA_PUBLIC_KEY_INFO});
            out.der = a.get(CKA_VALUE);
            out.spki = a.get(CKA_PUBLIC_KEY_INFO);
            out.token = t;
        }
    }
    if (!found) fail(P11TLS_E_NOT_FOUND, "no certificate matches the URI");
    if (out.der.empty()) fail(P11TLS_E_DEVICE, "certificate has no CKA_VALUE");
    return out;
}

namespace {

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

