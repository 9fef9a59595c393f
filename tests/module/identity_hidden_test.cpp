// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Key identity on a token that does not show a key's public half on the
// private key object (the test module hides an RSA key's modulus and
// exponent there: P11TLS_TESTMOD_HIDE_PUBLIC; real tokens do so for EC
// keys, doc/security.md). Issue 24, item 1, decryption: a key not proven
// by its attributes decrypts a random challenge encrypted to its public
// key before it decrypts the caller's ciphertext, once per binding; when
// the private key was replaced (its public key object left as it was), a
// decryption is P11TLS_E_KEY_MISMATCH and no plaintext is written, and a
// signature P11TLS_E_KEY_MISMATCH too (its check in software fails).
#include <gtest/gtest.h>

#include <gnutls/abstract.h>

#include <cstring>
#include <string>
#include <vector>

#include <p11tls/p11tls.h>

#include "../support/raw_token.hpp"
#include "../support/testmod.hpp"

namespace {

using namespace tmh;

const char kUri[] = "pkcs11:token=p11tls-test;object=hid-rsa;type=private;pin-value=1234";

size_t decrypts_since(size_t mark) { return count_calls(read_log(), getpid(), "C_Decrypt", mark); }

}  // namespace

TEST(HiddenPublicChild, DecryptProvesFirst) {
    if (!in_child("P11TLS_HIDDEN_PUBLIC_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    th::RawToken raw;
    ASSERT_TRUE(raw.ok());
    raw.destroy("hid-rsa");
    th::Pubkey pub;
    pub.k = raw.rsa_pair("hid-rsa", "\x81");
    ASSERT_NE(pub.k, nullptr);

    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), kUri, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(key.spki(), pub.spki());  // from its public key object
    const unsigned char secret[] = "the plaintext of the hidden key";
    gnutls_datum_t p = {(unsigned char *)secret, sizeof secret}, ct = {nullptr, 0};
    ASSERT_GE(gnutls_pubkey_encrypt_data(pub.k, 0, &p, &ct), 0);
    for (size_t want_calls : {2u, 1u}) {  // the challenge first, once
        const size_t mark = read_log().size();
        uint8_t pt[256];
        size_t pt_len = sizeof pt;
        ASSERT_EQ(p11tls_key_decrypt(key.get(), P11TLS_DECRYPT_RSA_PKCS1, ct.data, ct.size, pt, &pt_len), 0)
            << p11tls_last_error_detail();
        EXPECT_EQ(pt_len, sizeof secret);
        EXPECT_EQ(memcmp(pt, secret, sizeof secret), 0);
        EXPECT_EQ(decrypts_since(mark), want_calls);
    }

    // Another key under the same label and ID; the public key object stays.
    th::Pubkey other;
    other.k = raw.replace_private_key("hid-rsa", "\x81", true);
    ASSERT_NE(other.k, nullptr);
    gnutls_datum_t ct2 = {nullptr, 0};
    ASSERT_GE(gnutls_pubkey_encrypt_data(other.k, 0, &p, &ct2), 0);
    for (const gnutls_datum_t *c : {&ct, &ct2}) {
        uint8_t pt[256];
        memset(pt, 0xaa, sizeof pt);
        size_t pt_len = sizeof pt;
        EXPECT_EQ(p11tls_key_decrypt(key.get(), P11TLS_DECRYPT_RSA_PKCS1, c->data, c->size, pt, &pt_len),
                  P11TLS_E_KEY_MISMATCH)
            << p11tls_last_error_detail();
        for (uint8_t b : pt) ASSERT_EQ(b, 0xaa) << "plaintext written";
    }
    uint8_t sig[256];
    size_t sig_len = sizeof sig;
    EXPECT_EQ(p11tls_key_sign(key.get(), P11TLS_SIG_RSA_PKCS1_SHA256, secret, sizeof secret, sig, &sig_len),
              P11TLS_E_KEY_MISMATCH)
        << p11tls_last_error_detail();
    gnutls_free(ct.data);
    gnutls_free(ct2.data);
    raw.destroy("hid-rsa");
    raw.destroy("hid-rsa-replacement");
}

TEST(HiddenPublic, DecryptProvesTheKeyFirst) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("HiddenPublicChild.*", "P11TLS_HIDDEN_PUBLIC_CHILD",
                            {{"P11TLS_TESTMOD_HIDE_PUBLIC", "1"}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}
