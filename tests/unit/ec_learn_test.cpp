// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// zero_digest_signers() (lib/key/ec_learn.cpp): from a signature of an
// all-zero digest, the two keys that can have made it; the key that did is
// one of them, on each NIST curve (keys and signatures made by GnuTLS), and
// a signature of another digest, or of garbage, gives none of the right
// key or nothing. Checks the curve constants too: a wrong p, b or n makes
// no point on the curve, or another one.
#include <gtest/gtest.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>

#include <vector>

#include "key/ec_learn.hpp"

namespace {

struct CurveCase {
    gnutls_ecc_curve_t curve;
    size_t bytes;
    std::vector<unsigned char> oid;
};

const CurveCase kCases[] = {
    {GNUTLS_ECC_CURVE_SECP256R1, 32, {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
    {GNUTLS_ECC_CURVE_SECP384R1, 48, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}},
    {GNUTLS_ECC_CURVE_SECP521R1, 66, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}},
};

// r||s, each padded to bytes, of GnuTLS's DER signature of digest.
std::vector<unsigned char> sign_rs(gnutls_privkey_t k, const std::vector<unsigned char> &digest, size_t bytes) {
    gnutls_datum_t h = {const_cast<unsigned char *>(digest.data()), (unsigned)digest.size()}, sig = {nullptr, 0};
    gnutls_datum_t r = {nullptr, 0}, s = {nullptr, 0};
    std::vector<unsigned char> out;
    if (gnutls_privkey_sign_hash2(k, GNUTLS_SIGN_ECDSA_SHA256, 0, &h, &sig) < 0 ||
        gnutls_decode_rs_value(&sig, &r, &s) < 0)
        return out;
    for (const gnutls_datum_t *v : {&r, &s}) {
        size_t n = v->size;
        const unsigned char *p = v->data;
        while (n > bytes && *p == 0) ++p, --n;
        out.insert(out.end(), bytes - n, 0);
        out.insert(out.end(), p, p + n);
    }
    gnutls_free(sig.data);
    gnutls_free(r.data);
    gnutls_free(s.data);
    return out;
}

std::vector<unsigned char> spki_of(gnutls_privkey_t k) {
    gnutls_pubkey_t p;
    gnutls_pubkey_init(&p);
    gnutls_datum_t d = {nullptr, 0};
    std::vector<unsigned char> out;
    if (gnutls_pubkey_import_privkey(p, k, 0, 0) >= 0 && gnutls_pubkey_export2(p, GNUTLS_X509_FMT_DER, &d) >= 0)
        out.assign(d.data, d.data + d.size);
    gnutls_free(d.data);
    gnutls_pubkey_deinit(p);
    return out;
}

}  // namespace

TEST(EcLearn, TheSignerIsOneOfTheTwo) {
    for (const CurveCase &c : kCases) {
        for (int round = 0; round < 4; ++round) {
            gnutls_privkey_t k;
            ASSERT_EQ(gnutls_privkey_init(&k), 0);
            ASSERT_EQ(gnutls_privkey_generate(k, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(c.curve), 0), 0);
            const auto want = spki_of(k);
            const auto rs = sign_rs(k, std::vector<unsigned char>(32, 0), c.bytes);
            ASSERT_EQ(rs.size(), 2 * c.bytes);
            const auto keys = p11tls::zero_digest_signers(c.oid, rs);
            ASSERT_EQ(keys.size(), 2u) << "curve " << c.bytes * 8;
            EXPECT_TRUE(keys[0].spki == want || keys[1].spki == want) << "curve " << c.bytes * 8;
            EXPECT_NE(keys[0].spki, keys[1].spki);
            // A signature of another digest says nothing of the key.
            const auto other = p11tls::zero_digest_signers(c.oid, sign_rs(k, std::vector<unsigned char>(32, 1), c.bytes));
            for (const auto &pk : other) EXPECT_NE(pk.spki, want);
            gnutls_privkey_deinit(k);
        }
    }
}

TEST(EcLearn, NothingFromGarbage) {
    const auto &p256 = kCases[0].oid;
    EXPECT_TRUE(p11tls::zero_digest_signers(p256, {}).empty());
    EXPECT_TRUE(p11tls::zero_digest_signers(p256, std::vector<unsigned char>(64, 0)).empty());   // r = s = 0
    EXPECT_TRUE(p11tls::zero_digest_signers(p256, std::vector<unsigned char>(64, 0xff)).empty());  // r, s >= n
    EXPECT_TRUE(p11tls::zero_digest_signers(p256, std::vector<unsigned char>(63, 1)).empty());
    EXPECT_TRUE(p11tls::zero_digest_signers({0x06, 0x03, 0x2b, 0x65, 0x70}, std::vector<unsigned char>(64, 1)).empty());
}
