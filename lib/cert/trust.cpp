// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Trust objects on tokens: which certificates are anchors (and the
// extensions stapled to them), which are distrusted. The vendor constants
// come from p11-kit's pkcs11x.h; the trust assertion ones are not in its
// installed header (0.24) and are defined here as p11-kit's trust module
// uses them.
#include "cert/trust.hpp"

#include <cstring>
#include <map>
#include <set>
#include <utility>

#include <p11-kit/pkcs11x.h>

#include "base/error.hpp"
#include "cert/cert.hpp"
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

// A sequence without duplicates that keeps the order of first insertion:
// anchors go to GnuTLS in the tokens' order (trust.hpp).
template <typename T>
class Ordered {
public:
    void add(const T &v) {
        if (seen_.insert(v).second) order_.push_back(v);
    }
    bool has(const T &v) const { return seen_.count(v) != 0; }
    const std::vector<T> &items() const { return order_; }

private:
    std::set<T> seen_;
    std::vector<T> order_;
};

// One certificate with a value, as found.
struct Found {
    Der der, spki;
    IssuerSerial key;
    TokenState *token;
};

struct TokenTrust {
    std::vector<Found> certs;          // every certificate with a value, in token order
    Ordered<Der> anchors, distrusted;  // by value
    Ordered<IssuerSerial> anchor_keys, distrust_keys;
    // Stapled extensions by token and public key (CKA_PUBLIC_KEY_INFO).
    std::map<std::pair<TokenState *, Der>, std::vector<Der>> extensions;
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
                      CKA_SERIAL_NUMBER, CKA_X_DISTRUSTED, CKA_PUBLIC_KEY_INFO});
        const Der &der = a.get(CKA_VALUE);
        IssuerSerial key = {a.get(CKA_ISSUER), a.get(CKA_SERIAL_NUMBER)};
        const bool has_key = !key.first.empty() && !key.second.empty();
        // p11-kit's blocklist may name a certificate it does not hold: a
        // distrusted object with an issuer and a serial number only.
        if (is_true(a, CKA_X_DISTRUSTED)) {
            if (has_key) out.distrust_keys.add(key);
            if (!der.empty()) out.distrusted.add(der);
        }
        if (der.empty()) continue;
        out.certs.push_back({der, a.get(CKA_PUBLIC_KEY_INFO), has_key ? key : IssuerSerial(), t});
        CK_ULONG category = kCategoryUnspecified;
        a.scalar(CKA_CERTIFICATE_CATEGORY, &category);
        // A trusted certificate of a token user or another entity is no CA.
        if (is_true(a, CKA_TRUSTED) &&
            (category == kCategoryUnspecified || category == kCategoryAuthority))
            out.anchors.add(der);
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
        if (key.first.empty() || key.second.empty()) continue;
        if (trust == CKT_NSS_NOT_TRUSTED) out.distrust_keys.add(key);
        if (trust == CKT_NSS_TRUSTED_DELEGATOR) out.anchor_keys.add(key);
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
            out.anchors.add(a.get(CKA_X_CERTIFICATE_VALUE));
        if (type == CKT_X_DISTRUSTED_CERTIFICATE && !a.get(CKA_ISSUER).empty() &&
            !a.get(CKA_SERIAL_NUMBER).empty())
            out.distrust_keys.add({a.get(CKA_ISSUER), a.get(CKA_SERIAL_NUMBER)});
    }
}

// The extensions p11-kit staples to certificates, by public key: the
// values of the CKO_X_CERTIFICATE_EXTENSION objects (not narrowed by the
// URI's object attributes, which name certificates). Read whole: the
// objects of one public key come back in token order.
std::map<Der, std::vector<Der>> read_extensions(TokenState *t, CK_SESSION_HANDLE s) {
    static const CK_OBJECT_CLASS cls = CKO_X_CERTIFICATE_EXTENSION;
    std::map<Der, std::vector<Der>> out;
    const std::vector<CK_ATTRIBUTE> tmpl = {
        {CKA_CLASS, const_cast<CK_OBJECT_CLASS *>(&cls), sizeof cls}};
    for (CK_OBJECT_HANDLE h : find_objects(t->module(), s, tmpl, kMaxTrustObjects)) {
        Attributes a(t->module(), s, h, {CKA_CLASS, CKA_PUBLIC_KEY_INFO, CKA_VALUE});
        if (!a.get(CKA_PUBLIC_KEY_INFO).empty() && !a.get(CKA_VALUE).empty())
            out[a.get(CKA_PUBLIC_KEY_INFO)].push_back(a.get(CKA_VALUE));
    }
    return out;
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
        // A new session: p11-kit's trust module reads its files again only
        // for a session that has not searched yet.
        PooledSession s(t, NewSession{});
        read_certificates(t, s.get(), uri, all);
        read_nss_trust(t, s.get(), uri, all);
        read_assertions(t, s.get(), uri, all);
        for (auto &[spki, exts] : read_extensions(t, s.get()))
            all.extensions[{t, spki}] = std::move(exts);
    }
    // Anchors and distrust by issuer and serial number name the
    // certificates found with them.
    for (const Found &c : all.certs) {
        if (c.key.first.empty()) continue;
        if (all.distrust_keys.has(c.key)) all.distrusted.add(c.der);
        if (all.anchor_keys.has(c.key)) all.anchors.add(c.der);
    }
    // The anchors in the order the tokens list their certificates; anchors
    // known only by an assertion's value come after them.
    TrustObjects out;
    Ordered<Der> placed;
    auto place = [&](const Der &der, const Found *c) {
        if (!all.anchors.has(der) || all.distrusted.has(der) || placed.has(der)) return;
        if (c && all.distrust_keys.has(c->key)) return;
        placed.add(der);
        Anchor a{der, {}};
        if (c && !c->spki.empty()) {
            auto it = all.extensions.find({c->token, c->spki});
            if (it != all.extensions.end()) a.extensions = it->second;
        }
        out.anchors.push_back(std::move(a));
    };
    for (const Found &c : all.certs) place(c.der, &c);
    for (const Der &d : all.anchors.items()) place(d, nullptr);
    out.distrusted = all.distrusted.items();
    out.distrusted_serials = all.distrust_keys.items();
    Ordered<Der> certs;
    for (const Found &c : all.certs) certs.add(c.der);
    out.certificates = certs.items();
    return out;
}

Anchor cert_with_stapled_extensions(TokenCert c) {
    Anchor out{std::move(c.der), {}};
    if (c.spki.empty()) return out;
    static const CK_OBJECT_CLASS cls = CKO_X_CERTIFICATE_EXTENSION;
    const std::vector<CK_ATTRIBUTE> tmpl = {
        {CKA_CLASS, const_cast<CK_OBJECT_CLASS *>(&cls), sizeof cls},
        {CKA_PUBLIC_KEY_INFO, c.spki.data(), (CK_ULONG)c.spki.size()}};
    PooledSession s(c.token);
    for (CK_OBJECT_HANDLE h : find_objects(c.token->module(), s.get(), tmpl, 64)) {
        Der ext = get_attribute(c.token->module(), s.get(), h, CKA_VALUE);
        if (!ext.empty()) out.extensions.push_back(std::move(ext));
    }
    return out;
}

}  // namespace p11tls
