// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The provisioning API on the SoftHSM test token: a generated key is
// opened and signs, its certificate takes its ID, chains come leaf first,
// deleting refuses several objects unless told, mechanisms by name.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <p11-kit/pkcs11.h>

#include <p11tls/gnutls.h>
#include <p11tls/p11tls.hpp>
#include <p11tls/provision.h>

#include "../support/helpers.hpp"
#include "../support/raw_token.hpp"

namespace {

const std::string kToken = "pkcs11:token=p11tls-test";
const std::string kTokenPin = kToken + "?pin-value=" + th::test_pin();

std::string object(const std::string &label, const char *type = nullptr) {
    std::string u = kToken + ";object=" + label;
    if (type) u += std::string(";type=") + type;
    return u + "?pin-value=" + th::test_pin();
}

int count_cb(void *arg, const p11tls_object_info *) {
    ++*static_cast<int *>(arg);
    return 0;
}

// Objects labelled label, private ones included.
int count(const std::string &label) {
    int n = 0;
    EXPECT_EQ(p11tls_list_objects(nullptr, object(label).c_str(), P11TLS_LIST_LOGIN, count_cb, &n), 0);
    return n;
}

}  // namespace

TEST(Generate, OpensTheKeyWhichSignsAndIsNamedByItsSpkiHash) {
    REQUIRE_TOKEN();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ec:p256", "lib-gen", nullptr, 0, 0, key.put()), 0)
        << p11tls_last_error_detail();
    EXPECT_EQ(p11tls_key_get_algorithm(key.get()), P11TLS_ALG_ECDSA);
    EXPECT_EQ(p11tls_key_get_bits(key.get()), 256);
    uint8_t *spki = nullptr;
    size_t spki_len = 0;
    ASSERT_EQ(p11tls_key_get_spki(key.get(), &spki, &spki_len), 0);
    unsigned char sha1[20];
    gnutls_hash_fast(GNUTLS_DIG_SHA1, spki, spki_len, sha1);
    std::string id;
    for (unsigned char c : sha1) {
        char b[4];
        snprintf(b, sizeof b, "%%%02X", c);
        id += b;
    }
    EXPECT_NE(std::string(p11tls_key_get_uri(key.get())).find("id=" + id), std::string::npos)
        << p11tls_key_get_uri(key.get());

    const char msg[] = "lifecycle";
    std::vector<unsigned char> sig;
    ASSERT_EQ(th::sign(key.get(), P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg, sizeof msg, sig), 0);
    gnutls_pubkey_t pub;
    gnutls_pubkey_init(&pub);
    gnutls_datum_t d = {spki, (unsigned)spki_len}, m = {(unsigned char *)msg, sizeof msg},
                   s = {sig.data(), (unsigned)sig.size()};
    ASSERT_GE(gnutls_pubkey_import(pub, &d, GNUTLS_X509_FMT_DER), 0);
    EXPECT_GE(gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &m, &s), 0);
    gnutls_pubkey_deinit(pub);
    p11tls_free(spki);
    EXPECT_EQ(count("lib-gen"), 2);

    // The attributes a module may refuse (provision/template.hpp) are
    // still sent to one that takes them: SoftHSM's EC key cannot decrypt
    // or unwrap (its default would let it).
    th::RawToken raw;
    ASSERT_TRUE(raw.ok());
    auto priv = raw.find("lib-gen", CKO_PRIVATE_KEY);
    ASSERT_EQ(priv.size(), 1u);
    CK_BBOOL decrypt = CK_TRUE, unwrap = CK_TRUE;
    CK_ATTRIBUTE a[] = {{CKA_DECRYPT, &decrypt, sizeof decrypt}, {CKA_UNWRAP, &unwrap, sizeof unwrap}};
    ASSERT_EQ(raw.functions()->C_GetAttributeValue(raw.session(), priv[0], a, 2), (CK_RV)CKR_OK);
    EXPECT_EQ(decrypt, CK_FALSE);
    EXPECT_EQ(unwrap, CK_FALSE);
}

TEST(Generate, RefusesBadArgumentsAndTakenNames) {
    REQUIRE_TOKEN();
    p11tls_cxx::key key;
    const uint8_t id[] = {0x42};
    EXPECT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ec:p256", "", nullptr, 0, 0, key.put()),
              P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ec:p256", "x", nullptr, 1, 0, key.put()),
              P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ec:p256", "x", nullptr, 0, 0x80, key.put()),
              P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ec:p999", "x", nullptr, 0, 0, key.put()),
              P11TLS_E_INVALID_ARGUMENT);
    // The fixture's p256 key pair and certificate have that label.
    EXPECT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ec:p256", "p256", nullptr, 0, 0, key.put()),
              P11TLS_E_EXISTS);
    ASSERT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ed25519", "lib-id", id, 1, 0, key.put()), 0)
        << p11tls_last_error_detail();
    key.reset(nullptr);
    EXPECT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ed25519", "lib-id2", id, 1, 0, key.put()),
              P11TLS_E_EXISTS);
    EXPECT_EQ(key.get(), nullptr);
    EXPECT_EQ(count("x") + count("lib-id2"), 0);
    EXPECT_EQ(p11tls_key_generate(nullptr, "pkcs11:token=nowhere", "ec:p256", "x", nullptr, 0, 0, key.put()),
              P11TLS_E_TOKEN_NOT_PRESENT);
}

TEST(CertWrite, TakesTheIdOfItsKeyAndIsFoundByIt) {
    REQUIRE_TOKEN();
    p11tls_cxx::key key;
    // An ID that is not the hash of the public key (the default for keys
    // without a certificate): the certificate must take it from the key.
    const uint8_t id[] = {0x77, 0x88};
    ASSERT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ec:p384", "lib-cert", id, sizeof id, 0, key.put()), 0)
        << p11tls_last_error_detail();
    auto der = th::self_signed(object("lib-cert", "private"), "lib-cert");
    ASSERT_FALSE(der.empty());
    char *uri = nullptr;
    ASSERT_EQ(p11tls_cert_write(nullptr, kTokenPin.c_str(), der.data(), der.size(), "lib-cert", nullptr, 0, 0, &uri),
              0)
        << p11tls_last_error_detail();
    ASSERT_NE(uri, nullptr);
    // The certificate's URI names the key's ID.
    EXPECT_NE(std::string(uri).find("id=%77%88;"), std::string::npos) << uri;
    uint8_t *back = nullptr;
    size_t back_len = 0;
    ASSERT_EQ(p11tls_cert_get_der(nullptr, uri, &back, &back_len), 0) << p11tls_last_error_detail();
    EXPECT_EQ(std::vector<unsigned char>(back, back + back_len), der);
    p11tls_free(back);
    p11tls_free(uri);
    uri = nullptr;
    // Again: refused, unless told the same certificate there is fine.
    EXPECT_EQ(p11tls_cert_write(nullptr, kTokenPin.c_str(), der.data(), der.size(), "other", nullptr, 0, 0, &uri),
              P11TLS_E_EXISTS);
    EXPECT_EQ(p11tls_cert_write(nullptr, kTokenPin.c_str(), der.data(), der.size(), nullptr, nullptr, 0,
                                P11TLS_CERT_WRITE_SKIP_EXISTING, &uri),
              0);
    EXPECT_EQ(uri, nullptr);
    const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    EXPECT_EQ(p11tls_cert_write(nullptr, kTokenPin.c_str(), junk, sizeof junk, "junk", nullptr, 0, 0, nullptr),
              P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(count("lib-cert"), 3);  // private key, public key, certificate
    EXPECT_EQ(count("junk"), 0);
}

namespace {
int collect_der(void *arg, const uint8_t *der, size_t len) {
    static_cast<std::vector<std::vector<unsigned char>> *>(arg)->emplace_back(der, der + len);
    return 0;
}
}  // namespace

TEST(CertChain, LeafFirstThenTheRootOnTheToken) {
    REQUIRE_TOKEN();
    std::vector<std::vector<unsigned char>> chain;
    ASSERT_EQ(p11tls_cert_get_chain(nullptr, th::key_uri("p256", false, "cert").c_str(), 0, collect_der, &chain), 0)
        << p11tls_last_error_detail();
    ASSERT_EQ(chain.size(), 2u);
    EXPECT_EQ(chain[0], th::cert_der("p256"));
    EXPECT_EQ(chain[1], th::cert_der("ca"));
    EXPECT_EQ(p11tls_cert_get_chain(nullptr, (kToken + ";object=nothing;type=cert").c_str(), 0, collect_der, &chain),
              P11TLS_E_NOT_FOUND);
}

TEST(Delete, RefusesSeveralObjectsUnlessAllowed) {
    REQUIRE_TOKEN();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ec:p256", "lib-del", nullptr, 0, 0, key.put()), 0)
        << p11tls_last_error_detail();
    EXPECT_EQ(p11tls_object_delete(nullptr, object("lib-del").c_str(), 0), P11TLS_E_AMBIGUOUS);
    EXPECT_NE(std::string(p11tls_last_error_detail()).find("type=public"), std::string::npos)
        << p11tls_last_error_detail();
    EXPECT_EQ(count("lib-del"), 2);
    EXPECT_EQ(p11tls_object_delete(nullptr, object("lib-del", "public").c_str(), 0), 1);
    EXPECT_EQ(count("lib-del"), 1);
    EXPECT_EQ(p11tls_object_delete(nullptr, object("lib-del", "public").c_str(), 0), P11TLS_E_NOT_FOUND);
    ASSERT_EQ(p11tls_key_generate(nullptr, kTokenPin.c_str(), "ec:p256", "lib-del2", nullptr, 0, 0, key.put()), 0);
    EXPECT_EQ(p11tls_object_delete(nullptr, object("lib-del2").c_str(), P11TLS_DELETE_MULTIPLE), 2);
    EXPECT_EQ(count("lib-del2"), 0);
    // A URI naming no object would delete everything: refused, flag or not.
    EXPECT_EQ(p11tls_object_delete(nullptr, kTokenPin.c_str(), P11TLS_DELETE_MULTIPLE), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_object_delete(nullptr, object("lib-del").c_str(), 0x10), P11TLS_E_INVALID_ARGUMENT);
}

namespace {
struct Mechs {
    bool ecdsa_sign = false;
    int seen = 0;
    int stop_after = 0;
};
int mech_cb(void *arg, const p11tls_mechanism_info *m) {
    auto *s = static_cast<Mechs *>(arg);
    ++s->seen;
    if (strcmp(m->name, "CKM_ECDSA") == 0 && m->type == CKM_ECDSA && (m->flags & CKF_SIGN)) s->ecdsa_sign = true;
    return s->stop_after && s->seen == s->stop_after ? 7 : 0;
}
}  // namespace

TEST(Mechanisms, ByNameWithTheirInfo) {
    REQUIRE_TOKEN();
    Mechs all;
    ASSERT_EQ(p11tls_token_list_mechanisms(nullptr, kToken.c_str(), mech_cb, &all), 0) << p11tls_last_error_detail();
    EXPECT_TRUE(all.ecdsa_sign);
    EXPECT_GT(all.seen, 10);
    Mechs stop;
    stop.stop_after = 3;
    EXPECT_EQ(p11tls_token_list_mechanisms(nullptr, kToken.c_str(), mech_cb, &stop), 7);
    EXPECT_EQ(stop.seen, 3);
}

namespace {

// The PIN function of the trusted write: the SO PIN when asked for it.
struct SoPins {
    int calls = 0, so_calls = 0;
};
int so_pin_fn(void *arg, const char *, const char *, unsigned flags, char *pin, size_t size) {
    auto *p = static_cast<SoPins *>(arg);
    p->calls++;
    if (flags & P11TLS_PIN_SO) p->so_calls++;
    std::string v = (flags & P11TLS_PIN_SO) ? th::env("P11TLS_TEST_SO_PIN") : th::test_pin();
    snprintf(pin, size, "%s", v.c_str());
    return 0;
}

}  // namespace

// In a fresh process (a login is process-wide): CKA_TRUSTED is written
// after an SO login whose PIN comes from the PIN function, asked once with
// P11TLS_PIN_SO (the URI's user PIN is not used for it); the SO is logged
// out after (the user then logs in in this process); while the user is
// logged in, a trusted write is refused before any PIN is asked.
TEST(CertWriteTrustedChild, SoPinFromThePinFunctionThenLoggedOut) {
    if (!th::in_child("P11TLS_SO_WRITE_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    SoPins pins;
    p11tls_cxx::context ctx;
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), so_pin_fn, &pins), 0);
    const std::vector<unsigned char> ca = th::cert_der("ca"), p256 = th::cert_der("p256");
    ASSERT_FALSE(ca.empty());
    char *uri = nullptr;
    ASSERT_EQ(p11tls_cert_write(ctx.get(), kTokenPin.c_str(), ca.data(), ca.size(), "so-written", nullptr, 0,
                                P11TLS_CERT_WRITE_TRUSTED | P11TLS_CERT_WRITE_CA, &uri),
              0)
        << p11tls_last_error_detail();
    p11tls_free(uri);
    EXPECT_EQ(pins.calls, 1);
    EXPECT_EQ(pins.so_calls, 1);
    gnutls_x509_trust_list_t list;
    ASSERT_GE(gnutls_x509_trust_list_init(&list, 0), 0);
    EXPECT_EQ(p11tls_gnutls_trust_list_add(list, ctx.get(), (kToken + ";object=so-written").c_str(), 0), 1)
        << "not marked trusted";
    gnutls_x509_trust_list_deinit(list, 1);
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, key.put()), 0)
        << "the SO still logged in? " << p11tls_last_error_detail();
    pins = {};
    EXPECT_EQ(p11tls_cert_write(ctx.get(), kToken.c_str(), p256.data(), p256.size(), "so-2", nullptr, 0,
                                P11TLS_CERT_WRITE_TRUSTED, nullptr),
              P11TLS_E_NOT_PERMITTED);
    EXPECT_EQ(pins.calls, 0);
    EXPECT_EQ(p11tls_cert_write(ctx.get(), kToken.c_str(), p256.data(), p256.size(), "so-3", nullptr, 0,
                                P11TLS_CERT_WRITE_TRUSTED | P11TLS_CERT_WRITE_DISTRUSTED, nullptr),
              P11TLS_E_INVALID_ARGUMENT);
}

TEST(CertWrite, TrustedAsSecurityOfficer) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("CertWriteTrustedChild.*", "P11TLS_SO_WRITE_CHILD", 60);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}
