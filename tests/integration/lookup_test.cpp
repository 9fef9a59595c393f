// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: how p11tls_key_open finds a key among objects that share its
// name. A search by label or CKA_ID finds the key, its public key and its
// certificate in one scan (lib/key/find.cpp find_named); these tests pin down
// what that search must still get right: the public key taken from the
// right companion, values larger than the one-call attribute read expects,
// ambiguity, and more objects sharing the name than the named search takes.
//
// The objects are session objects made through the same SoftHSM instance
// p11tls uses (dlopen of the module p11-kit loads), so they vanish with the
// test's session and no other test sees them.
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstring>
#include <string>
#include <vector>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <p11-kit/pkcs11.h>

#include <p11tls/p11tls.h>

#include "../support/helpers.hpp"

namespace {

const unsigned char kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const char kMsg[] = "lookup test message";

// A logged-in session on the test token, straight through the module.
class RawToken {
public:
    RawToken() {
        std::string path = th::env("P11TLS_SOFTHSM_MODULE");
        lib_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!lib_) return;
        auto gfl = (CK_C_GetFunctionList)dlsym(lib_, "C_GetFunctionList");
        if (!gfl || gfl(&f_) != CKR_OK) return;
        CK_RV rv = f_->C_Initialize(nullptr);
        if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) return;
        CK_SLOT_ID slots[16];
        CK_ULONG n = 16;
        if (f_->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK) return;
        for (CK_ULONG i = 0; i < n; ++i) {
            CK_TOKEN_INFO ti;
            if (f_->C_GetTokenInfo(slots[i], &ti) != CKR_OK) continue;
            if (std::string((char *)ti.label, 11) != "p11tls-test") continue;
            if (f_->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr,
                                  &s_) != CKR_OK)
                return;
            std::string pin = th::test_pin();
            rv = f_->C_Login(s_, CKU_USER, (CK_UTF8CHAR *)pin.data(), pin.size());
            ok_ = rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN;
            return;
        }
    }
    // Closing the session destroys its session objects. The module stays
    // initialized: p11tls shares it.
    ~RawToken() {
        if (f_ && s_ != CK_INVALID_HANDLE) f_->C_CloseSession(s_);
    }
    bool ok() const { return ok_; }

    // A P-256 session key pair; returns the public key as GnuTLS has it.
    gnutls_pubkey_t ec_pair(const std::string &label, const std::string &id,
                            const std::string &priv_label = std::string()) {
        const std::string &plabel = priv_label.empty() ? label : priv_label;
        CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
        CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
        CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &no, 1},
                              {CKA_VERIFY, &yes, 1},
                              {CKA_EC_PARAMS, (void *)kP256Oid, sizeof kP256Oid},
                              {CKA_LABEL, (void *)label.data(), label.size()},
                              {CKA_ID, (void *)id.data(), id.size()}};
        CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, 1},
                               {CKA_PRIVATE, &yes, 1},
                               {CKA_SENSITIVE, &yes, 1},
                               {CKA_SIGN, &yes, 1},
                               {CKA_LABEL, (void *)plabel.data(), plabel.size()},
                               {CKA_ID, (void *)id.data(), id.size()}};
        CK_OBJECT_HANDLE hpub, hpriv;
        CK_RV rv = f_->C_GenerateKeyPair(s_, &mech, pub, 5, priv, 6, &hpub, &hpriv);
        if (rv != CKR_OK) {
            ADD_FAILURE() << "C_GenerateKeyPair: 0x" << std::hex << rv;
            return nullptr;
        }
        unsigned char point[256];
        CK_ATTRIBUTE a = {CKA_EC_POINT, point, sizeof point};
        if (f_->C_GetAttributeValue(s_, hpub, &a, 1) != CKR_OK) return nullptr;
        gnutls_pubkey_t k;
        gnutls_pubkey_init(&k);
        gnutls_datum_t params = {(unsigned char *)kP256Oid, sizeof kP256Oid};
        gnutls_datum_t q = {point, (unsigned)a.ulValueLen};  // a DER OCTET STRING, as GnuTLS wants
        if (gnutls_pubkey_import_ecc_x962(k, &params, &q) < 0) {
            gnutls_pubkey_deinit(k);
            return nullptr;
        }
        return k;
    }

    bool data_object(const std::string &label) {
        CK_OBJECT_CLASS cls = CKO_DATA;
        CK_BBOOL no = CK_FALSE;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                            {CKA_TOKEN, &no, 1},
                            {CKA_LABEL, (void *)label.data(), label.size()},
                            {CKA_VALUE, (void *)"x", 1}};
        CK_OBJECT_HANDLE h;
        return f_->C_CreateObject(s_, t, 4, &h) == CKR_OK;
    }

private:
    void *lib_ = nullptr;  // never dlclosed: the module is p11tls's too
    CK_FUNCTION_LIST *f_ = nullptr;
    CK_SESSION_HANDLE s_ = CK_INVALID_HANDLE;
    bool ok_ = false;
};

struct Pubkey {
    gnutls_pubkey_t k = nullptr;
    ~Pubkey() {
        if (k) gnutls_pubkey_deinit(k);
    }
};

// Opens uri: the key records want as its public key (the identity it is
// checked against after fork), and its signature verifies with want.
void expect_signs_as(const std::string &uri, gnutls_pubkey_t want) {
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
    ASSERT_TRUE(raw.ok());
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
    ASSERT_TRUE(raw.ok());
    Pubkey a, b;
    a.k = raw.ec_pair("twins", "\x0a");
    b.k = raw.ec_pair("twins", "\x0b");
    ASSERT_TRUE(a.k && b.k);
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(nullptr, uri_for("twins").c_str(), 0, key.put()), P11TLS_E_AMBIGUOUS);
    expect_signs_as(uri_for("twins") + ";id=%0a", a.k);
    expect_signs_as(uri_for("twins") + ";id=%0b", b.k);
}

// A public key of another key shares the label: the key is unique, and its
// public key is the companion with its CKA_ID, whichever the token lists
// first.
TEST(Lookup, CompanionWithAnotherIdIsNotThePublicKey) {
    REQUIRE_TOKEN();
    RawToken raw;
    ASSERT_TRUE(raw.ok());
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
    ASSERT_TRUE(raw.ok());
    for (int i = 0; i < 12; ++i) ASSERT_TRUE(raw.data_object("crowd"));
    Pubkey pub;
    pub.k = raw.ec_pair("crowd", "\x0c");
    ASSERT_NE(pub.k, nullptr);
    expect_signs_as(uri_for("crowd"), pub.k);
}
