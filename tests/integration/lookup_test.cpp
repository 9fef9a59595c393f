// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: how p11tls_key_open finds a key among objects that share its
// name, by a search and from the object index (each case opens twice; the
// suite lookup-noindex runs them without the index). A search by label or
// CKA_ID finds the key, its public key and its certificate in one scan
// (lib/key/find.cpp find_named); these tests pin down
// what that search must still get right: the public key taken from the
// right companion, values larger than the one-call attribute read expects,
// ambiguity, and more objects sharing the name than the named search takes.
//
// The objects are session objects made through the same SoftHSM instance
// p11tls uses (dlopen of the module p11-kit loads), so they vanish with the
// test's session and no other test sees them.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <p11-kit/pkcs11.h>

#include <p11tls/p11tls.h>

#include "../support/helpers.hpp"
#include "../support/raw_token.hpp"

namespace {

const char kMsg[] = "lookup test message";

using th::Pubkey;
using th::RawToken;

// Opens uri: the key records want as its public key (the identity it is
// checked against after fork), and its signature verifies with want.
void expect_signs_as_once(const std::string &uri, gnutls_pubkey_t want) {
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, uri.c_str(), 0, key.put()), 0) << p11tls_last_error_detail();
    gnutls_datum_t want_der = {nullptr, 0};
    ASSERT_GE(gnutls_pubkey_export2(want, GNUTLS_X509_FMT_DER, &want_der), 0);
    uint8_t *spki = nullptr;
    size_t spki_len = 0;
    ASSERT_EQ(p11tls_key_get_spki(key.get(), &spki, &spki_len), 0);
    EXPECT_EQ(std::vector<uint8_t>(spki, spki + spki_len),
              std::vector<uint8_t>(want_der.data, want_der.data + want_der.size));
    p11tls_free(spki);
    gnutls_free(want_der.data);
    uint8_t sig[128];
    size_t sig_len = sizeof sig;
    ASSERT_EQ(p11tls_key_sign(key.get(), P11TLS_SIG_ECDSA_SECP256R1_SHA256, (const uint8_t *)kMsg,
                              sizeof kMsg - 1, sig, &sig_len),
              0)
        << p11tls_last_error_detail();
    gnutls_datum_t m = {(unsigned char *)kMsg, sizeof kMsg - 1}, s = {sig, (unsigned)sig_len};
    EXPECT_GE(gnutls_pubkey_verify_data2(want, GNUTLS_SIGN_ECDSA_SHA256, 0, &m, &s), 0);
}

// Twice: the first open searches (the objects are new), the second is
// answered by the object index (lib/world/object_index.hpp) unless
// P11TLS_NO_OBJECT_INDEX is set (the suite lookup-noindex): both must find
// the same key.
void expect_signs_as(const std::string &uri, gnutls_pubkey_t want) {
    expect_signs_as_once(uri, want);
    expect_signs_as_once(uri, want);
}

std::string uri_for(const std::string &label) {
    return "pkcs11:token=p11tls-test;object=" + label + ";type=private;pin-value=" + th::test_pin();
}

}  // namespace

// Labels longer than the room the one-call attribute read gives a value
// (kAttributeRoom): read again on their own, and the key is still found
// with its own public key.
TEST(Lookup, LabelLargerThanAttributeRoom) {
    REQUIRE_TOKEN();
    RawToken raw;
    ASSERT_TRUE(raw.ok()) << raw.why();
    const std::string label(1000, 'L');
    Pubkey pub;
    pub.k = raw.ec_pair(label, "\x71\x72");
    ASSERT_NE(pub.k, nullptr);
    expect_signs_as(uri_for(label), pub.k);
}

// Two key pairs share a label; their IDs differ. Opening by label is
// ambiguous; by label and ID each opens with its own public key, not the
// other's (both public keys are companions of the named search).
TEST(Lookup, SharedLabelTakesThePublicKeyWithTheKeysId) {
    REQUIRE_TOKEN();
    RawToken raw;
    ASSERT_TRUE(raw.ok()) << raw.why();
    Pubkey a, b;
    a.k = raw.ec_pair("twins", "\x0a");
    b.k = raw.ec_pair("twins", "\x0b");
    ASSERT_TRUE(a.k && b.k);
    for (int i = 0; i < 2; ++i) {  // searched, then from the index
        p11tls_cxx::key key;
        EXPECT_EQ(p11tls_key_open(nullptr, uri_for("twins").c_str(), 0, key.put()), P11TLS_E_AMBIGUOUS);
    }
    expect_signs_as(uri_for("twins") + ";id=%0a", a.k);
    expect_signs_as(uri_for("twins") + ";id=%0b", b.k);
}

// A public key of another key shares the label: the key is unique, and its
// public key is the companion with its CKA_ID, whichever the token lists
// first.
TEST(Lookup, CompanionWithAnotherIdIsNotThePublicKey) {
    REQUIRE_TOKEN();
    RawToken raw;
    ASSERT_TRUE(raw.ok()) << raw.why();
    Pubkey other1, mine, other2;
    other1.k = raw.ec_pair("pair", "\x0d", "not-pair-1");
    mine.k = raw.ec_pair("pair", "\x0e");
    other2.k = raw.ec_pair("pair", "\x0f", "not-pair-2");
    ASSERT_TRUE(other1.k && mine.k && other2.k);
    expect_signs_as(uri_for("pair"), mine.k);
}

// More objects share the key's label than the named search takes: the key
// is found by a search for private keys instead.
TEST(Lookup, CrowdedLabelFallsBackToClassSearch) {
    REQUIRE_TOKEN();
    RawToken raw;
    ASSERT_TRUE(raw.ok()) << raw.why();
    for (int i = 0; i < 12; ++i) ASSERT_TRUE(raw.data_object("crowd"));
    Pubkey pub;
    pub.k = raw.ec_pair("crowd", "\x0c");
    ASSERT_NE(pub.k, nullptr);
    expect_signs_as(uri_for("crowd"), pub.k);
}
