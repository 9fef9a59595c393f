// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Writing a certificate: the attributes PKCS#11 expects, read from the
// certificate by GnuTLS, and the ID of the key pair it certifies, so that
// a URI by ID names the key and its certificate together. Its label (and
// value) checked free before and after writing it.
#include <cstring>
#include <iterator>

#include <gnutls/x509.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/pkcs11x.h>

#include "base/error.hpp"
#include "base/log.hpp"
#include "cert/chain.hpp"
#include "key/pubkey.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/ckrv.hpp"
#include "pkcs11/search.hpp"
#include "provision/lock.hpp"
#include "provision/provision.hpp"
#include "provision/template.hpp"
#include "provision/token.hpp"
#include "uri/uri.hpp"
#include "world/pooled_session.hpp"

namespace p11tls {

namespace {

std::vector<unsigned char> take(gnutls_datum_t &d) {
    std::vector<unsigned char> v(d.data, d.data + d.size);
    gnutls_free(d.data);
    return v;
}

// What the certificate object's attributes need, from the DER.
struct CertFields {
    std::vector<unsigned char> subject, issuer, serial;  // DER each
    std::string common_name;
    bool is_ca = false;
};

CertFields read_fields(const std::vector<unsigned char> &der) {
    CrtList crt;
    int rc = crt.add(der);
    if (rc < 0) fail(P11TLS_E_INVALID_ARGUMENT, std::string("not an X.509 certificate: ") + gnutls_strerror(rc));
    gnutls_x509_crt_t raw = crt[0];
    CertFields f;
    gnutls_datum_t dn = {nullptr, 0};
    if (gnutls_x509_crt_get_raw_dn(raw, &dn) < 0) fail(P11TLS_E_INVALID_ARGUMENT, "certificate without a subject");
    f.subject = take(dn);
    if (gnutls_x509_crt_get_raw_issuer_dn(raw, &dn) < 0)
        fail(P11TLS_E_INVALID_ARGUMENT, "certificate without an issuer");
    f.issuer = take(dn);
    // CKA_SERIAL_NUMBER is the DER INTEGER; GnuTLS gives its content octets.
    unsigned char serial[64];
    size_t n = sizeof serial;
    if (gnutls_x509_crt_get_serial(raw, serial, &n) < 0 || n == 0 || n > 127)
        fail(P11TLS_E_INVALID_ARGUMENT, "certificate serial number unreadable or longer than 127 bytes");
    f.serial = {0x02, (unsigned char)n};
    f.serial.insert(f.serial.end(), serial, serial + n);
    char cn[256];
    size_t cn_len = sizeof cn;
    if (gnutls_x509_crt_get_dn_by_oid(raw, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len) >= 0)
        f.common_name.assign(cn, strnlen(cn, sizeof cn));
    unsigned ca = 0;
    f.is_ca = gnutls_x509_crt_get_basic_constraints(raw, nullptr, &ca, nullptr) >= 0 && ca;
    return f;
}

// More private keys than this on one token: refused rather than the
// certificate written with an ID that is not its key's (a key beyond a
// limit was missed silently: only the first 256 were compared).
constexpr size_t kMaxKeys = 100000;

// The ID of the private key on the token whose public key is spki; empty
// if there is none (an issuer's certificate) or it has no ID.
std::vector<unsigned char> id_of_key_for(TokenState *t, const RwSession &s, const std::vector<unsigned char> &spki) {
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
    std::vector<CK_ATTRIBUTE_TYPE> types = {CKA_CLASS};
    types.insert(types.end(), std::begin(kPublicKeyAttributes), std::end(kPublicKeyAttributes));
    auto keys = find_objects(s.module(), s.get(), {{CKA_CLASS, &priv, sizeof priv}}, kMaxKeys + 1);
    if (keys.size() > kMaxKeys)
        fail(P11TLS_E_UNSUPPORTED, "token " + t->label() + " has more than " + std::to_string(kMaxKeys) +
                                       " private keys; not looking for the certificate's among part of them");
    for (CK_OBJECT_HANDLE h : keys) {
        Attributes a(s.module(), s.get(), h, types);
        try {
            if (read_public_key(t, s.get(), a).spki == spki) return a.get(CKA_ID);
        } catch (const Error &) {  // a key whose public half is unknown certifies nothing here
        }
    }
    return {};
}

constexpr unsigned kTrustMarks = P11TLS_CERT_WRITE_TRUSTED | P11TLS_CERT_WRITE_DISTRUSTED;

// The URI of certificate h on t.
std::string uri_of(TokenState *t, const Attributes &a) {
    const auto &label = a.get(CKA_LABEL);
    return format_object_uri(t->info(), CKO_CERTIFICATE, std::string(label.begin(), label.end()),
                             a.get(CKA_ID));
}

// Whether certificate h has the trust marks already; its URI in *uri.
bool has_marks(TokenState *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, unsigned trust, std::string *uri) {
    Attributes a(t->module(), s, h,
                 {CKA_CLASS, CKA_LABEL, CKA_ID, CKA_TRUSTED, CKA_X_DISTRUSTED, CKA_CERTIFICATE_CATEGORY});
    auto is_true = [&](CK_ATTRIBUTE_TYPE type) {
        CK_BBOOL b = CK_FALSE;
        return a.scalar(type, &b) && b == CK_TRUE;
    };
    CK_ULONG category = 0;
    a.scalar(CKA_CERTIFICATE_CATEGORY, &category);
    if ((trust & P11TLS_CERT_WRITE_TRUSTED) && !is_true(CKA_TRUSTED)) return false;
    if ((trust & P11TLS_CERT_WRITE_DISTRUSTED) && !is_true(CKA_X_DISTRUSTED)) return false;
    if ((trust & P11TLS_CERT_WRITE_CA) && category != 2) return false;
    *uri = uri_of(t, a);
    log_info("token %s: the certificate is there, marked already", t->label().c_str());
    return true;
}

// Sets the trust marks on certificate h; false if the token will not change
// them there (read-only objects, such as p11-kit's from its files). Its
// URI in *uri.
bool mark_existing(TokenState *t, const RwSession &s, CK_OBJECT_HANDLE h, unsigned trust,
                   std::string *uri) {
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG authority = 2;
    std::vector<CK_ATTRIBUTE> marks;
    if (trust & P11TLS_CERT_WRITE_TRUSTED) marks.push_back({CKA_TRUSTED, &yes, sizeof yes});
    if (trust & P11TLS_CERT_WRITE_DISTRUSTED) marks.push_back({CKA_X_DISTRUSTED, &yes, sizeof yes});
    if (trust & P11TLS_CERT_WRITE_CA) marks.push_back({CKA_CERTIFICATE_CATEGORY, &authority, sizeof authority});
    CK_RV rv = P11CALL(s.module(), C_SetAttributeValue, s.get(), h, marks.data(), (CK_ULONG)marks.size());
    if (rv != CKR_OK) {
        debug("token %s: the certificate there cannot be marked in place (%s); writing a marked copy",
              t->label().c_str(), ckr_name(rv));
        return false;
    }
    *uri = uri_of(t, Attributes(s.module(), s.get(), h, {CKA_CLASS, CKA_LABEL, CKA_ID}));
    log_info("token %s: the certificate there marked %s", t->label().c_str(),
             (trust & P11TLS_CERT_WRITE_TRUSTED) ? "trusted" : "distrusted");
    return true;
}

}  // namespace

std::string write_cert(const CtxState &ctx, const char *token_uri, const std::vector<unsigned char> &der,
                       const char *label_in, const std::vector<unsigned char> &want_id, bool skip_existing,
                       unsigned trust) {
    const CertFields f = read_fields(der);
    const std::vector<unsigned char> spki = public_key_of_cert(der).spki;
    std::string label = label_in ? label_in : f.common_name;
    if (label.empty()) fail(P11TLS_E_INVALID_ARGUMENT, "no label given and the certificate has no common name");

    Uri uri = Uri::parse(token_uri);
    TokenState *t = one_token(ctx, uri, "writing a certificate");
    check_writable(*t, t->info_now());
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    const std::vector<CK_ATTRIBUTE> same_value = {{CKA_CLASS, &cls, sizeof cls},
                                                  {CKA_VALUE, (void *)der.data(), (CK_ULONG)der.size()}};
    // Marked so already: nothing to write, and no login (certificates are
    // public objects).
    if (trust & kTrustMarks) {
        PooledSession ro(t);
        std::string marked;
        for (CK_OBJECT_HANDLE h : find_objects(t->module(), ro.get(), same_value, 8))
            if (has_marks(t, ro.get(), h, trust, &marked)) return marked;
    }
    // CKA_TRUSTED is the Security Officer's to set (PKCS#11 2.40 4.6.3):
    // an SO login on this session, ended on the way out; else the user's.
    const bool so = (trust & P11TLS_CERT_WRITE_TRUSTED) && (t->info().flags & CKF_LOGIN_REQUIRED);
    if (!so) t->ensure_login(ctx, &uri);
    RwSession s(t);
    struct SoLogin {
        TokenState *t = nullptr;
        CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
        ~SoLogin() {
            if (t) t->so_logout(h);
        }
    } so_login;
    if (so) {
        t->so_login(ctx, s.get());
        so_login.t = t;
        so_login.h = s.get();
    }
    ProvisionLock lock(*t);  // no other p11tls here passes the checks below before this is written

    const std::vector<CK_OBJECT_HANDLE> existing = find_objects(s.module(), s.get(), same_value, 1);
    if (!existing.empty()) {
        if (!(trust & kTrustMarks)) {
            if (skip_existing) return "";
            fail(P11TLS_E_EXISTS, "token " + t->label() + " already has this certificate");
        }
        // The certificate there already, to be marked: marked in place
        // where the token lets it change (SoftHSM does not: then a marked
        // copy is written).
        std::string marked;
        if (mark_existing(t, s, existing[0], trust, &marked)) return marked;
    }
    // A certificate shares its label with its key pair, never with another
    // certificate.
    if (any_object(s, {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label.data(), (CK_ULONG)label.size()}}))
        fail(P11TLS_E_EXISTS, "token " + t->label() + " already has a certificate labelled '" + label + "'");

    std::vector<unsigned char> id = want_id;
    bool has_key = false;
    if (id.empty()) {
        id = id_of_key_for(t, s, spki);
        has_key = !id.empty();
    }
    // No key pair on the token: the ID GnuTLS would give it (SHA-1 of the
    // public key), so that a key written later can take the same one.
    if (id.empty()) id = key_id_of_spki(spki);

    CK_CERTIFICATE_TYPE type = CKC_X_509;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    std::vector<CK_ATTRIBUTE> tmpl = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_CERTIFICATE_TYPE, &type, sizeof type},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &no, sizeof no},
        {CKA_LABEL, (void *)label.data(), (CK_ULONG)label.size()},
        {CKA_ID, id.data(), (CK_ULONG)id.size()},
        {CKA_SUBJECT, (void *)f.subject.data(), (CK_ULONG)f.subject.size()},
        {CKA_ISSUER, (void *)f.issuer.data(), (CK_ULONG)f.issuer.size()},
        {CKA_SERIAL_NUMBER, (void *)f.serial.data(), (CK_ULONG)f.serial.size()},
        {CKA_VALUE, (void *)der.data(), (CK_ULONG)der.size()},
    };
    if (trust & P11TLS_CERT_WRITE_TRUSTED) tmpl.push_back({CKA_TRUSTED, &yes, sizeof yes});
    if (trust & P11TLS_CERT_WRITE_DISTRUSTED) tmpl.push_back({CKA_X_DISTRUSTED, &yes, sizeof yes});
    // PKCS#11 categories: 1 token user (its key is here), 2 authority; 0,
    // unspecified, is the default and not sent. Optional (template.hpp):
    // opencryptoki 3.8 refuses the attribute (CKR_ATTRIBUTE_TYPE_INVALID).
    CK_ULONG category = f.is_ca || (trust & P11TLS_CERT_WRITE_CA) ? 2 : has_key ? 1 : 0;
    std::vector<OptionalAttribute> optional;
    if (category) optional.push_back({0, {CKA_CERTIFICATE_CATEGORY, &category, sizeof category}});
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = call_with_optional(s.module(), "C_CreateObject(certificate)", {tmpl}, optional,
                                  [&](std::vector<std::vector<CK_ATTRIBUTE>> &t) {
                                      return P11CALL(s.module(), C_CreateObject, s.get(), t[0].data(),
                                                     (CK_ULONG)t[0].size(), &h);
                                  });
    if ((trust & P11TLS_CERT_WRITE_DISTRUSTED) &&
        (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_TEMPLATE_INCONSISTENT ||
         rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_ATTRIBUTE_READ_ONLY))
        fail(P11TLS_E_UNSUPPORTED, "token " + t->label() + " cannot mark a certificate distrusted " +
                                       "(CKA_X_DISTRUSTED, p11-kit's trust module can): " + ckr_name(rv));
    if (rv != CKR_OK) fail_ckr(s.module(), "C_CreateObject(certificate)", rv);
    // Checked again now that it is there: another process may have passed
    // the checks above at the same time (a token has no "create if
    // absent"). Then this one goes, and the call fails, or (the same
    // certificate, skip_existing) is the "already there" it would have been.
    // A marked copy of a certificate already there (above) has its twin
    // by design.
    const bool same = existing.empty() && other_object(s, same_value, {h});
    if (same || other_object(s, {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label.data(), (CK_ULONG)label.size()}},
                             {h})) {
        const Removal removed = remove_created(s, *t, label, {{h, "certificate"}});
        if (same && skip_existing && removed.complete) return "";
        fail(P11TLS_E_EXISTS,
             std::string(same ? "the same certificate" : "another certificate labelled '" + label + "'") +
                 " appeared on token " + t->label() + " while this one was written (another import at the same time?); " +
                 removed.detail);
    }
    log_info("token %s: certificate '%s' written%s", t->label().c_str(), label.c_str(),
             (trust & P11TLS_CERT_WRITE_TRUSTED)      ? " as trusted"
             : (trust & P11TLS_CERT_WRITE_DISTRUSTED) ? " as distrusted"
                                                      : "");
    return format_object_uri(t->info(), CKO_CERTIFICATE, label, id);
}

}  // namespace p11tls
