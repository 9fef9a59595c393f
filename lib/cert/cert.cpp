// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Certificates by URI: the one a URI names; when several match, which
// they are, and (if asked) the current one of a renewal.
#include "cert/cert.hpp"

#include <ctime>

#include "base/error.hpp"
#include "base/log.hpp"
#include "cert/pick.hpp"
#include "uri/uri.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/search.hpp"
#include "world/matching.hpp"
#include "world/object_index.hpp"
#include "world/pooled_session.hpp"

namespace p11tls {

namespace {

// A certificate object's value and public key info, in one read.
TokenCert read_cert(TokenState *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h) {
    Attributes a(t->module(), s, h, {CKA_VALUE, CKA_PUBLIC_KEY_INFO});
    return {t, a.get(CKA_VALUE), a.get(CKA_PUBLIC_KEY_INFO)};
}

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

// More certificates than this matching one URI are not read one by one
// (to tell them apart, or to pick the current one): the URI is refused as
// ambiguous, saying so.
constexpr size_t kMaxMatches = 16;

// The search one URI makes on each of its tokens.
class CertSearch {
public:
    CertSearch(const CtxState &ctx, const char *uri_text) : ctx_(ctx), uri_(Uri::parse(uri_text)) {
        if (uri_.has_class() && uri_.object_class() != CKO_CERTIFICATE)
            fail(P11TLS_E_INVALID_ARGUMENT, "URI names an object type other than a certificate");
        std::string why;
        tokens_ = matching_tokens(ctx, uri_, &why);
        if (tokens_.empty()) fail_no_token(why);
        for (const CK_ATTRIBUTE &a : uri_.object_template())
            if (a.type != CKA_CLASS) tmpl_.push_back(a);
        name_ = name_of(tmpl_, label_, id_);
        name_.any_class = false;
        name_.cls = cls_;
        tmpl_.push_back({CKA_CLASS, &cls_, sizeof cls_});
    }
    CertSearch(const CertSearch &) = delete;
    CertSearch &operator=(const CertSearch &) = delete;

    // Up to two matches (two is ambiguous), through the index where it has
    // them.
    std::vector<TokenCert> first_two() {
        std::vector<TokenCert> out;
        for (TokenState *t : tokens_) {
            std::shared_ptr<ObjectIndex> idx = t->object_index(true);
            PooledSession s(t);
            std::vector<CK_OBJECT_HANDLE> handles;
            if (!idx || !certs_indexed(t, *idx, s.get(), name_, handles)) {
                handles = find_objects(t->module(), s.get(), tmpl_, 2);
                if (idx) tell_index(t, *idx, s.get(), name_, handles);
            }
            for (CK_OBJECT_HANDLE h : handles) {
                out.push_back(read_cert(t, s.get(), h));
                if (out.size() == 2) return out;
            }
        }
        return out;
    }

    // Every match, by a real search (up to kMaxMatches + 1).
    std::vector<TokenCert> all() {
        std::vector<TokenCert> out;
        for (TokenState *t : tokens_) {
            PooledSession s(t);
            for (CK_OBJECT_HANDLE h : find_objects(t->module(), s.get(), tmpl_, kMaxMatches + 1 - out.size())) {
                out.push_back(read_cert(t, s.get(), h));
                if (out.size() > kMaxMatches) return out;
            }
        }
        return out;
    }

    // Logs in to the one token the URI names, to see private certificates.
    // A PIN goes only to a token the URI names alone.
    void login() {
        if (tokens_.size() > 1) {
            std::string names;
            for (size_t i = 0; i < tokens_.size(); ++i) names += (i ? ", '" : "'") + tokens_[i]->label() + "'";
            fail(P11TLS_E_AMBIGUOUS, "no certificate matches the URI without a login, and it names " +
                                         std::to_string(tokens_.size()) + " tokens (" + names +
                                         "): a PIN is not tried on each; add token= to log in to one");
        }
        tokens_[0]->ensure_login(ctx_, &uri_);
    }

private:
    const CtxState &ctx_;
    Uri uri_;
    std::vector<TokenState *> tokens_;
    CK_OBJECT_CLASS cls_ = CKO_CERTIFICATE;
    std::vector<CK_ATTRIBUTE> tmpl_;
    std::vector<unsigned char> label_, id_;
    ObjectIndex::Name name_;
};

// Several certificates match: the current one of a renewal if asked and
// they certify one key, else P11TLS_E_AMBIGUOUS saying which they are.
TokenCert one_of(std::vector<TokenCert> matches, unsigned flags) {
    const time_t now = time(nullptr);
    std::vector<CertFacts> facts;
    for (const TokenCert &c : matches) facts.push_back(cert_facts(c.der));
    const bool too_many = matches.size() > kMaxMatches;
    if ((flags & P11TLS_CERT_NEWEST) && !too_many && one_key(facts)) {
        const size_t i = pick_current(facts, now);
        debug("%zu certificates of one key match the URI; using %s", matches.size(),
              describe_cert(facts[i], now).c_str());
        return std::move(matches[i]);
    }
    std::string detail = "the URI matches more than one certificate (";
    if (too_many) detail += "more than " + std::to_string(kMaxMatches) + ")";
    else detail += std::to_string(matches.size()) + (one_key(facts) ? ", of one key)" : ", of different keys)");
    for (size_t i = 0; i < facts.size() && i < kMaxMatches; ++i)
        detail += (i ? "; " : ": ") + describe_cert(facts[i], now) + " on token " + matches[i].token->label();
    fail(P11TLS_E_AMBIGUOUS, detail);
}

}  // namespace

TokenCert find_cert(const CtxState &ctx, const char *uri_text, unsigned flags) {
    CertSearch search(ctx, uri_text);
    std::vector<TokenCert> found = search.first_two();
    if (found.empty() && (flags & P11TLS_CERT_LOGIN)) {
        search.login();
        found = search.all();
    }
    if (found.empty())
        fail(P11TLS_E_NOT_FOUND, std::string("no certificate matches the URI") +
                                     (flags & P11TLS_CERT_LOGIN ? "" : " (private ones are seen after a login)"));
    if (found.size() > 1) return one_of(search.all(), flags);
    if (found[0].der.empty()) fail(P11TLS_E_DEVICE, "certificate has no CKA_VALUE");
    return std::move(found[0]);
}

std::vector<unsigned char> cert_der(const CtxState &ctx, const char *uri, unsigned flags) {
    return find_cert(ctx, uri, flags).der;
}

}  // namespace p11tls
