// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Unit tests: TLS SignatureScheme table (lib/key/scheme).
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include <p11tls/p11tls.h>

#include <nettle/nettle-meta.h>

#include "key/scheme.hpp"

namespace {
struct Expect {
    uint16_t code;
    const char *name;
    int alg;
    bool pss;
};
const Expect kAll[] = {
    {P11TLS_SIG_RSA_PKCS1_SHA256, "rsa_pkcs1_sha256", P11TLS_ALG_RSA, false},
    {P11TLS_SIG_RSA_PKCS1_SHA384, "rsa_pkcs1_sha384", P11TLS_ALG_RSA, false},
    {P11TLS_SIG_RSA_PKCS1_SHA512, "rsa_pkcs1_sha512", P11TLS_ALG_RSA, false},
    {P11TLS_SIG_ECDSA_SECP256R1_SHA256, "ecdsa_secp256r1_sha256", P11TLS_ALG_ECDSA, false},
    {P11TLS_SIG_ECDSA_SECP384R1_SHA384, "ecdsa_secp384r1_sha384", P11TLS_ALG_ECDSA, false},
    {P11TLS_SIG_ECDSA_SECP521R1_SHA512, "ecdsa_secp521r1_sha512", P11TLS_ALG_ECDSA, false},
    {P11TLS_SIG_RSA_PSS_RSAE_SHA256, "rsa_pss_rsae_sha256", P11TLS_ALG_RSA, true},
    {P11TLS_SIG_RSA_PSS_RSAE_SHA384, "rsa_pss_rsae_sha384", P11TLS_ALG_RSA, true},
    {P11TLS_SIG_RSA_PSS_RSAE_SHA512, "rsa_pss_rsae_sha512", P11TLS_ALG_RSA, true},
    {P11TLS_SIG_ED25519, "ed25519", P11TLS_ALG_ED25519, false},
    {P11TLS_SIG_ED448, "ed448", P11TLS_ALG_ED448, false},
};
}  // namespace

TEST(Scheme, CodePointsAreRfc8446) {
    EXPECT_EQ(P11TLS_SIG_RSA_PKCS1_SHA256, 0x0401);
    EXPECT_EQ(P11TLS_SIG_RSA_PKCS1_SHA384, 0x0501);
    EXPECT_EQ(P11TLS_SIG_RSA_PKCS1_SHA512, 0x0601);
    EXPECT_EQ(P11TLS_SIG_ECDSA_SECP256R1_SHA256, 0x0403);
    EXPECT_EQ(P11TLS_SIG_ECDSA_SECP384R1_SHA384, 0x0503);
    EXPECT_EQ(P11TLS_SIG_ECDSA_SECP521R1_SHA512, 0x0603);
    EXPECT_EQ(P11TLS_SIG_RSA_PSS_RSAE_SHA256, 0x0804);
    EXPECT_EQ(P11TLS_SIG_RSA_PSS_RSAE_SHA384, 0x0805);
    EXPECT_EQ(P11TLS_SIG_RSA_PSS_RSAE_SHA512, 0x0806);
    EXPECT_EQ(P11TLS_SIG_ED25519, 0x0807);
    EXPECT_EQ(P11TLS_SIG_ED448, 0x0808);
}

TEST(Scheme, EveryConstantIsFound) {
    for (const Expect &e : kAll) {
        const p11tls::Scheme *s = p11tls::find_scheme(e.code);
        ASSERT_NE(s, nullptr) << e.name;
        EXPECT_EQ(s->code, e.code);
        EXPECT_STREQ(s->name, e.name);
        EXPECT_EQ(s->alg, e.alg) << e.name;
        EXPECT_EQ(s->pss, e.pss) << e.name;
        if (e.alg == P11TLS_ALG_ED25519 || e.alg == P11TLS_ALG_ED448) {
            EXPECT_EQ(s->hash, nullptr) << e.name;
        } else {
            ASSERT_NE(s->hash, nullptr) << e.name;
            EXPECT_NE(s->combined, 0u) << e.name;
        }
        EXPECT_EQ(p11tls::find_scheme_by_name(e.name), s);
    }
}

TEST(Scheme, HashMatchesName) {
    for (const Expect &e : kAll) {
        const p11tls::Scheme *s = p11tls::find_scheme(e.code);
        ASSERT_NE(s, nullptr);
        if (!s->hash) continue;
        size_t want = strstr(e.name, "256") ? 32 : strstr(e.name, "384") ? 48 : 64;
        EXPECT_EQ(s->hash->digest_size, want) << e.name;
    }
}

TEST(Scheme, NamesRoundTripThroughCApi) {
    std::set<std::string> names;
    for (const Expect &e : kAll) {
        const char *n = p11tls_sig_scheme_name(e.code);
        ASSERT_NE(n, nullptr) << std::hex << e.code;
        EXPECT_STREQ(n, e.name);
        EXPECT_EQ(p11tls_sig_scheme_from_name(n), e.code);
        names.insert(n);
    }
    EXPECT_EQ(names.size(), sizeof kAll / sizeof kAll[0]);
}

TEST(Scheme, UnknownSchemes) {
    EXPECT_EQ(p11tls::find_scheme(0x0000), nullptr);
    EXPECT_EQ(p11tls::find_scheme(0x0201), nullptr);  // rsa_pkcs1_sha1: not supported
    EXPECT_EQ(p11tls::find_scheme(0xffff), nullptr);
    EXPECT_EQ(p11tls_sig_scheme_name(0x0809), nullptr);
    EXPECT_EQ(p11tls_sig_scheme_from_name("nonsense"), 0);
    EXPECT_EQ(p11tls_sig_scheme_from_name(""), 0);
    EXPECT_EQ(p11tls_sig_scheme_from_name(nullptr), 0);
    EXPECT_EQ(p11tls_sig_scheme_from_name("ED25519"), 0);  // names are case-sensitive
}
