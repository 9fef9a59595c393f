// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Certificates where one is wanted (issue 24, items 4 and 7), with
// certificates made here by GnuTLS and put on the token as session objects
// (tests/support/raw_token.hpp; gone when the test ends):
//  - a chain's issuers are found by subject, whatever the number of other
//    certificates on the token (600 here: only the first 256 were read);
//  - an old and a renewed certificate of one key under one URI: named when
//    one certificate is asked for, and the one valid now, newest, taken
//    with P11TLS_CERT_NEWEST and by p11tls_gnutls_certificate_set_key.
#include <gtest/gtest.h>

#include <ctime>
#include <string>
#include <vector>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <p11tls/gnutls.h>
#include <p11tls/p11tls.h>
#include <p11tls/provision.h>

#include "../support/helpers.hpp"
#include "../support/raw_token.hpp"

namespace {

using Der = std::vector<unsigned char>;
const time_t kDay = 86400;

std::string cert_uri(const std::string &label) { return "pkcs11:token=p11tls-test;object=" + label + ";type=cert"; }

// A certificate made here: its DER, its subject (DER), its key if it has
// one of its own (to sign others).
struct Made {
    Der der, subject;
    gnutls_x509_privkey_t key = nullptr;
    gnutls_x509_crt_t crt = nullptr;
    Made() = default;
    Made(const Made &) = delete;
    Made &operator=(const Made &) = delete;
    ~Made() {
        if (crt) gnutls_x509_crt_deinit(crt);
        if (key) gnutls_x509_privkey_deinit(key);
    }
};

// Issues a certificate named cn, serial, valid from nb to na: for
// subject_key (a public key) or a new P-256 key of its own, signed by
// issuer (nullptr: self-signed), a CA if ca.
void make(Made &out, const char *cn, unsigned char serial, time_t nb, time_t na, const Made *issuer,
          gnutls_pubkey_t subject_key = nullptr, bool ca = false) {
    int rc = gnutls_x509_crt_init(&out.crt);
    if (!subject_key) {
        if (rc >= 0) rc = gnutls_x509_privkey_init(&out.key);
        if (rc >= 0) rc = gnutls_x509_privkey_generate(out.key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
        if (rc >= 0) rc = gnutls_x509_crt_set_key(out.crt, out.key);
    } else if (rc >= 0) {
        rc = gnutls_x509_crt_set_pubkey(out.crt, subject_key);
    }
    if (rc >= 0) rc = gnutls_x509_crt_set_dn_by_oid(out.crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn));
    if (rc >= 0) rc = gnutls_x509_crt_set_serial(out.crt, &serial, 1);
    if (rc >= 0) rc = gnutls_x509_crt_set_version(out.crt, 3);
    if (rc >= 0) rc = gnutls_x509_crt_set_activation_time(out.crt, nb);
    if (rc >= 0) rc = gnutls_x509_crt_set_expiration_time(out.crt, na);
    if (rc >= 0) rc = gnutls_x509_crt_set_basic_constraints(out.crt, ca ? 1 : 0, -1);
    if (rc >= 0 && ca) rc = gnutls_x509_crt_set_key_usage(out.crt, GNUTLS_KEY_KEY_CERT_SIGN);
    if (rc >= 0)
        rc = issuer ? gnutls_x509_crt_sign2(out.crt, issuer->crt, issuer->key, GNUTLS_DIG_SHA256, 0)
                    : gnutls_x509_crt_sign2(out.crt, out.crt, out.key, GNUTLS_DIG_SHA256, 0);
    gnutls_datum_t d = {nullptr, 0};
    if (rc >= 0) rc = gnutls_x509_crt_export2(out.crt, GNUTLS_X509_FMT_DER, &d);
    if (rc >= 0) out.der.assign(d.data, d.data + d.size);
    gnutls_free(d.data);
    if (rc >= 0) rc = gnutls_x509_crt_get_raw_dn(out.crt, &d);
    if (rc >= 0) out.subject.assign(d.data, d.data + d.size);
    gnutls_free(d.data);
    ASSERT_GE(rc, 0) << gnutls_strerror(rc);
}

Der subject_of(const Der &der) {
    gnutls_x509_crt_t crt;
    gnutls_x509_crt_init(&crt);
    gnutls_datum_t d = {const_cast<unsigned char *>(der.data()), (unsigned)der.size()}, dn = {nullptr, 0};
    Der out;
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0 && gnutls_x509_crt_get_raw_dn(crt, &dn) >= 0)
        out.assign(dn.data, dn.data + dn.size);
    gnutls_free(dn.data);
    gnutls_x509_crt_deinit(crt);
    return out;
}

int collect(void *arg, const uint8_t *der, size_t len) {
    static_cast<std::vector<Der> *>(arg)->emplace_back(der, der + len);
    return 0;
}

// The DER p11tls gives for uri with flags, or what failed (rc, detail).
struct Got {
    int rc;
    Der der;
    std::string detail;
};
Got get(const std::string &uri, unsigned flags) {
    uint8_t *der = nullptr;
    size_t len = 0;
    Got g{p11tls_cert_get_der2(nullptr, uri.c_str(), flags, &der, &len), {}, p11tls_last_error_detail()};
    if (g.rc == 0) g.der.assign(der, der + len);
    p11tls_free(der);
    return g;
}

// The certificates p11tls_gnutls_certificate_set_key put into a
// credentials structure, leaf first; empty if it failed.
std::vector<Der> served(const std::string &cert, const std::string &key) {
    gnutls_certificate_credentials_t cred;
    gnutls_certificate_allocate_credentials(&cred);
    std::vector<Der> out;
    int rc = p11tls_gnutls_certificate_set_key(cred, nullptr, cert.c_str(), key.c_str());
    for (unsigned i = 0; rc >= 0; ++i) {
        gnutls_datum_t d = {nullptr, 0};
        if (gnutls_certificate_get_crt_raw(cred, 0, i, &d) < 0) break;
        out.emplace_back(d.data, d.data + d.size);
    }
    gnutls_certificate_free_credentials(cred);
    return out;
}

}  // namespace

TEST(CertChain, IssuersFoundAmongManyOtherCertificates) {
    REQUIRE_TOKEN();
    th::RawToken raw;
    ASSERT_TRUE(raw.ok());
    const time_t now = time(nullptr);
    th::Pubkey p256{th::cert_pubkey("p256")};
    ASSERT_NE(p256.k, nullptr);
    Made root, inter, leaf;
    make(root, "deep root", 1, now - kDay, now + 30 * kDay, nullptr, nullptr, true);
    make(inter, "deep intermediate", 2, now - kDay, now + 30 * kDay, &root, nullptr, true);
    make(leaf, "deep leaf", 3, now - kDay, now + 30 * kDay, &inter, p256.k);
    // 600 other certificates first: SoftHSM returns search results by
    // handle, so the issuers, made after them, come after them all.
    const Der other = th::cert_der("p384");
    const Der other_subject = subject_of(other);
    ASSERT_FALSE(other_subject.empty());
    for (int i = 0; i < 600; ++i)
        ASSERT_TRUE(raw.cert_object("other-" + std::to_string(i), "\xee", other, other_subject)) << i;
    ASSERT_TRUE(raw.cert_object("deep-root", "\xd3", root.der, root.subject));
    ASSERT_TRUE(raw.cert_object("deep-inter", "\xd2", inter.der, inter.subject));
    ASSERT_TRUE(raw.cert_object("deep-leaf", "\xd1", leaf.der, leaf.subject));

    std::vector<Der> chain;
    ASSERT_EQ(p11tls_cert_get_chain(nullptr, cert_uri("deep-leaf").c_str(), 0, collect, &chain), 0)
        << p11tls_last_error_detail();
    ASSERT_EQ(chain.size(), 3u) << "the issuers were left out";
    EXPECT_EQ(chain[0], leaf.der);
    EXPECT_EQ(chain[1], inter.der);
    EXPECT_EQ(chain[2], root.der);

    // What serve sends: the leaf and the intermediate (not the root).
    std::vector<Der> sent = served(cert_uri("deep-leaf"), th::key_uri("p256"));
    ASSERT_EQ(sent.size(), 2u) << p11tls_last_error_detail();
    EXPECT_EQ(sent[0], leaf.der);
    EXPECT_EQ(sent[1], inter.der);
}

TEST(CertChain, OfTwoIssuersWithOneNameTheOneWhoseKeySigned) {
    REQUIRE_TOKEN();
    th::RawToken raw;
    ASSERT_TRUE(raw.ok());
    const time_t now = time(nullptr);
    Made impostor, ca, leaf;
    // Same name, another key: found first by subject, but it did not sign.
    make(impostor, "twin ca", 1, now - kDay, now + 30 * kDay, nullptr, nullptr, true);
    make(ca, "twin ca", 2, now - kDay, now + 30 * kDay, nullptr, nullptr, true);
    make(leaf, "twin leaf", 3, now - kDay, now + 30 * kDay, &ca);
    ASSERT_TRUE(raw.cert_object("twin-impostor", "\xc3", impostor.der, impostor.subject));
    ASSERT_TRUE(raw.cert_object("twin-ca", "\xc2", ca.der, ca.subject));
    ASSERT_TRUE(raw.cert_object("twin-leaf", "\xc1", leaf.der, leaf.subject));
    std::vector<Der> chain;
    ASSERT_EQ(p11tls_cert_get_chain(nullptr, cert_uri("twin-leaf").c_str(), 0, collect, &chain), 0)
        << p11tls_last_error_detail();
    ASSERT_EQ(chain.size(), 2u);
    EXPECT_EQ(chain[1], ca.der);
}

TEST(CertPick, RenewalNamedOrTheCurrentOneTaken) {
    REQUIRE_TOKEN();
    th::RawToken raw;
    ASSERT_TRUE(raw.ok());
    const time_t now = time(nullptr);
    th::Pubkey p256{th::cert_pubkey("p256")}, p384{th::cert_pubkey("p384")};
    ASSERT_NE(p256.k, nullptr);
    Made ca, old_cert, renewed, future, older, other_key;
    make(ca, "pick ca", 9, now - 900 * kDay, now + 900 * kDay, nullptr, nullptr, true);
    make(old_cert, "pick", 0x11, now - 400 * kDay, now - 35 * kDay, &ca, p256.k);  // expired
    make(renewed, "pick", 0x12, now - kDay, now + 30 * kDay, &ca, p256.k);
    make(future, "pick", 0x13, now + 10 * kDay, now + 400 * kDay, &ca, p256.k);    // not yet valid
    make(older, "pick", 0x14, now - 800 * kDay, now - 500 * kDay, &ca, p256.k);    // expired earlier
    make(other_key, "pick", 0x15, now - kDay, now + 30 * kDay, &ca, p384.k);

    // An expired certificate and its renewal, one label and ID.
    ASSERT_TRUE(raw.cert_object("renew", "\xb1", old_cert.der, old_cert.subject));
    ASSERT_TRUE(raw.cert_object("renew", "\xb1", renewed.der, renewed.subject));
    Got g = get(cert_uri("renew"), 0);
    EXPECT_EQ(g.rc, P11TLS_E_AMBIGUOUS);
    EXPECT_NE(g.detail.find("of one key"), std::string::npos) << g.detail;
    EXPECT_NE(g.detail.find("serial 11, valid"), std::string::npos) << g.detail;
    EXPECT_NE(g.detail.find("(expired)"), std::string::npos) << g.detail;
    EXPECT_NE(g.detail.find("serial 12, valid"), std::string::npos) << g.detail;
    g = get(cert_uri("renew"), P11TLS_CERT_NEWEST);
    EXPECT_EQ(g.rc, 0) << g.detail;
    EXPECT_EQ(g.der, renewed.der);
    std::vector<Der> sent = served(cert_uri("renew"), th::key_uri("p256"));
    ASSERT_FALSE(sent.empty()) << p11tls_last_error_detail();
    EXPECT_EQ(sent[0], renewed.der);

    // Valid now beats newer: the renewal issued ahead of time waits.
    ASSERT_TRUE(raw.cert_object("ahead", "\xb2", future.der, future.subject));
    ASSERT_TRUE(raw.cert_object("ahead", "\xb2", renewed.der, renewed.subject));
    g = get(cert_uri("ahead"), P11TLS_CERT_NEWEST);
    EXPECT_EQ(g.der, renewed.der) << g.detail;

    // None valid now: the newest.
    ASSERT_TRUE(raw.cert_object("lapsed", "\xb3", old_cert.der, old_cert.subject));
    ASSERT_TRUE(raw.cert_object("lapsed", "\xb3", older.der, older.subject));
    g = get(cert_uri("lapsed"), P11TLS_CERT_NEWEST);
    EXPECT_EQ(g.der, old_cert.der) << g.detail;

    // Certificates of two keys: a real ambiguity, flag or not.
    ASSERT_TRUE(raw.cert_object("mixed", "\xb4", renewed.der, renewed.subject));
    ASSERT_TRUE(raw.cert_object("mixed", "\xb4", other_key.der, other_key.subject));
    g = get(cert_uri("mixed"), P11TLS_CERT_NEWEST);
    EXPECT_EQ(g.rc, P11TLS_E_AMBIGUOUS);
    EXPECT_NE(g.detail.find("of different keys"), std::string::npos) << g.detail;
    EXPECT_TRUE(served(cert_uri("mixed"), th::key_uri("p256")).empty());

    EXPECT_EQ(get(cert_uri("renew"), 0x100).rc, P11TLS_E_INVALID_ARGUMENT);
}

// p11tls_cert_write gives a certificate the ID of the key it certifies: that
// key is found among any number of others (only the first 256 private keys
// were compared; the certificate then got the SHA-1 of its public key).
TEST(CertWrite, FindsItsKeyAmongManyOthers) {
    REQUIRE_TOKEN();
    th::RawToken raw;
    ASSERT_TRUE(raw.ok());
    for (int i = 0; i < 300; ++i) {
        gnutls_pubkey_t k = raw.ec_pair("many-" + std::to_string(i), "\xee");
        ASSERT_NE(k, nullptr) << i;
        gnutls_pubkey_deinit(k);
    }
    th::Pubkey target{raw.ec_pair("many-target", "\x99")};
    ASSERT_NE(target.k, nullptr);
    const time_t now = time(nullptr);
    Made ca, cert;
    make(ca, "many ca", 1, now - kDay, now + 30 * kDay, nullptr, nullptr, true);
    make(cert, "many target", 2, now - kDay, now + 30 * kDay, &ca, target.k);
    char *uri = nullptr;
    const std::string token = "pkcs11:token=p11tls-test?pin-value=" + th::test_pin();
    ASSERT_EQ(p11tls_cert_write(nullptr, token.c_str(), cert.der.data(), cert.der.size(), "many-target-cert",
                                nullptr, 0, 0, &uri),
              0)
        << p11tls_last_error_detail();
    ASSERT_NE(uri, nullptr);
    EXPECT_NE(std::string(uri).find("id=%99;"), std::string::npos) << uri;
    p11tls_free(uri);
    EXPECT_EQ(p11tls_object_delete(nullptr, (cert_uri("many-target-cert") + "?pin-value=" + th::test_pin()).c_str(), 0),
              1);
}
