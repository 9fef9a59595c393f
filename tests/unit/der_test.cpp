// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The trust glue's own DER (lib/gnutls/der.cpp): stapled extensions taken
// apart strictly, serial numbers as DER INTEGERs, and the unsigned CRL of
// distrust by serial number (lib/gnutls/distrust_crl.cpp) as GnuTLS reads
// it.
#include <gtest/gtest.h>

#include <gnutls/x509.h>

#include "gnutls/der.hpp"
#include "gnutls/distrust_crl.hpp"

using p11tls::Der;

TEST(Der, ExtensionTakenApart) {
    // Basic constraints, critical, cA FALSE: 30 0c 06 03 55 1d 13 01 01 ff 04 02 30 00
    const Der bc = {0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00};
    p11tls::Extension e;
    ASSERT_TRUE(p11tls::parse_extension(bc, &e));
    EXPECT_EQ(e.oid, "2.5.29.19");
    EXPECT_TRUE(e.critical);
    EXPECT_EQ(e.value, (Der{0x30, 0x00}));
    // Not critical (no BOOLEAN), an OID with multi-byte arcs:
    // 1.3.6.1.4.1.311.60.2.1.3 (2b 06 01 04 01 82 37 3c 02 01 03).
    const Der ev = {0x30, 0x11, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37,
                    0x3c, 0x02, 0x01, 0x03, 0x04, 0x02, 0x05, 0x00};
    ASSERT_TRUE(p11tls::parse_extension(ev, &e));
    EXPECT_EQ(e.oid, "1.3.6.1.4.1.311.60.2.1.3");
    EXPECT_FALSE(e.critical);
}

TEST(Der, MalformedExtensionsRefused) {
    const Der good = {0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00};
    p11tls::Extension e;
    const Der trailing = {0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00, 0x00};
    EXPECT_FALSE(p11tls::parse_extension(trailing, &e));
    const Der truncated = {0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30};
    EXPECT_FALSE(p11tls::parse_extension(truncated, &e));
    // A BOOLEAN neither 00 nor ff.
    const Der bad_bool = {0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0x01, 0x04, 0x02, 0x30, 0x00};
    EXPECT_FALSE(p11tls::parse_extension(bad_bool, &e));
    // A length in the long form that had to be short.
    const Der long_form = {0x30, 0x81, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01,
                           0x01, 0xff, 0x04, 0x02, 0x30, 0x00};
    EXPECT_FALSE(p11tls::parse_extension(long_form, &e));
    EXPECT_TRUE(p11tls::parse_extension(good, &e));
    EXPECT_FALSE(p11tls::parse_extension(Der{}, &e));
    Der no_value = {0x30, 0x05, 0x06, 0x03, 0x55, 0x1d, 0x13};
    EXPECT_FALSE(p11tls::parse_extension(no_value, &e));
}

TEST(Der, SerialNumbersAsIntegers) {
    EXPECT_EQ(p11tls::der_integer_of(Der{0x02, 0x01, 0x05}), (Der{0x02, 0x01, 0x05}));  // DER already
    EXPECT_EQ(p11tls::der_integer_of(Der{0x8f, 0x01}), (Der{0x02, 0x03, 0x00, 0x8f, 0x01}));  // bare
    EXPECT_EQ(p11tls::der_integer_from_bytes(Der{0x00, 0x00, 0x7f}), (Der{0x02, 0x01, 0x7f}));
    EXPECT_EQ(p11tls::der_integer_from_bytes(Der{0x02, 0x01, 0x05}), (Der{0x02, 0x03, 0x02, 0x01, 0x05}));
    EXPECT_TRUE(p11tls::der_integer_of(Der{}).empty());
}

TEST(Der, DistrustCrlReadByGnutls) {
    // The issuer "CN=x": 30 0c 31 0a 30 08 06 03 55 04 03 0c 01 78
    const Der issuer = {0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03,
                        0x55, 0x04, 0x03, 0x0c, 0x01, 0x78};
    gnutls_x509_crl_t crl = p11tls::distrust_crl(issuer, {Der{0x02, 0x01, 0x05}, Der{0x8f, 0x01}}, 1700000000);
    ASSERT_NE(crl, nullptr);
    EXPECT_EQ(gnutls_x509_crl_get_crt_count(crl), 2);
    unsigned char serial[16];
    size_t n = sizeof serial;
    ASSERT_GE(gnutls_x509_crl_get_crt_serial(crl, 1, serial, &n, nullptr), 0);
    EXPECT_EQ(Der(serial, serial + n), (Der{0x00, 0x8f, 0x01}));
    gnutls_datum_t dn = {nullptr, 0};
    ASSERT_GE(gnutls_x509_crl_get_raw_issuer_dn(crl, &dn), 0);
    EXPECT_EQ(Der(dn.data, dn.data + dn.size), issuer);
    gnutls_free(dn.data);
    gnutls_x509_crl_deinit(crl);
    // No usable serial number, or an issuer that is no Name: no CRL.
    EXPECT_EQ(p11tls::distrust_crl(issuer, {Der{}}, 1700000000), nullptr);
    EXPECT_EQ(p11tls::distrust_crl(Der{0x04, 0x00}, {Der{0x02, 0x01, 0x05}}, 1700000000), nullptr);
}
