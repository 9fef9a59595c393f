// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: a key signs only as itself (issue 24, item 1). Another
// process replaces the private key alone (same label and CKA_ID; the old
// public key object and certificate stay, and still match the URI): from
// then on no call returns a signature that does not verify under the
// public key the key reports (p11tls_key_get_spki), in this process, in a
// child forked afterwards and in a new open; each says
// P11TLS_E_KEY_MISMATCH instead. SoftHSM's EC private keys show no public
// key of their own, so this is the proof by the first signature
// (key/identity.hpp). Built into tests/index_tests: the suites index and
// lookup-noindex run it with the object index on and off, each with
// reset_on_fork true and false.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <gnutls/abstract.h>

#include <p11tls/p11tls.h>
#include <p11tls/p11tls.hpp>

#include "../support/helpers.hpp"
#include "../support/raw_token.hpp"

namespace {

using th::Pubkey;
using th::RawToken;

const char kLabel[] = "id-swap";
const char kId[] = "\x61";
const uint8_t kMsg[] = "the key that signs";

std::string uri() { return th::key_uri(kLabel); }

// How a signature by key came out.
enum Outcome { kVerifies = 0, kMismatch = 1, kWrongSignature = 2, kOtherError = 3 };

// Signs kMsg with key and checks the result against the SPKI the key
// reports: a signature that does not verify is kWrongSignature, whatever
// the return code said.
Outcome sign_and_check(p11tls_key *key) {
    uint8_t *spki = nullptr;
    size_t spki_len = 0;
    if (p11tls_key_get_spki(key, &spki, &spki_len) != 0) return kOtherError;
    Pubkey pk;
    gnutls_pubkey_init(&pk.k);
    gnutls_datum_t d = {spki, (unsigned)spki_len};
    const int imported = gnutls_pubkey_import(pk.k, &d, GNUTLS_X509_FMT_DER);
    p11tls_free(spki);
    if (imported < 0) return kOtherError;
    uint8_t sig[256];
    size_t sig_len = sizeof sig;
    const int rc = p11tls_key_sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, kMsg, sizeof kMsg, sig, &sig_len);
    if (rc == P11TLS_E_KEY_MISMATCH) return kMismatch;
    if (rc != 0) return kOtherError;
    gnutls_datum_t m = {(unsigned char *)kMsg, sizeof kMsg}, s = {sig, (unsigned)sig_len};
    return gnutls_pubkey_verify_data2(pk.k, GNUTLS_SIGN_ECDSA_SHA256, 0, &m, &s) >= 0 ? kVerifies
                                                                                        : kWrongSignature;
}

const char *name(int o) {
    switch (o) {
    case kVerifies: return "a signature that verifies";
    case kMismatch: return "P11TLS_E_KEY_MISMATCH";
    case kWrongSignature: return "a signature that does NOT verify under the key's SPKI";
    default: return "another error";
    }
}

// In a child forked after the replacement (exit status only): the key
// opened before fork, twice.
int child_signs(void *arg) {
    auto *key = static_cast<p11tls_key *>(arg);
    const Outcome a = sign_and_check(key), b = sign_and_check(key);
    return a == kMismatch && b == kMismatch ? 0 : 10 + 4 * a + b;
}

}  // namespace

// Another process: the private key alone is replaced.
TEST(IdentitySwapChild, ReplacePrivateKey) {
    if (!th::in_child("P11TLS_IDENTITY_SWAP_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    RawToken raw;
    ASSERT_TRUE(raw.ok());
    Pubkey k;
    k.k = raw.replace_private_key(kLabel, kId);
    ASSERT_NE(k.k, nullptr);
}

TEST(Identity, PrivateKeyReplacedByAnotherProcess) {
    REQUIRE_TOKEN();
    RawToken raw;
    ASSERT_TRUE(raw.ok());
    raw.destroy(kLabel);
    Pubkey old_key;
    old_key.k = raw.ec_pair(kLabel, kId, std::string(), true);
    ASSERT_NE(old_key.k, nullptr);
    const auto cert = th::self_signed(uri(), kLabel);
    ASSERT_FALSE(cert.empty());
    ASSERT_TRUE(raw.cert_object(kLabel, kId, cert, {0x30, 0x00}, true));

    p11tls_cxx::key key(p11tls_cxx::context::process_default(), uri());
    ASSERT_EQ(key.spki(), old_key.spki());
    ASSERT_EQ(sign_and_check(key.get()), kVerifies) << p11tls_last_error_detail();

    int st = th::run_exec_child("IdentitySwapChild.*", "P11TLS_IDENTITY_SWAP_CHILD", 60);
    ASSERT_TRUE(th::exited_ok(st)) << th::describe_status(st);
    ASSERT_EQ(raw.find(kLabel, CKO_PRIVATE_KEY).size(), 1u);
    ASSERT_EQ(raw.find(kLabel, CKO_PUBLIC_KEY).size(), 1u);

    // The key held: its handle is gone, it rebinds to the new object.
    for (int i = 0; i < 2; ++i) {
        const Outcome o = sign_and_check(key.get());
        EXPECT_EQ(o, kMismatch) << "the key held, signature " << i + 1 << ": " << name(o) << " ("
                                << p11tls_last_error_detail() << ")";
    }
    // A child forked afterwards.
    st = th::run_in_child(child_signs, key.get(), 60);
    EXPECT_TRUE(th::exited_ok(st)) << "the key in a child forked afterwards: " << th::describe_status(st)
                                   << " (10 + 4 x first + second; 0 " << name(0) << ", 1 " << name(1) << ", 2 "
                                   << name(2) << ", 3 " << name(3) << ")";
    // A new open: the URI still names the new private key, whose public
    // key object and certificate are the old key's.
    p11tls_cxx::key again(p11tls_cxx::context::process_default(), uri());
    EXPECT_EQ(again.spki(), old_key.spki());
    for (int i = 0; i < 2; ++i) {
        const Outcome o = sign_and_check(again.get());
        EXPECT_EQ(o, kMismatch) << "a new open, signature " << i + 1 << ": " << name(o) << " ("
                                << p11tls_last_error_detail() << ")";
    }
    raw.destroy(kLabel);
    raw.destroy(std::string(kLabel) + "-replacement");
}

// An EC or EdDSA private key stored alone: no public key object, no
// certificate, and SoftHSM shows no CKA_EC_POINT or CKA_PUBLIC_KEY_INFO on
// the private key (issue 24, item 8). GnuTLS signs with such a key;
// p11tls could not open it ("cannot determine the public key").
//  - P-256: opens; its public key is learnt from two signatures
//    (key/ec_learn.hpp) and is the key's; signatures verify under it, also
//    in a child forked afterwards (where the key found again is proven by
//    its first signature).
//  - Ed25519: nothing can tell its public key (an EdDSA signature does not
//    give it): opens, p11tls_key_get_spki is P11TLS_E_UNSUPPORTED, signs
//    in this process (the object opened is the key), and in a child, where
//    the object found again cannot be proven to be it,
//    P11TLS_E_UNSUPPORTED, never a signature.
namespace {

struct Alone {
    p11tls_key *key;
    std::vector<unsigned char> spki;  // the key's real public key
    uint16_t scheme;
    gnutls_sign_algorithm_t algo;
};

// 0 if key signs and the signature verifies under a.spki; else the code.
int signs_as(const Alone &a) {
    uint8_t sig[256];
    size_t sig_len = sizeof sig;
    const int rc = p11tls_key_sign(a.key, a.scheme, kMsg, sizeof kMsg, sig, &sig_len);
    if (rc != 0) return rc;
    Pubkey pk;
    gnutls_pubkey_init(&pk.k);
    gnutls_datum_t d = {(unsigned char *)a.spki.data(), (unsigned)a.spki.size()};
    gnutls_datum_t m = {(unsigned char *)kMsg, sizeof kMsg}, s = {sig, (unsigned)sig_len};
    if (gnutls_pubkey_import(pk.k, &d, GNUTLS_X509_FMT_DER) < 0) return 1000;
    return gnutls_pubkey_verify_data2(pk.k, a.algo, 0, &m, &s) >= 0 ? 0 : 1001;
}

int child_ec_signs(void *arg) {
    const int rc = signs_as(*static_cast<Alone *>(arg));
    return rc == 0 ? 0 : rc == 1001 ? 2 : 3;
}

int child_ed_refuses(void *arg) {
    const int rc = signs_as(*static_cast<Alone *>(arg));
    return rc == P11TLS_E_UNSUPPORTED ? 0 : rc == 0 || rc == 1001 ? 2 : 3;
}

}  // namespace

TEST(Identity, PrivateKeyAloneOnItsToken) {
    REQUIRE_TOKEN();
    RawToken raw;
    ASSERT_TRUE(raw.ok());
    raw.destroy("alone-ec");
    raw.destroy("alone-ed");
    const auto ec_spki = raw.private_key_alone("alone-ec", "\x71", false);
    const auto ed_spki = raw.private_key_alone("alone-ed", "\x72", true);
    ASSERT_FALSE(ec_spki.empty());
    ASSERT_FALSE(ed_spki.empty());
    ASSERT_TRUE(raw.find("alone-ec-public").empty());

    p11tls_cxx::key ec;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri("alone-ec").c_str(), 0, ec.put()), 0)
        << p11tls_last_error_detail();
    EXPECT_EQ(ec.spki(), ec_spki);
    EXPECT_EQ(p11tls_key_get_bits(ec.get()), 256);
    Alone a = {ec.get(), ec_spki, P11TLS_SIG_ECDSA_SECP256R1_SHA256, GNUTLS_SIGN_ECDSA_SHA256};
    EXPECT_EQ(signs_as(a), 0) << p11tls_last_error_detail();
    int st = th::run_in_child(child_ec_signs, &a, 60);
    EXPECT_TRUE(th::exited_ok(st)) << "P-256 in a forked child: " << th::describe_status(st);

    p11tls_cxx::key ed;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri("alone-ed").c_str(), 0, ed.put()), 0)
        << p11tls_last_error_detail();
    EXPECT_EQ(p11tls_key_get_algorithm(ed.get()), P11TLS_ALG_ED25519);
    uint8_t *spki = nullptr;
    size_t len = 0;
    EXPECT_EQ(p11tls_key_get_spki(ed.get(), &spki, &len), P11TLS_E_UNSUPPORTED);
    p11tls_free(spki);
    Alone e = {ed.get(), ed_spki, P11TLS_SIG_ED25519, GNUTLS_SIGN_EDDSA_ED25519};
    for (int i = 0; i < 2; ++i) EXPECT_EQ(signs_as(e), 0) << p11tls_last_error_detail();
    st = th::run_in_child(child_ed_refuses, &e, 60);
    EXPECT_TRUE(th::exited_ok(st)) << "Ed25519 in a forked child: " << th::describe_status(st);
    raw.destroy("alone-ec");
    raw.destroy("alone-ed");
}
