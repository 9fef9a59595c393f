// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Unit tests: CKM_ names (lib/pkcs11/ckm), every mechanism of PKCS#11 3.0.
#include <gtest/gtest.h>

#include <string>

#include "pkcs11/ckm.hpp"

using p11tls::ckm_known_name;
using p11tls::ckm_name;

// The 417 values of OASIS's pkcs11t.h 3.00, each once.
TEST(Ckm, EveryMechanismOfPkcs11v3) {
    EXPECT_EQ(p11tls::ckm_known_count(), 417u);
}

// Ones `p11tls mechanisms` printed as hex (opencryptoki's soft token: the
// HMAC_GENERAL and SSL3 mechanisms), and some of those new in 3.0 or
// missing from p11-kit's and NSS's headers, under their current names.
TEST(Ckm, NamesByValue) {
    const struct {
        unsigned long type;
        const char *name;
    } cases[] = {
        {0x0, "CKM_RSA_PKCS_KEY_PAIR_GEN"},   {0x222, "CKM_SHA_1_HMAC_GENERAL"},
        {0x252, "CKM_SHA256_HMAC_GENERAL"},   {0x212, "CKM_MD5_HMAC_GENERAL"},
        {0x370, "CKM_SSL3_PRE_MASTER_KEY_GEN"}, {0x381, "CKM_SSL3_SHA1_MAC"},
        {0x138, "CKM_DES3_CMAC"},             {0x2104, "CKM_AES_OFB"},
        {0x2b0, "CKM_SHA3_256"},              {0x397, "CKM_SHA3_256_KEY_DERIVATION"},
        {0x3ac, "CKM_SP800_108_COUNTER_KDF"}, {0x1040, "CKM_EC_KEY_PAIR_GEN"},
        {0x321, "CKM_CAST128_ECB"},           {0x1057, "CKM_EDDSA"},
        {0x1071, "CKM_AES_XTS"},              {0x2003, "CKM_DSA_PROBABILISTIC_PARAMETER_GEN"},
        {0x4021, "CKM_CHACHA20_POLY1305"},    {0x402a, "CKM_HKDF_DERIVE"},
    };
    for (const auto &c : cases) {
        ASSERT_NE(ckm_known_name(c.type), nullptr) << std::hex << c.type;
        EXPECT_EQ(std::string(ckm_known_name(c.type)), c.name) << std::hex << c.type;
        EXPECT_EQ(ckm_name(c.type), c.name);
    }
}

TEST(Ckm, OthersByNumber) {
    EXPECT_EQ(ckm_known_name(0x7fffffffUL), nullptr);
    EXPECT_EQ(ckm_name(0x7fffffffUL), "CKM_0x7fffffff");
    EXPECT_EQ(ckm_name(0x80000000UL + 0x12), "CKM_VENDOR_DEFINED+0x12");
}
