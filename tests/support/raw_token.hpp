// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A logged-in session on the test token straight through the module
// (dlopen of the SoftHSM p11-kit loads for p11tls: the same instance), to
// make, find and destroy objects behind p11tls's back. Session objects
// vanish with the session and no other process sees them; token objects
// (token = true) are seen by other processes.
#pragma once
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <string>
#include <vector>

#include <gnutls/abstract.h>
#include <p11-kit/pkcs11.h>

#include "helpers.hpp"

namespace th {

inline const unsigned char kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

class RawToken {
public:
    RawToken() { open(); }
    // Closing the session destroys its session objects. The module stays
    // initialized: p11tls shares it.
    ~RawToken() {
        if (f_ && s_ != CK_INVALID_HANDLE) f_->C_CloseSession(s_);
    }
    RawToken(const RawToken &) = delete;
    RawToken &operator=(const RawToken &) = delete;
    bool ok() const { return ok_; }
    // Why not ok(): the call that failed and its CK_RV (for the test's
    // failure message).
    const std::string &why() const { return why_; }
    // The module and the logged-in session, for tests of p11tls's internal
    // attribute reads on the same objects.
    CK_FUNCTION_LIST *functions() const { return f_; }
    CK_SESSION_HANDLE session() const { return s_; }

    // A P-256 key pair; returns the public key as GnuTLS has it (caller
    // deinits), NULL on failure.
    // quiet: a failure is no test failure (the caller retries).
    gnutls_pubkey_t ec_pair(const std::string &label, const std::string &id,
                            const std::string &priv_label = std::string(), bool token = false,
                            bool quiet = false) {
        const std::string &plabel = priv_label.empty() ? label : priv_label;
        CK_BBOOL yes = CK_TRUE, tok = token ? CK_TRUE : CK_FALSE;
        CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
        CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &tok, 1},
                              {CKA_VERIFY, &yes, 1},
                              {CKA_EC_PARAMS, (void *)kP256Oid, sizeof kP256Oid},
                              {CKA_LABEL, (void *)label.data(), label.size()},
                              {CKA_ID, (void *)id.data(), id.size()}};
        CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &tok, 1},
                               {CKA_PRIVATE, &yes, 1},
                               {CKA_SENSITIVE, &yes, 1},
                               {CKA_SIGN, &yes, 1},
                               {CKA_LABEL, (void *)plabel.data(), plabel.size()},
                               {CKA_ID, (void *)id.data(), id.size()}};
        CK_OBJECT_HANDLE hpub, hpriv;
        CK_RV rv = f_->C_GenerateKeyPair(s_, &mech, pub, 5, priv, 6, &hpub, &hpriv);
        if (rv != CKR_OK) {
            if (!quiet) ADD_FAILURE() << "C_GenerateKeyPair: 0x" << std::hex << rv;
            return nullptr;
        }
        return ec_pubkey(hpub);
    }

    // Replaces the private key labelled label (token objects) by a new
    // P-256 private key with the same label and CKA_ID, made on the token;
    // the old key's public key object and certificate stay, so they no
    // longer match it. Returns the new key's public key (caller deinits),
    // NULL on failure.
    // With rsa, an RSA 1024 key pair instead (rsa_pair).
    gnutls_pubkey_t replace_private_key(const std::string &label, const std::string &id, bool rsa = false) {
        for (CK_OBJECT_HANDLE h : find(label, CKO_PRIVATE_KEY))
            if (f_->C_DestroyObject(s_, h) != CKR_OK) ADD_FAILURE() << "C_DestroyObject " << label;
        const std::string tmp = label + "-replacement";
        gnutls_pubkey_t k = rsa ? rsa_pair(tmp, id, label) : ec_pair(tmp, id, label, true);
        if (!k) return nullptr;
        for (CK_OBJECT_HANDLE h : find(tmp, CKO_PUBLIC_KEY)) f_->C_DestroyObject(s_, h);
        return k;
    }

    // A private key with nothing on the token that shows its public key: a
    // pair made on the token (token objects) whose public key object is
    // then destroyed (SoftHSM's EC and Edwards private keys show none
    // themselves). Ed25519 with edwards, else P-256. Returns the key's
    // SPKI (DER), empty on failure.
    std::vector<unsigned char> private_key_alone(const std::string &label, const std::string &id, bool edwards) {
        static const unsigned char ed25519[] = "\x13\x0c" "edwards25519";
        CK_BBOOL yes = CK_TRUE;
        const std::string tmp = label + "-public";
        CK_MECHANISM mech = {edwards ? (CK_MECHANISM_TYPE)CKM_EC_EDWARDS_KEY_PAIR_GEN : (CK_MECHANISM_TYPE)CKM_EC_KEY_PAIR_GEN,
                             nullptr, 0};
        CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, 1},
                              {CKA_VERIFY, &yes, 1},
                              {CKA_EC_PARAMS, edwards ? (void *)ed25519 : (void *)kP256Oid,
                               edwards ? sizeof ed25519 - 1 : sizeof kP256Oid},
                              {CKA_LABEL, (void *)tmp.data(), tmp.size()},
                              {CKA_ID, (void *)id.data(), id.size()}};
        CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, 1},
                               {CKA_PRIVATE, &yes, 1},
                               {CKA_SENSITIVE, &yes, 1},
                               {CKA_SIGN, &yes, 1},
                               {CKA_LABEL, (void *)label.data(), label.size()},
                               {CKA_ID, (void *)id.data(), id.size()}};
        CK_OBJECT_HANDLE hpub, hpriv;
        CK_RV rv = f_->C_GenerateKeyPair(s_, &mech, pub, 5, priv, 6, &hpub, &hpriv);
        if (rv != CKR_OK) {
            ADD_FAILURE() << "C_GenerateKeyPair: 0x" << std::hex << rv;
            return {};
        }
        unsigned char point[256];
        CK_ATTRIBUTE a = {CKA_EC_POINT, point, sizeof point};
        rv = f_->C_GetAttributeValue(s_, hpub, &a, 1);
        f_->C_DestroyObject(s_, hpub);
        gnutls_pubkey_t k;
        gnutls_pubkey_init(&k);
        int grc = -1;
        if (rv == CKR_OK && edwards && a.ulValueLen == 34) {  // a DER OCTET STRING of 32 bytes
            gnutls_datum_t x = {point + 2, 32};
            grc = gnutls_pubkey_import_ecc_raw(k, GNUTLS_ECC_CURVE_ED25519, &x, nullptr);
        } else if (rv == CKR_OK && !edwards) {
            gnutls_datum_t params = {(unsigned char *)kP256Oid, sizeof kP256Oid}, q = {point, (unsigned)a.ulValueLen};
            grc = gnutls_pubkey_import_ecc_x962(k, &params, &q);
        }
        gnutls_datum_t d = {nullptr, 0};
        std::vector<unsigned char> out;
        if (grc >= 0 && gnutls_pubkey_export2(k, GNUTLS_X509_FMT_DER, &d) >= 0) out.assign(d.data, d.data + d.size);
        gnutls_free(d.data);
        gnutls_pubkey_deinit(k);
        EXPECT_FALSE(out.empty()) << "public key of " << label;
        return out;
    }

    // An RSA 1024 key pair (token objects; sign and decrypt), the private
    // key labelled priv_label if given; its public key (caller deinits),
    // NULL on failure.
    gnutls_pubkey_t rsa_pair(const std::string &label, const std::string &id,
                             const std::string &priv_label = std::string()) {
        const std::string &plabel = priv_label.empty() ? label : priv_label;
        CK_BBOOL yes = CK_TRUE;
        CK_ULONG bits = 1024;
        unsigned char e65537[] = {1, 0, 1};
        CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
        CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, 1},
                              {CKA_VERIFY, &yes, 1},
                              {CKA_ENCRYPT, &yes, 1},
                              {CKA_MODULUS_BITS, &bits, sizeof bits},
                              {CKA_PUBLIC_EXPONENT, e65537, sizeof e65537},
                              {CKA_LABEL, (void *)label.data(), label.size()},
                              {CKA_ID, (void *)id.data(), id.size()}};
        CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, 1},
                               {CKA_PRIVATE, &yes, 1},
                               {CKA_SENSITIVE, &yes, 1},
                               {CKA_SIGN, &yes, 1},
                               {CKA_DECRYPT, &yes, 1},
                               {CKA_LABEL, (void *)plabel.data(), plabel.size()},
                               {CKA_ID, (void *)id.data(), id.size()}};
        CK_OBJECT_HANDLE hpub, hpriv;
        CK_RV rv = f_->C_GenerateKeyPair(s_, &mech, pub, 7, priv, 7, &hpub, &hpriv);
        if (rv != CKR_OK) {
            ADD_FAILURE() << "C_GenerateKeyPair (RSA): 0x" << std::hex << rv;
            return nullptr;
        }
        unsigned char n[512], e[16];
        CK_ATTRIBUTE a[] = {{CKA_MODULUS, n, sizeof n}, {CKA_PUBLIC_EXPONENT, e, sizeof e}};
        if (f_->C_GetAttributeValue(s_, hpub, a, 2) != CKR_OK) return nullptr;
        gnutls_pubkey_t k;
        gnutls_pubkey_init(&k);
        gnutls_datum_t dn = {n, (unsigned)a[0].ulValueLen}, de = {e, (unsigned)a[1].ulValueLen};
        if (gnutls_pubkey_import_rsa_raw(k, &dn, &de) < 0) {
            gnutls_pubkey_deinit(k);
            return nullptr;
        }
        return k;
    }

    // The public key of an EC public key object, NULL on failure.
    gnutls_pubkey_t ec_pubkey(CK_OBJECT_HANDLE hpub) {
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

    bool data_object(const std::string &label, bool token = false) {
        CK_OBJECT_CLASS cls = CKO_DATA;
        CK_BBOOL tok = token ? CK_TRUE : CK_FALSE;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                            {CKA_TOKEN, &tok, 1},
                            {CKA_LABEL, (void *)label.data(), label.size()},
                            {CKA_VALUE, (void *)"x", 1}};
        CK_OBJECT_HANDLE h;
        return f_->C_CreateObject(s_, t, 4, &h) == CKR_OK;
    }

    // A certificate object (DER), as a session object unless token.
    // CKA_SUBJECT is subject (the DER name), or an empty name: SoftHSM wants
    // one, lookups by URI ignore it, issuer searches use it.
    bool cert_object(const std::string &label, const std::string &id, const std::vector<unsigned char> &der,
                     std::vector<unsigned char> subject = {0x30, 0x00}, bool token = false) {
        CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
        CK_CERTIFICATE_TYPE ct = CKC_X_509;
        CK_BBOOL no = token ? CK_TRUE : CK_FALSE;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                            {CKA_CERTIFICATE_TYPE, &ct, sizeof ct},
                            {CKA_SUBJECT, (void *)subject.data(), subject.size()},
                            {CKA_TOKEN, &no, 1},
                            {CKA_LABEL, (void *)label.data(), label.size()},
                            {CKA_ID, (void *)id.data(), id.size()},
                            {CKA_VALUE, (void *)der.data(), der.size()}};
        CK_OBJECT_HANDLE h;
        return f_->C_CreateObject(s_, t, 7, &h) == CKR_OK;
    }

    // Objects labelled label (of class cls, unless cls is -1).
    std::vector<CK_OBJECT_HANDLE> find(const std::string &label, CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1) {
        std::vector<CK_ATTRIBUTE> t = {{CKA_LABEL, (void *)label.data(), label.size()}};
        if (cls != (CK_OBJECT_CLASS)-1) t.push_back({CKA_CLASS, &cls, sizeof cls});
        std::vector<CK_OBJECT_HANDLE> out(64);
        CK_ULONG n = 0;
        if (f_->C_FindObjectsInit(s_, t.data(), t.size()) != CKR_OK) return {};
        f_->C_FindObjects(s_, out.data(), out.size(), &n);
        f_->C_FindObjectsFinal(s_);
        out.resize(n);
        return out;
    }

    // Reads one attribute of every object: SoftHSM re-reads the files of a
    // token another process changed, one thread at a time from here.
    void touch_all() {
        std::vector<CK_OBJECT_HANDLE> all(4096);
        CK_ULONG n = 0;
        if (f_->C_FindObjectsInit(s_, nullptr, 0) != CKR_OK) return;
        f_->C_FindObjects(s_, all.data(), all.size(), &n);
        f_->C_FindObjectsFinal(s_);
        for (CK_ULONG i = 0; i < n; ++i) {
            CK_OBJECT_CLASS cls;
            CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof cls};
            f_->C_GetAttributeValue(s_, all[i], &a, 1);
        }
    }

    // Destroys every object labelled label; how many.
    int destroy(const std::string &label) {
        int n = 0;
        for (CK_OBJECT_HANDLE h : find(label)) n += f_->C_DestroyObject(s_, h) == CKR_OK;
        return n;
    }

private:
    void open() {
        std::string path = th::env("P11TLS_SOFTHSM_MODULE");
        lib_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!lib_) {
            why_ = std::string("dlopen ") + path + ": " + dlerror();
            return;
        }
        auto gfl = (CK_C_GetFunctionList)dlsym(lib_, "C_GetFunctionList");
        if (!gfl || gfl(&f_) != CKR_OK) {
            why_ = "C_GetFunctionList failed";
            return;
        }
        CK_RV rv = f_->C_Initialize(nullptr);
        if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) return fail("C_Initialize", rv);
        CK_SLOT_ID slots[16];
        CK_ULONG n = 16;
        if ((rv = f_->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) return fail("C_GetSlotList", rv);
        why_ = "no token labelled p11tls-test among " + std::to_string(n) + " slots:";
        for (CK_ULONG i = 0; i < n; ++i) {
            CK_TOKEN_INFO ti;
            if ((rv = f_->C_GetTokenInfo(slots[i], &ti)) != CKR_OK) {
                why_ += " C_GetTokenInfo(slot " + std::to_string(slots[i]) + ") = " + hex(rv);
                continue;
            }
            if (std::string((char *)ti.label, 11) != "p11tls-test") continue;
            rv = f_->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s_);
            if (rv != CKR_OK) return fail("C_OpenSession", rv);
            std::string pin = th::test_pin();
            rv = f_->C_Login(s_, CKU_USER, (CK_UTF8CHAR *)pin.data(), pin.size());
            ok_ = rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN;
            if (!ok_) return fail("C_Login", rv);
            why_.clear();
            return;
        }
    }

    void *lib_ = nullptr;  // never dlclosed: the module is p11tls's too
    CK_FUNCTION_LIST *f_ = nullptr;
    CK_SESSION_HANDLE s_ = CK_INVALID_HANDLE;
    bool ok_ = false;
    std::string why_;

    static std::string hex(CK_RV rv) {
        char b[32];
        snprintf(b, sizeof b, "CKR 0x%lx", (unsigned long)rv);
        return b;
    }
    void fail(const char *call, CK_RV rv) { why_ = std::string(call) + ": " + hex(rv); }
};

// Owns a gnutls_pubkey_t.
struct Pubkey {
    gnutls_pubkey_t k = nullptr;
    ~Pubkey() {
        if (k) gnutls_pubkey_deinit(k);
    }
    std::vector<unsigned char> spki() const {
        gnutls_datum_t d = {nullptr, 0};
        std::vector<unsigned char> out;
        if (k && gnutls_pubkey_export2(k, GNUTLS_X509_FMT_DER, &d) >= 0) out.assign(d.data, d.data + d.size);
        gnutls_free(d.data);
        return out;
    }
};

}  // namespace th
