// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Unit tests: URIs written by someone else (config files, command lines).
// Whatever the text, Uri::parse gives a URI that means exactly what the text
// says or throws P11TLS_E_INVALID_URI; it never crashes and never quietly
// drops part of the URI (which would widen what it matches). Syntax that
// uri_test.cpp already covers (bad %-encoding, unknown attributes,
// type=nonsense) is extended here, not repeated.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "uri/uri.hpp"

using p11tls::Error;
using p11tls::Uri;

namespace {

int parse_code(const std::string &text) {
    try {
        Uri::parse(text.c_str());
        return 0;
    } catch (const Error &e) {
        return e.code();
    }
}

std::string id_of(const Uri &u) {
    for (const CK_ATTRIBUTE &a : u.object_template())
        if (a.type == CKA_ID) return std::string(static_cast<const char *>(a.pValue), a.ulValueLen);
    return "(none)";
}

}  // namespace

TEST(UriHostile, OneMebibyteUri) {
    std::string huge = "pkcs11:object=" + std::string(1 << 20, 'a');
    EXPECT_EQ(parse_code(huge), P11TLS_E_INVALID_URI);
    // The limit itself: exactly kMaxUriLength bytes parse, one more do not.
    std::string at_limit = "pkcs11:object=";
    at_limit.resize(p11tls::kMaxUriLength, 'b');
    EXPECT_EQ(parse_code(at_limit), 0);
    EXPECT_EQ(parse_code(at_limit + "b"), P11TLS_E_INVALID_URI);
}

// The C API takes C strings, so a raw NUL simply ends the URI. %00 is the
// only way to put a zero byte in: fine in id (binary), refused elsewhere.
// p11-kit accepts %00 everywhere, but hands pin-value, pin-source and the
// module attributes on as C strings (pin-value=12%0034 would log in with
// "12"), and no token label, model or object label can hold a zero byte.
TEST(UriHostile, NulOnlyInId) {
    Uri u = Uri::parse("pkcs11:id=%00%01%00");
    EXPECT_EQ(id_of(u), std::string("\0\1\0", 3));
    for (const char *t : {"pkcs11:token=a%00b", "pkcs11:object=%00", "pkcs11:manufacturer=a%00",
                          "pkcs11:model=%00x", "pkcs11:serial=1%002", "pkcs11:slot-description=%00",
                          "pkcs11:slot-manufacturer=a%00", "pkcs11:library-description=%00",
                          "pkcs11:library-manufacturer=%00", "pkcs11:token=a?pin-value=12%0034",
                          "pkcs11:token=a;pin-value=12%0034", "pkcs11:token=a?pin-source=/etc/pin%00.txt",
                          "pkcs11:token=a?module-name=soft%00hsm", "pkcs11:token=a?module-path=/a%00/b.so"})
        EXPECT_EQ(parse_code(t), P11TLS_E_INVALID_URI) << t;
}

TEST(UriHostile, InvalidPercentEncoding) {
    for (const char *t : {"pkcs11:token=%", "pkcs11:token=a%", "pkcs11:id=%0", "pkcs11:id=%0g",
                          "pkcs11:object=%%41", "pkcs11:token=a?pin-value=%zz",
                          "pkcs11:token=a?module-path=%2", "pkcs11:serial=%-1"})
        EXPECT_EQ(parse_code(t), P11TLS_E_INVALID_URI) << t;
}

TEST(UriHostile, UnknownAttributes) {
    for (const char *t : {"pkcs11:Token=a", "pkcs11:token=a;TYPE=cert", "pkcs11:token",
                          "pkcs11:=a", "pkcs11:token=a?PIN-VALUE=1", "pkcs11:token=a?pin-value",
                          "pkcs11:token=a?=1", "pkcs11:token=a?x-=1"})
        EXPECT_EQ(parse_code(t), P11TLS_E_INVALID_URI) << t;
}

// Each would otherwise mean something the text does not say: p11-kit reads
// "slot-id=" as slot 0 and an overflowing slot-id as "any slot".
TEST(UriHostile, WrongValueTypes) {
    for (const char *t : {"pkcs11:type=bogus", "pkcs11:type=", "pkcs11:type=PRIVATE", "pkcs11:slot-id=abc",
                          "pkcs11:slot-id=-1", "pkcs11:slot-id=1x", "pkcs11:slot-id=",
                          "pkcs11:slot-id=99999999999999999999999999",
                          "pkcs11:slot-id=18446744073709551615", "pkcs11:slot-id=%31",
                          "pkcs11:library-version=abc", "pkcs11:library-version=1.2.3",
                          "pkcs11:library-version=1.", "pkcs11:token=" "123456789012345678901234567890123"})
        EXPECT_EQ(parse_code(t), P11TLS_E_INVALID_URI) << t;
    // The same attributes with values of the right type do parse.
    for (const char *t : {"pkcs11:type=private", "pkcs11:slot-id=17", "pkcs11:library-version=1.2",
                          "pkcs11:token=" "12345678901234567890123456789012"})
        EXPECT_EQ(parse_code(t), 0) << t;
}

// p11-kit keeps the last of two equal attributes: object=a;object=b would
// open b although a reader (or a filter on the config file) sees a.
TEST(UriHostile, AttributeTwice) {
    for (const char *t : {"pkcs11:object=a;object=b", "pkcs11:id=%01;token=t;id=%02",
                          "pkcs11:token=a?pin-value=1&pin-value=2", "pkcs11:pin-value=1?pin-value=2",
                          "pkcs11:token=a?module-path=/a.so&module-path=/b.so"})
        EXPECT_EQ(parse_code(t), P11TLS_E_INVALID_URI) << t;
}

// Found by tests/fuzz (crashes/uri/): p11-kit reads what follows an empty
// path element as an ignored query attribute, so these would match any
// token; and it drops raw whitespace, so "My Token" would mean "MyToken".
TEST(UriHostile, EmptyElementsAndWhitespace) {
    for (const char *t : {"pkcs11:;token=a", "pkcs11:model=m;;token=a", "pkcs11:token=a?&pin-value=1",
                          "pkcs11:token=My Token", "pkcs11:token=a\tb", "pkcs11:token=a\n",
                          "pkcs11:\x0b;object=a", "pkcs11:object=a\x7f"})
        EXPECT_EQ(parse_code(t), P11TLS_E_INVALID_URI) << t;
    EXPECT_EQ(parse_code("pkcs11:token=My%20Token"), 0);
    EXPECT_EQ(parse_code("pkcs11:token=a;"), 0);  // a trailing ';' hides nothing
}

// What a refused URI would have matched is never used: parse throws before
// a Uri exists, so there is nothing to match with. What is accepted keeps
// every attribute through format and parse (the fuzz target checks the same
// on random input).
TEST(UriHostile, AcceptedUrisRoundTrip) {
    for (const char *t : {"pkcs11:token=p11tls-test;object=p256;type=private?pin-value=1234",
                          "pkcs11:id=%00%ff;model=SoftHSM%20v2;slot-id=3?module-name=softhsm2",
                          "pkcs11:library-version=2.6;object=a%3Bb%3Fc?pin-source=file:%2Fetc%2Fpin"}) {
        Uri a = Uri::parse(t);
        std::string f = a.format().c_str();
        Uri b = Uri::parse(f.c_str());
        EXPECT_TRUE(a.same_as(b)) << t << " -> " << f;
        EXPECT_EQ(std::string(b.format().c_str()), f);
    }
    // same_as can fail: a different URI is not the same.
    EXPECT_FALSE(Uri::parse("pkcs11:object=a").same_as(Uri::parse("pkcs11:object=b")));
    EXPECT_FALSE(Uri::parse("pkcs11:token=a").same_as(Uri::parse("pkcs11:token=a?pin-value=1")));
    EXPECT_FALSE(Uri::parse("pkcs11:slot-id=1").same_as(Uri::parse("pkcs11:slot-id=2")));
}
