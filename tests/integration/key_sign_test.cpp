// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: signing with every test key and scheme, verified by GnuTLS.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <sys/types.h>
#include <vector>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <p11tls/p11tls.h>

#include "../support/helpers.hpp"

namespace {

struct Case {
    const char *label;
    uint16_t scheme;
    gnutls_sign_algorithm_t galg;
    gnutls_digest_algorithm_t dig;  // GNUTLS_DIG_UNKNOWN for EdDSA
};

const Case kCases[] = {
    {"rsa2048", P11TLS_SIG_RSA_PKCS1_SHA256, GNUTLS_SIGN_RSA_SHA256, GNUTLS_DIG_SHA256},
    {"rsa2048", P11TLS_SIG_RSA_PKCS1_SHA384, GNUTLS_SIGN_RSA_SHA384, GNUTLS_DIG_SHA384},
    {"rsa2048", P11TLS_SIG_RSA_PKCS1_SHA512, GNUTLS_SIGN_RSA_SHA512, GNUTLS_DIG_SHA512},
    {"rsa2048", P11TLS_SIG_RSA_PSS_RSAE_SHA256, GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, GNUTLS_DIG_SHA256},
    {"rsa2048", P11TLS_SIG_RSA_PSS_RSAE_SHA384, GNUTLS_SIGN_RSA_PSS_RSAE_SHA384, GNUTLS_DIG_SHA384},
    {"rsa2048", P11TLS_SIG_RSA_PSS_RSAE_SHA512, GNUTLS_SIGN_RSA_PSS_RSAE_SHA512, GNUTLS_DIG_SHA512},
    {"rsa3072", P11TLS_SIG_RSA_PKCS1_SHA256, GNUTLS_SIGN_RSA_SHA256, GNUTLS_DIG_SHA256},
    {"rsa3072", P11TLS_SIG_RSA_PKCS1_SHA384, GNUTLS_SIGN_RSA_SHA384, GNUTLS_DIG_SHA384},
    {"rsa3072", P11TLS_SIG_RSA_PKCS1_SHA512, GNUTLS_SIGN_RSA_SHA512, GNUTLS_DIG_SHA512},
    {"rsa3072", P11TLS_SIG_RSA_PSS_RSAE_SHA256, GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, GNUTLS_DIG_SHA256},
    {"rsa3072", P11TLS_SIG_RSA_PSS_RSAE_SHA384, GNUTLS_SIGN_RSA_PSS_RSAE_SHA384, GNUTLS_DIG_SHA384},
    {"rsa3072", P11TLS_SIG_RSA_PSS_RSAE_SHA512, GNUTLS_SIGN_RSA_PSS_RSAE_SHA512, GNUTLS_DIG_SHA512},
    {"p256", P11TLS_SIG_ECDSA_SECP256R1_SHA256, GNUTLS_SIGN_ECDSA_SHA256, GNUTLS_DIG_SHA256},
    {"p384", P11TLS_SIG_ECDSA_SECP384R1_SHA384, GNUTLS_SIGN_ECDSA_SHA384, GNUTLS_DIG_SHA384},
    {"p521", P11TLS_SIG_ECDSA_SECP521R1_SHA512, GNUTLS_SIGN_ECDSA_SHA512, GNUTLS_DIG_SHA512},
    {"ed25519", P11TLS_SIG_ED25519, GNUTLS_SIGN_EDDSA_ED25519, GNUTLS_DIG_UNKNOWN},
};

std::string case_name(const testing::TestParamInfo<Case> &info) {
    return std::string(info.param.label) + "_" + p11tls_sig_scheme_name(info.param.scheme);
}


const char kMsg[] = "The quick brown fox jumps over the lazy dog";

class SignTest : public testing::TestWithParam<Case> {};

}  // namespace

TEST_P(SignTest, SignVerifies) {
    REQUIRE_TOKEN();
    const Case &c = GetParam();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri(c.label).c_str(), 0, key.put()), 0)
        << p11tls_last_error_detail();
    EXPECT_EQ(p11tls_key_supports(key.get(), c.scheme), 1);
    std::vector<unsigned char> sig;
    ASSERT_EQ(th::sign(key.get(), c.scheme, kMsg, sizeof kMsg - 1, sig), 0) << p11tls_last_error_detail();
    EXPECT_GE(th::verify_data(c.label, c.galg, kMsg, sizeof kMsg - 1, sig.data(), sig.size()), 0);
    // A different message must not verify with this signature.
    EXPECT_LT(th::verify_data(c.label, c.galg, "other", 5, sig.data(), sig.size()), 0);
    // Empty message.
    ASSERT_EQ(th::sign(key.get(), c.scheme, "", 0, sig), 0) << p11tls_last_error_detail();
    EXPECT_GE(th::verify_data(c.label, c.galg, "", 0, sig.data(), sig.size()), 0);
}

TEST_P(SignTest, SignHashVerifies) {
    REQUIRE_TOKEN();
    const Case &c = GetParam();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri(c.label).c_str(), 0, key.put()), 0)
        << p11tls_last_error_detail();
    size_t n = 0;
    ASSERT_EQ(p11tls_key_sign_hash(key.get(), c.scheme, nullptr, 0, nullptr, &n), 0);
    std::vector<unsigned char> sig(n);
    if (c.dig == GNUTLS_DIG_UNKNOWN) {
        unsigned char h[32] = {1};
        EXPECT_EQ(p11tls_key_sign_hash(key.get(), c.scheme, h, sizeof h, sig.data(), &n),
                  P11TLS_E_UNSUPPORTED);
        return;
    }
    unsigned char hash[64];
    size_t hlen = gnutls_hash_get_len(c.dig);
    ASSERT_EQ(gnutls_hash_fast(c.dig, kMsg, sizeof kMsg - 1, hash), 0);
    ASSERT_EQ(p11tls_key_sign_hash(key.get(), c.scheme, hash, hlen, sig.data(), &n), 0)
        << p11tls_last_error_detail();
    sig.resize(n);
    EXPECT_GE(th::verify_hash(c.label, c.galg, hash, hlen, sig.data(), sig.size()), 0);
    // It is a signature of the message too.
    EXPECT_GE(th::verify_data(c.label, c.galg, kMsg, sizeof kMsg - 1, sig.data(), sig.size()), 0);
    // A hash of the wrong length is refused.
    n = sig.size();
    EXPECT_EQ(p11tls_key_sign_hash(key.get(), c.scheme, hash, hlen - 1, sig.data(), &n),
              P11TLS_E_INVALID_ARGUMENT);
}

TEST_P(SignTest, SizeQueryAndShortBuffer) {
    REQUIRE_TOKEN();
    const Case &c = GetParam();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri(c.label).c_str(), 0, key.put()), 0)
        << p11tls_last_error_detail();
    size_t max = 0;
    ASSERT_EQ(p11tls_key_sign(key.get(), c.scheme, (const uint8_t *)kMsg, sizeof kMsg - 1, nullptr, &max), 0);
    EXPECT_GT(max, 0u);
    std::vector<unsigned char> sig(max);
    size_t n = max;
    ASSERT_EQ(p11tls_key_sign(key.get(), c.scheme, (const uint8_t *)kMsg, sizeof kMsg - 1, sig.data(), &n), 0);
    EXPECT_LE(n, max);
    EXPECT_GT(n, 0u);
    size_t small = 8;
    unsigned char tiny[8];
    EXPECT_EQ(p11tls_key_sign(key.get(), c.scheme, (const uint8_t *)kMsg, sizeof kMsg - 1, tiny, &small),
              P11TLS_E_BUFFER_TOO_SMALL);
    EXPECT_GT(small, 8u) << "the needed size is stored";
    EXPECT_LE(small, max);
    // NULL length pointer.
    EXPECT_EQ(p11tls_key_sign(key.get(), c.scheme, (const uint8_t *)kMsg, sizeof kMsg - 1, sig.data(), nullptr),
              P11TLS_E_INVALID_ARGUMENT);
}

TEST_P(SignTest, WrongAlgorithmSchemeUnsupported) {
    REQUIRE_TOKEN();
    const Case &c = GetParam();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri(c.label).c_str(), 0, key.put()), 0)
        << p11tls_last_error_detail();
    const int alg = p11tls_key_get_algorithm(key.get());
    const uint16_t others[] = {P11TLS_SIG_RSA_PKCS1_SHA256, P11TLS_SIG_RSA_PSS_RSAE_SHA256,
                               P11TLS_SIG_ECDSA_SECP256R1_SHA256, P11TLS_SIG_ED25519, P11TLS_SIG_ED448};
    for (uint16_t s : others) {
        bool fits = (alg == P11TLS_ALG_RSA && (s == P11TLS_SIG_RSA_PKCS1_SHA256 ||
                                               s == P11TLS_SIG_RSA_PSS_RSAE_SHA256)) ||
                    (alg == P11TLS_ALG_ECDSA && s == P11TLS_SIG_ECDSA_SECP256R1_SHA256) ||
                    (alg == P11TLS_ALG_ED25519 && s == P11TLS_SIG_ED25519);
        if (fits) continue;
        unsigned char sig[1024];
        size_t n = sizeof sig;
        EXPECT_EQ(p11tls_key_sign(key.get(), s, (const uint8_t *)kMsg, sizeof kMsg - 1, sig, &n),
                  P11TLS_E_UNSUPPORTED)
            << c.label << " with " << p11tls_sig_scheme_name(s);
        EXPECT_EQ(p11tls_key_supports(key.get(), s), 0) << c.label << " " << p11tls_sig_scheme_name(s);
    }
    unsigned char sig[1024];
    size_t n = sizeof sig;
    EXPECT_EQ(p11tls_key_sign(key.get(), 0x0201 /* rsa_pkcs1_sha1 */, (const uint8_t *)kMsg, 3, sig, &n),
              P11TLS_E_UNSUPPORTED);
    EXPECT_EQ(p11tls_key_supports(key.get(), 0x0201), 0);
}

INSTANTIATE_TEST_SUITE_P(AllKeys, SignTest, testing::ValuesIn(kCases), case_name);

namespace {
struct Props {
    const char *label;
    int alg;
    int bits;
};
const Props kProps[] = {
    {"rsa2048", P11TLS_ALG_RSA, 2048}, {"rsa3072", P11TLS_ALG_RSA, 3072},
    {"p256", P11TLS_ALG_ECDSA, 256},   {"p384", P11TLS_ALG_ECDSA, 384},
    {"p521", P11TLS_ALG_ECDSA, 521},   {"ed25519", P11TLS_ALG_ED25519, 0},
};

int pin_fn_1234(void *arg, const char *, const char *, unsigned, char *pin, size_t pin_size) {
    ++*static_cast<int *>(arg);
    snprintf(pin, pin_size, "%s", th::test_pin().c_str());
    return 0;
}
}  // namespace

TEST(KeyProperties, AlgorithmBitsSpki) {
    REQUIRE_TOKEN();
    for (const Props &p : kProps) {
        p11tls_cxx::key key;
        ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri(p.label).c_str(), 0, key.put()), 0)
            << p.label << ": " << p11tls_last_error_detail();
        EXPECT_EQ(p11tls_key_get_algorithm(key.get()), p.alg) << p.label;
        if (p.bits)
            EXPECT_EQ(p11tls_key_get_bits(key.get()), p.bits) << p.label;
        else
            EXPECT_GT(p11tls_key_get_bits(key.get()), 0) << p.label;
        uint8_t *der = nullptr;
        size_t len = 0;
        ASSERT_EQ(p11tls_key_get_spki(key.get(), &der, &len), 0) << p.label;
        std::vector<unsigned char> spki(der, der + len);
        p11tls_free(der);
        auto want = th::cert_spki(p.label);
        ASSERT_FALSE(want.empty()) << p.label;
        EXPECT_EQ(spki, want) << p.label << ": key SPKI differs from the certificate's";
    }
    EXPECT_LT(p11tls_key_get_algorithm(nullptr), 0);
    EXPECT_LT(p11tls_key_get_bits(nullptr), 0);
    EXPECT_EQ(p11tls_key_get_uri(nullptr), nullptr);
    uint8_t *der = nullptr;
    size_t len = 0;
    EXPECT_EQ(p11tls_key_get_spki(nullptr, &der, &len), P11TLS_E_INVALID_ARGUMENT);
}

TEST(KeyProperties, UriReopensSameKey) {
    REQUIRE_TOKEN();
    for (const Props &p : kProps) {
        p11tls_cxx::key key;
        ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri(p.label).c_str(), 0, key.put()), 0)
            << p.label << ": " << p11tls_last_error_detail();
        const char *u = p11tls_key_get_uri(key.get());
        ASSERT_NE(u, nullptr);
        std::string uri = u;
        EXPECT_EQ(uri.rfind("pkcs11:", 0), 0u) << uri;
        EXPECT_EQ(uri.find("pin-value"), std::string::npos) << uri;
        EXPECT_EQ(uri.find(th::test_pin()), std::string::npos) << uri;
        EXPECT_NE(uri.find("object=" + std::string(p.label)), std::string::npos) << uri;

        // Parses as a URI: listing with it finds exactly this private key.
        int seen = 0;
        ASSERT_EQ(p11tls_list_objects(
                      nullptr, (uri + "?pin-value=" + th::test_pin()).c_str(), P11TLS_LIST_LOGIN,
                      [](void *arg, const p11tls_object_info *) { return ++*(int *)arg, 0; }, &seen),
                  0)
            << uri << ": " << p11tls_last_error_detail();
        EXPECT_EQ(seen, 1) << uri;

        // Re-opened with the PIN appended: the same key.
        p11tls_cxx::key again;
        ASSERT_EQ(p11tls_key_open(nullptr, (uri + "?pin-value=" + th::test_pin()).c_str(), 0, again.put()), 0)
            << uri << ": " << p11tls_last_error_detail();
        uint8_t *a = nullptr, *b = nullptr;
        size_t al = 0, bl = 0;
        ASSERT_EQ(p11tls_key_get_spki(key.get(), &a, &al), 0);
        ASSERT_EQ(p11tls_key_get_spki(again.get(), &b, &bl), 0);
        EXPECT_EQ(std::vector<unsigned char>(a, a + al), std::vector<unsigned char>(b, b + bl));
        p11tls_free(a);
        p11tls_free(b);
        EXPECT_STREQ(p11tls_key_get_uri(again.get()), uri.c_str());

        // And through a context with a PIN function (the token may already
        // be logged in, so the function need not be called).
        p11tls_ctx *ctx = nullptr;
        ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
        int calls = 0;
        ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx, pin_fn_1234, &calls), 0);
        p11tls_cxx::key third;
        EXPECT_EQ(p11tls_key_open(ctx, uri.c_str(), 0, third.put()), 0) << p11tls_last_error_detail();
        p11tls_ctx_free(ctx);
        if (third.get()) {
            std::vector<unsigned char> sig;
            uint16_t scheme = p.alg == P11TLS_ALG_RSA     ? P11TLS_SIG_RSA_PSS_RSAE_SHA256
                              : p.alg == P11TLS_ALG_ED25519 ? P11TLS_SIG_ED25519
                              : p.bits == 256              ? P11TLS_SIG_ECDSA_SECP256R1_SHA256
                              : p.bits == 384              ? P11TLS_SIG_ECDSA_SECP384R1_SHA384
                                                           : P11TLS_SIG_ECDSA_SECP521R1_SHA512;
            EXPECT_EQ(th::sign(third.get(), scheme, "x", 1, sig), 0) << p11tls_last_error_detail();
        }
    }
}

TEST(KeyProperties, OpenArgumentChecks) {
    REQUIRE_TOKEN();
    p11tls_key *k = nullptr;
    EXPECT_EQ(p11tls_key_open(nullptr, nullptr, 0, &k), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_key_open(nullptr, th::key_uri("p256").c_str(), 0, nullptr), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_key_open(nullptr, th::key_uri("p256").c_str(), 0x80, &k), P11TLS_E_INVALID_ARGUMENT);
    // type=cert is not a private key.
    EXPECT_EQ(p11tls_key_open(nullptr, th::key_uri("p256", true, "cert").c_str(), 0, &k),
              P11TLS_E_INVALID_ARGUMENT);
    // Without type=, the private key is still found.
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(nullptr,
                              ("pkcs11:token=p11tls-test;object=p256;pin-value=" + th::test_pin()).c_str(),
                              0, key.put()),
              0)
        << p11tls_last_error_detail();
    // By id.
    p11tls_cxx::key byid;
    EXPECT_EQ(p11tls_key_open(nullptr,
                              ("pkcs11:token=p11tls-test;id=%05;type=private;pin-value=" + th::test_pin()).c_str(),
                              0, byid.put()),
              0)
        << p11tls_last_error_detail();
    if (byid.get()) {
        EXPECT_EQ(p11tls_key_get_algorithm(byid.get()), P11TLS_ALG_ED25519);
    }
}
