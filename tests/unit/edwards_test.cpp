// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// edwards_curve(): which Edwards curve a CKA_EC_PARAMS names. One rule for
// opening keys (lib/key/pubkey.cpp) and listing them (lib/cert/list.cpp):
// the exact DER forms, nothing that merely contains "448" or "edwards".
#include <gtest/gtest.h>

#include <p11tls/p11tls.h>

#include <string>
#include <vector>

#include "key/pubkey.hpp"

using p11tls::edwards_curve;

namespace {
std::vector<unsigned char> bytes(const std::string &s) { return {s.begin(), s.end()}; }
}  // namespace

TEST(Edwards, ExactForms) {
    // RFC 8410 OIDs (id-Ed25519 1.3.101.112, id-Ed448 1.3.101.113).
    EXPECT_EQ(edwards_curve({0x06, 0x03, 0x2b, 0x65, 0x70}), P11TLS_ALG_ED25519);
    EXPECT_EQ(edwards_curve({0x06, 0x03, 0x2b, 0x65, 0x71}), P11TLS_ALG_ED448);
    // PKCS#11 3.0 PrintableString names (SoftHSM 2.6.1 with OpenSC's
    // pkcs11-tool stores "edwards25519" so).
    EXPECT_EQ(edwards_curve(bytes("\x13\x0c" "edwards25519")), P11TLS_ALG_ED25519);
    EXPECT_EQ(edwards_curve(bytes("\x13\x0a" "edwards448")), P11TLS_ALG_ED448);
}

TEST(Edwards, NothingElse) {
    // Montgomery curves: X25519 and X448 OIDs, and "curve448" (which holds
    // "448").
    EXPECT_EQ(edwards_curve({0x06, 0x03, 0x2b, 0x65, 0x6e}), 0);
    EXPECT_EQ(edwards_curve({0x06, 0x03, 0x2b, 0x65, 0x6f}), 0);
    EXPECT_EQ(edwards_curve(bytes("\x13\x08" "curve448")), 0);
    // Near misses: a longer OID, trailing or missing bytes, a wrong tag or
    // length, the name without its DER header, an empty value.
    EXPECT_EQ(edwards_curve({0x06, 0x04, 0x2b, 0x65, 0x70, 0x00}), 0);
    EXPECT_EQ(edwards_curve({0x06, 0x03, 0x2b, 0x65, 0x70, 0x00}), 0);
    EXPECT_EQ(edwards_curve({0x06, 0x03, 0x2b, 0x65}), 0);
    EXPECT_EQ(edwards_curve(bytes("\x0c\x0c" "edwards25519")), 0);
    EXPECT_EQ(edwards_curve(bytes("\x13\x0d" "edwards25519x")), 0);
    EXPECT_EQ(edwards_curve(bytes("edwards25519")), 0);
    EXPECT_EQ(edwards_curve(bytes("\x13\x0b" "edwards4480")), 0);
    EXPECT_EQ(edwards_curve({}), 0);
    // The P-256 OID.
    EXPECT_EQ(edwards_curve({0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}), 0);
}
