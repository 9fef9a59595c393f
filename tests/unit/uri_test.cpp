// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Unit tests: RFC 7512 URI parsing (lib/uri).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "base/error.hpp"
#include "pkcs11/padding.hpp"
#include "uri/uri.hpp"

using p11tls::Error;
using p11tls::Uri;

namespace {

int parse_code(const char *text) {
    try {
        Uri::parse(text);
        return 0;
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()), "") << text;
        return e.code();
    }
}

const CK_ATTRIBUTE *find_attr(const std::vector<CK_ATTRIBUTE> &v, CK_ATTRIBUTE_TYPE t) {
    for (const CK_ATTRIBUTE &a : v)
        if (a.type == t) return &a;
    return nullptr;
}

}  // namespace

TEST(Uri, ValidUris) {
    EXPECT_EQ(parse_code("pkcs11:"), 0);
    EXPECT_EQ(parse_code(nullptr), 0);
    EXPECT_EQ(parse_code(""), 0);
    EXPECT_EQ(parse_code("pkcs11:token=p11tls-test"), 0);
    EXPECT_EQ(parse_code("pkcs11:token=p11tls-test;object=p256;type=private"), 0);
    EXPECT_EQ(parse_code("pkcs11:token=a%20b;id=%01%02;type=cert"), 0);
    EXPECT_EQ(parse_code("pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=1"), 0);
    EXPECT_EQ(parse_code("pkcs11:token=x?pin-value=1234"), 0);
    EXPECT_EQ(parse_code("pkcs11:token=x?module-name=softhsm2"), 0);
}

TEST(Uri, InvalidUris) {
    EXPECT_EQ(parse_code("http://example.com/"), P11TLS_E_INVALID_URI);
    EXPECT_EQ(parse_code("token=p11tls-test"), P11TLS_E_INVALID_URI);
    EXPECT_EQ(parse_code("PKCS11"), P11TLS_E_INVALID_URI);
    EXPECT_EQ(parse_code("pkcs11:type=nonsense"), P11TLS_E_INVALID_URI);
}

TEST(Uri, UnknownAttributeIsInvalid) {
    EXPECT_EQ(parse_code("pkcs11:frobnicate=1"), P11TLS_E_INVALID_URI);
    EXPECT_EQ(parse_code("pkcs11:token=x;frobnicate=1"), P11TLS_E_INVALID_URI);
    // A misspelt query attribute must not be silently ignored.
    EXPECT_EQ(parse_code("pkcs11:token=x?pin-sorce=/etc/pin"), P11TLS_E_INVALID_URI);
    EXPECT_EQ(parse_code("pkcs11:token=x?pin-value=1&frobnicate=1"), P11TLS_E_INVALID_URI);
    EXPECT_EQ(parse_code("pkcs11:token=x?pin-value=1&module-name=softhsm2"), 0);
    EXPECT_EQ(parse_code("pkcs11:token=x?x-vendor=1"), 0);
}

// The detail a refused URI gets, "" if it parses.
static std::string parse_detail(const char *text) {
    try {
        Uri::parse(text);
        return "";
    } catch (const Error &e) {
        return e.what();
    }
}

// The error names what it did not recognize and suggests the near name
// (issue 28: both gave only "an unrecognized attribute").
TEST(Uri, UnrecognizedIsNamedWithTheNearName) {
    EXPECT_NE(parse_detail("pkcs11:token=x;objekt=p256").find(
                  "unrecognized attribute \"objekt\" (did you mean \"object\"?)"),
              std::string::npos)
        << parse_detail("pkcs11:token=x;objekt=p256");
    EXPECT_NE(parse_detail("pkcs11:object=p256;type=privat").find(
                  "unrecognized type \"privat\" (did you mean \"private\"?)"),
              std::string::npos)
        << parse_detail("pkcs11:object=p256;type=privat");
    EXPECT_NE(parse_detail("pkcs11:Token=x").find("\"Token\" (did you mean \"token\"?)"),
              std::string::npos);
    EXPECT_NE(parse_detail("pkcs11:type=certificate").find("(did you mean \"cert\"?)"),
              std::string::npos);
    EXPECT_NE(parse_detail("pkcs11:token=x?pin-sorce=/etc/pin").find(
                  "\"pin-sorce\" (did you mean \"pin-source\"?)"),
              std::string::npos);
    EXPECT_NE(parse_detail("pkcs11:token=x;module-name=m").find("belongs in the query"),
              std::string::npos);
    // Nothing near: the names there are.
    EXPECT_NE(parse_detail("pkcs11:frobnicate=1").find("attributes: token, manufacturer"),
              std::string::npos);
    // What is not a plain word is not repeated: it could be a PIN.
    EXPECT_EQ(parse_detail("pkcs11:token=x;12345678=1").find("12345678"), std::string::npos);
    EXPECT_EQ(parse_detail("pkcs11:token=x;object=a;type=secretkey"), "");
}

TEST(Uri, BadPercentEncoding) {
    EXPECT_EQ(parse_code("pkcs11:object=%zz"), P11TLS_E_INVALID_URI);
    EXPECT_EQ(parse_code("pkcs11:object=%4"), P11TLS_E_INVALID_URI);
    EXPECT_EQ(parse_code("pkcs11:id=%g1"), P11TLS_E_INVALID_URI);
}

TEST(Uri, Accessors) {
    Uri u = Uri::parse("pkcs11:token=t?pin-value=1234&module-name=softhsm2");
    ASSERT_NE(u.pin_value(), nullptr);
    EXPECT_STREQ(u.pin_value(), "1234");
    ASSERT_NE(u.module_name(), nullptr);
    EXPECT_STREQ(u.module_name(), "softhsm2");
    EXPECT_EQ(u.pin_source(), nullptr);
    EXPECT_EQ(u.module_path(), nullptr);

    Uri v = Uri::parse("pkcs11:token=t?pin-source=file:/tmp/pin&module-path=/x/y.so");
    EXPECT_EQ(v.pin_value(), nullptr);
    ASSERT_NE(v.pin_source(), nullptr);
    EXPECT_STREQ(v.pin_source(), "file:/tmp/pin");
    ASSERT_NE(v.module_path(), nullptr);
    EXPECT_STREQ(v.module_path(), "/x/y.so");

    Uri w = Uri::parse("pkcs11:token=t");
    EXPECT_EQ(w.pin_value(), nullptr);
    EXPECT_EQ(w.module_name(), nullptr);
}

TEST(Uri, MoveKeepsContent) {
    Uri a = Uri::parse("pkcs11:token=t?pin-value=42");
    Uri b = std::move(a);
    ASSERT_NE(b.pin_value(), nullptr);
    EXPECT_STREQ(b.pin_value(), "42");
    Uri c;
    c = std::move(b);
    EXPECT_STREQ(c.pin_value(), "42");
}

TEST(Uri, ObjectTemplate) {
    Uri u = Uri::parse("pkcs11:token=t;object=my%20key;id=%01%7f;type=private");
    auto tmpl = u.object_template();
    EXPECT_EQ(tmpl.size(), 3u);
    const CK_ATTRIBUTE *label = find_attr(tmpl, CKA_LABEL);
    ASSERT_NE(label, nullptr);
    ASSERT_EQ(label->ulValueLen, 6u);
    EXPECT_EQ(memcmp(label->pValue, "my key", 6), 0);
    const CK_ATTRIBUTE *id = find_attr(tmpl, CKA_ID);
    ASSERT_NE(id, nullptr);
    ASSERT_EQ(id->ulValueLen, 2u);
    EXPECT_EQ(static_cast<const unsigned char *>(id->pValue)[0], 0x01);
    EXPECT_EQ(static_cast<const unsigned char *>(id->pValue)[1], 0x7f);
    ASSERT_NE(find_attr(tmpl, CKA_CLASS), nullptr);
    EXPECT_TRUE(u.has_class());
    EXPECT_EQ(u.object_class(), (CK_OBJECT_CLASS)CKO_PRIVATE_KEY);

    Uri c = Uri::parse("pkcs11:type=cert");
    EXPECT_EQ(c.object_class(), (CK_OBJECT_CLASS)CKO_CERTIFICATE);
    Uri p = Uri::parse("pkcs11:type=public");
    EXPECT_EQ(p.object_class(), (CK_OBJECT_CLASS)CKO_PUBLIC_KEY);

    Uri t = Uri::parse("pkcs11:token=t");
    EXPECT_TRUE(t.object_template().empty());
    EXPECT_FALSE(t.has_class());
}

TEST(Uri, TokenMatching) {
    CK_TOKEN_INFO ti;
    memset(&ti, ' ', sizeof ti);
    memcpy(ti.label, "p11tls-test", 11);
    memcpy(ti.model, "SoftHSM v2", 10);
    EXPECT_TRUE(Uri::parse("pkcs11:token=p11tls-test").matches_token(ti));
    EXPECT_TRUE(Uri::parse("pkcs11:").matches_token(ti));
    EXPECT_FALSE(Uri::parse("pkcs11:token=other").matches_token(ti));
    EXPECT_TRUE(Uri::parse("pkcs11:model=SoftHSM%20v2").matches_token(ti));
}

TEST(Uri, FormatRoundTrip) {
    CK_TOKEN_INFO ti;
    memset(&ti, ' ', sizeof ti);
    memcpy(ti.label, "p11tls-test", 11);
    std::string tu = p11tls::format_token_uri(ti);
    EXPECT_EQ(tu.rfind("pkcs11:", 0), 0u) << tu;
    EXPECT_NE(tu.find("token=p11tls-test"), std::string::npos) << tu;
    EXPECT_TRUE(Uri::parse(tu.c_str()).matches_token(ti));

    std::string ou = p11tls::format_object_uri(ti, CKO_PRIVATE_KEY, "p256", {0x03});
    Uri o = Uri::parse(ou.c_str());
    EXPECT_TRUE(o.matches_token(ti));
    EXPECT_EQ(o.object_class(), (CK_OBJECT_CLASS)CKO_PRIVATE_KEY);
    EXPECT_NE(ou.find("object=p256"), std::string::npos) << ou;
    EXPECT_NE(ou.find("id=%03"), std::string::npos) << ou;
    EXPECT_EQ(ou.find("pin-value"), std::string::npos) << ou;
}

// tpm2-pkcs11 pads its token's model with NUL bytes ("SW   TPM" and 8
// NULs), its spare slot's label too: read through unpad_nuls, as
// ModuleState reads token info, the printed URI has no %00, parses, and
// names the token, by itself and as a URI naming the model does.
TEST(Uri, NulPaddedTokenFieldsRoundTrip) {
    CK_TOKEN_INFO ti;
    memset(&ti, ' ', sizeof ti);
    memset(ti.model, 0, sizeof ti.model);
    memcpy(ti.model, "SW   TPM", 8);
    memset(ti.label, 0, sizeof ti.label);
    memcpy(ti.label, "p11tls-tpm", 10);
    memcpy(ti.serialNumber, "0000000000000000", 16);
    EXPECT_NE(p11tls::format_token_uri(ti).find("%00"), std::string::npos)
        << "the test no longer shows the module's padding";
    p11tls::unpad_nuls(ti);
    const std::string tu = p11tls::format_token_uri(ti);
    EXPECT_EQ(tu.find("%00"), std::string::npos) << tu;
    EXPECT_TRUE(Uri::parse(tu.c_str()).matches_token(ti)) << tu;
    EXPECT_TRUE(Uri::parse("pkcs11:model=SW%20%20%20TPM;token=p11tls-tpm").matches_token(ti));
    const std::string ou = p11tls::format_object_uri(ti, CKO_PRIVATE_KEY, "p256", {0x01});
    EXPECT_TRUE(Uri::parse(ou.c_str()).matches_token(ti)) << ou;
    EXPECT_EQ(P11TLS_FIELD(ti.model), "SW   TPM");

    // A NUL inside the text is the module's own, not padding.
    CK_SLOT_INFO si;
    memset(&si, 0, sizeof si);
    memcpy(si.slotDescription, "a\0b", 3);
    p11tls::unpad_nuls(si);
    EXPECT_EQ(std::string(reinterpret_cast<const char *>(si.slotDescription), 4), std::string("a\0b ", 4));
    EXPECT_EQ(P11TLS_FIELD(si.manufacturerID), "");
}

TEST(Uri, Pkcs11String) {
    const unsigned char f[8] = {'a', 'b', ' ', 'c', ' ', ' ', ' ', ' '};
    EXPECT_EQ(p11tls::pkcs11_string(f, sizeof f), "ab c");
    const unsigned char blank[4] = {' ', ' ', ' ', ' '};
    EXPECT_EQ(p11tls::pkcs11_string(blank, sizeof blank), "");
}

TEST(Uri, PinValueInPath) {
    // Older style used by many tools: pin-value as a path attribute.
    Uri u = Uri::parse("pkcs11:token=p11tls-test;object=p256;type=private;pin-value=1234");
    ASSERT_NE(u.pin_value(), nullptr);
    EXPECT_STREQ(u.pin_value(), "1234");
}
