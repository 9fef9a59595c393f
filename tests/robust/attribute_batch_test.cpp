// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The one-call attribute read (lib/pkcs11/attributes.cpp) on SoftHSM, when
// the call fails for one attribute (unknown to the module, or sensitive)
// and another value is larger than its room: the module answers with the
// failure of the first and marks both unavailable (PKCS#11 2.40 section
// 5.7), and the large value must still be read, the other stay absent.
// The trust code reads CKA_X_DISTRUSTED with a certificate's value so.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../support/helpers.hpp"
#include "../support/raw_token.hpp"
#include "pkcs11/attributes.hpp"

#include <p11-kit/pkcs11x.h>  // after pkcs11.h (it needs its types)

namespace {

using th::RawToken;

// SoftHSM as p11tls calls it (a Module holds fork state: not copied).
void as_module(const RawToken &raw, p11tls::Module *m) {
    m->fl = raw.functions();
    m->name = "softhsm";
}

std::vector<unsigned char> bytes(const std::string &s) { return {s.begin(), s.end()}; }

}  // namespace

// An RSA-3072 certificate (about 1,000 bytes of DER) with the p11-kit
// vendor attribute SoftHSM does not know.
TEST(AttributeBatch, LargeValueBesideAnUnknownAttribute) {
    REQUIRE_TOKEN();
    RawToken raw;
    ASSERT_TRUE(raw.ok()) << raw.why();
    auto certs = raw.find("rsa3072", CKO_CERTIFICATE);
    ASSERT_EQ(certs.size(), 1u);
    p11tls::Module m;
    as_module(raw, &m);
    const auto der = p11tls::get_attribute(&m, raw.session(), certs[0], CKA_VALUE);
    ASSERT_GT(der.size(), p11tls::kAttributeRoom);

    p11tls::Attributes a(&m, raw.session(), certs[0],
                         {CKA_CLASS, CKA_X_DISTRUSTED, CKA_VALUE, CKA_LABEL});
    EXPECT_EQ(a.get(CKA_VALUE), der);
    EXPECT_TRUE(a.get(CKA_X_DISTRUSTED).empty());
    EXPECT_EQ(a.get(CKA_LABEL), bytes("rsa3072"));
    CK_OBJECT_CLASS cls = 0;
    EXPECT_TRUE(a.scalar(CKA_CLASS, &cls));
    EXPECT_EQ(cls, (CK_OBJECT_CLASS)CKO_CERTIFICATE);
}

// A private key's sensitive value beside a 1,000-byte label.
TEST(AttributeBatch, LargeValueBesideASensitiveOne) {
    REQUIRE_TOKEN();
    RawToken raw;
    ASSERT_TRUE(raw.ok()) << raw.why();
    const std::string label(1000, 'B');
    th::Pubkey pub;
    pub.k = raw.ec_pair(label, "\x61");
    ASSERT_NE(pub.k, nullptr);
    auto keys = raw.find(label, CKO_PRIVATE_KEY);
    ASSERT_EQ(keys.size(), 1u);
    p11tls::Module m;
    as_module(raw, &m);

    p11tls::Attributes a(&m, raw.session(), keys[0], {CKA_CLASS, CKA_VALUE, CKA_LABEL, CKA_ID});
    EXPECT_TRUE(a.get(CKA_VALUE).empty());
    EXPECT_EQ(a.get(CKA_LABEL), bytes(label));
    EXPECT_EQ(a.get(CKA_ID), bytes("\x61"));
}
