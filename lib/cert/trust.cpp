// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Trust objects on tokens: which certificates are anchors, which are
// distrusted. The vendor constants come from p11-kit's pkcs11x.h; the trust
// assertion ones are not in its installed header (0.24) and are defined
// here as p11-kit's trust module uses them.
#include "cert/trust.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include <p11-kit/pkcs11x.h>

#include "base/error.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/search.hpp"
#include "uri/uri.hpp"
#include "world/matching.hpp"
#include "world/pooled_session.hpp"

#ifndef CKO_X_TRUST_ASSERTION
#define CKO_X_TRUST_ASSERTION (CKO_X_VENDOR + 100)
#define CKA_X_ASSERTION_TYPE (CKA_X_VENDOR + 1)
#define CKA_X_CERTIFICATE_VALUE (CKA_X_VENDOR + 2)
#define CKA_X_PURPOSE (CKA_X_VENDOR + 3)
#define CKT_X_DISTRUSTED_CERTIFICATE 1UL
#define CKT_X_ANCHORED_CERTIFICATE 3UL
#endif

namespace p11tls {

namespace {

// A store is read whole; more objects of one kind than this on one token is
// a token that lies about the end of its search.
constexpr size_t kMaxTrustObjects = 1u << 17;
constexpr char kServerAuthOid[] = "1.3.6.1.5.5.7.3.1";
constexpr CK_ULONG kCategoryUnspecified = 0, kCategoryAuthority = 2;

// Distrust and NSS trust name a certificate by issuer and serial number.
using IssuerSerial = std::pair<Der, Der>;

struct TokenTrust {
    std::set<Der> anchors, distrusted, certificates;
    std::set<IssuerSerial> anchor_keys, distrust_keys;
    std::vector<std::pair<IssuerSerial, Der>> by_issuer_serial;
};

bool is_true(const Attributes &a, CK_ATTRIBUTE_TYPE t) {
    CK_BBOOL b = CK_FALSE;
    return a.scalar(t, &b) && b == CK_TRUE;
}

std::vector<CK_ATTRIBUTE> with_class(const Uri &uri, const CK_OBJECT_CLASS *cls) {
    std::vector<CK_ATTRIBUTE> tmpl;
    for (const CK_ATTRIBUTE &a : uri.object_template())
        if (a.type != CKA_CLASS) tmpl.push_back(a);
    tmpl.push_back({CKA_CLASS, const_cast<CK_OBJECT_CLASS *>(cls), sizeof *cls});
    return tmpl;
}

void read_certificates(TokenState *t, CK_SESSION_HANDLE s, const Uri &uri, TokenTrust &out) {
    static const CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE x509 = CKC_X_509;
    auto tmpl = with_class(uri, &cls);
    tmpl.push_back({CKA_CERTIFICATE_TYPE, &x509, sizeof x509});
    for (CK_OBJECT_HANDLE h : find_objects(t->module(), s, tmpl, kMaxTrustObjects)) {
        // One batch, though a module may not know CKA_X_DISTRUSTED (SoftHSM):
        // Attributes still reads the values larger than their room.
        Attributes a(t->module(), s, h,
                     {CKA_CLASS, CKA_VALUE, CKA_TRUSTED, CKA_CERTIFICATE_CATEGORY, CKA_ISSUER,
                      CKA_SERIAL_NUMBER, CKA_X_DISTRUSTED});
        const Der &der = a.get(CKA_VALUE);
        if (der.empty()) continue;
        out.certificates.insert(der);
        CK_ULONG category = kCategoryUnspecified;
        a.scalar(CKA_CERTIFICATE_CATEGORY, &category);
        // A trusted certificate of a token user or another entity is no CA.
        if (is_true(a, CKA_TRUSTED) &&
            (category == kCategoryUnspecified || category == kCategoryAuthority))
            out.anchors.insert(der);
        if (is_true(a, CKA_X_DISTRUSTED)) out.distrusted.insert(der);
        if (!a.get(CKA_ISSUER).empty() && !a.get(CKA_SERIAL_NUMBER).empty())
            out.by_issuer_serial.push_back({{a.get(CKA_ISSUER), a.get(CKA_SERIAL_NUMBER)}, der});
    }
}

// NSS trust objects: server-auth trust of the certificate with that issuer
// and serial number.
void read_nss_trust(TokenState *t, CK_SESSION_HANDLE s, const Uri &uri, TokenTrust &out) {
    static const CK_OBJECT_CLASS cls = CKO_NSS_TRUST;
    for (CK_OBJECT_HANDLE h :
         find_objects(t->module(), s, with_class(uri, &cls), kMaxTrustObjects)) {
        Attributes a(t->module(), s, h,
                     {CKA_CLASS, CKA_TRUST_SERVER_AUTH, CKA_ISSUER, CKA_SERIAL_NUMBER});
        CK_ULONG trust = 0;
        if (!a.scalar(CKA_TRUST_SERVER_AUTH, &trust)) continue;
        IssuerSerial key = {a.get(CKA_ISSUER), a.get(CKA_SERIAL_NUMBER)};
        if (trust == CKT_NSS_NOT_TRUSTED) out.distrust_keys.insert(key);
        if (trust == CKT_NSS_TRUSTED_DELEGATOR) out.anchor_keys.insert(key);
    }
}

// p11-kit trust assertions: an anchored certificate (with its value) for
// server auth, or a distrusted one (by issuer and serial number).
void read_assertions(TokenState *t, CK_SESSION_HANDLE s, const Uri &uri, TokenTrust &out) {
    static const CK_OBJECT_CLASS cls = CKO_X_TRUST_ASSERTION;
    for (CK_OBJECT_HANDLE h :
         find_objects(t->module(), s, with_class(uri, &cls), kMaxTrustObjects)) {
        // Anchored and distrusted assertions hold different attributes (the
        // certificate's value, or its issuer and serial number): one batch,
        // whose missing ones are absent.
        Attributes a(t->module(), s, h,
                     {CKA_CLASS, CKA_X_ASSERTION_TYPE, CKA_X_PURPOSE, CKA_X_CERTIFICATE_VALUE,
                      CKA_ISSUER, CKA_SERIAL_NUMBER});
        CK_ULONG type = 0;
        if (!a.scalar(CKA_X_ASSERTION_TYPE, &type)) continue;
        const Der &purpose = a.get(CKA_X_PURPOSE);
        if (type == CKT_X_ANCHORED_CERTIFICATE && purpose.size() == strlen(kServerAuthOid) &&
            memcmp(purpose.data(), kServerAuthOid, purpose.size()) == 0 &&
            !a.get(CKA_X_CERTIFICATE_VALUE).empty())
            out.anchors.insert(a.get(CKA_X_CERTIFICATE_VALUE));
        if (type == CKT_X_DISTRUSTED_CERTIFICATE)
            out.distrust_keys.insert({a.get(CKA_ISSUER), a.get(CKA_SERIAL_NUMBER)});
    }
}

std::vector<TokenState *> tokens_of(const CtxState &ctx, const Uri &uri) {
    if (uri.has_class() && uri.object_class() != CKO_CERTIFICATE)
        fail(P11TLS_E_INVALID_ARGUMENT, "a trust URI names certificates (type=cert) or tokens");
    std::string why;
    auto tokens = matching_tokens(ctx, uri, &why);
    if (tokens.empty()) fail_no_token(why);
    return tokens;
}

}  // namespace

TrustObjects read_trust(const CtxState &ctx, const char *uri_text) {
    Uri uri = Uri::parse(uri_text);
    TokenTrust all;
    for (TokenState *t : tokens_of(ctx, uri)) {
        PooledSession s(t);
        read_certificates(t, s.get(), uri, all);
        read_nss_trust(t, s.get(), uri, all);
        read_assertions(t, s.get(), uri, all);
    }
    for (const auto &[key, der] : all.by_issuer_serial) {
        if (all.distrust_keys.count(key)) all.distrusted.insert(der);
        if (all.anchor_keys.count(key)) all.anchors.insert(der);
    }
    TrustObjects out;
    for (const Der &d : all.anchors)
        if (!all.distrusted.count(d)) out.anchors.push_back(d);
    out.distrusted.assign(all.distrusted.begin(), all.distrusted.end());
    out.certificates.assign(all.certificates.begin(), all.certificates.end());
    return out;
}

std::vector<Der> certs_with_subject(const CtxState &ctx, const char *uri_text, const Der &subject) {
    Uri uri = Uri::parse(uri_text);
    static const CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    std::vector<Der> out;
    for (TokenState *t : tokens_of(ctx, uri)) {
        auto tmpl = with_class(uri, &cls);
        tmpl.push_back({CKA_SUBJECT, const_cast<unsigned char *>(subject.data()),
                        (CK_ULONG)subject.size()});
        PooledSession s(t);
        for (CK_OBJECT_HANDLE h : find_objects(t->module(), s.get(), tmpl, 64)) {
            Der der = get_attribute(t->module(), s.get(), h, CKA_VALUE);
            if (!der.empty()) out.push_back(std::move(der));
        }
    }
    return out;
}

}  // namespace p11tls
