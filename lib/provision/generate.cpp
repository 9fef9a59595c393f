// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Key pair generation on a token: the type's mechanism and template, the
// label checked free before and after (another process may make one at the
// same time), the ID from the public key, and no half of a pair left
// behind when a later step fails (or, if the token refuses to remove it,
// the error says which half stays).
#include <cstring>
#include <iterator>

#include <gnutls/crypto.h>

#include "base/error.hpp"
#include "base/log.hpp"
#include "key/key.hpp"
#include "key/pubkey.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/ckm.hpp"
#include "provision/lock.hpp"
#include "provision/provision.hpp"
#include "provision/template.hpp"
#include "provision/token.hpp"
#include "uri/uri.hpp"

namespace p11tls {

namespace {

// DER of the curves' OIDs (CKA_EC_PARAMS). Edwards curves by their RFC
// 8410 OIDs, which SoftHSM and p11tls (pubkey.cpp) both read.
const unsigned char kP256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const unsigned char kP384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
const unsigned char kP521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
const unsigned char kEd25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
const unsigned char kEd448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};

struct KeyType {
    const char *name;
    CK_MECHANISM_TYPE mech;
    CK_KEY_TYPE key_type;
    CK_ULONG bits;  // RSA modulus; the curve's size otherwise (Ed25519: 256, as tokens count it)
    const unsigned char *params;
    size_t params_len;
};

#define CURVE(c) c, sizeof c
const KeyType kTypes[] = {
    {"rsa:2048", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 2048, nullptr, 0},
    {"rsa:3072", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 3072, nullptr, 0},
    {"rsa:4096", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 4096, nullptr, 0},
    {"ec:p256", CKM_EC_KEY_PAIR_GEN, CKK_EC, 256, CURVE(kP256)},
    {"ec:p384", CKM_EC_KEY_PAIR_GEN, CKK_EC, 384, CURVE(kP384)},
    {"ec:p521", CKM_EC_KEY_PAIR_GEN, CKK_EC, 521, CURVE(kP521)},
    {"ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, 256, CURVE(kEd25519)},
    {"ed448", CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, 448, CURVE(kEd448)},
};
#undef CURVE

const KeyType &key_type(const char *name) {
    for (const KeyType &k : kTypes)
        if (strcmp(k.name, name) == 0) return k;
    fail(P11TLS_E_INVALID_ARGUMENT, std::string("unknown key type '") + name +
                                        "' (rsa:2048, rsa:3072, rsa:4096, ec:p256, ec:p384, ec:p521, ed25519, ed448)");
}

// The mechanism, and a size within what the token says it can make. A
// token states sizes per mechanism, not per curve: Ed448 on a token whose
// Edwards generation stops below 448 bits is refused here.
void check_mechanism(TokenState *t, const KeyType &k) {
    const std::string mech = ckm_name(k.mech);
    if (!t->has_mechanism(k.mech))
        fail(P11TLS_E_UNSUPPORTED, "token " + t->label() + " has no " + mech + " (for " + k.name + ")");
    CK_MECHANISM_INFO mi;
    if (P11CALL(t->module(), C_GetMechanismInfo, t->slot(), k.mech, &mi) != CKR_OK) return;
    if (!(mi.flags & CKF_GENERATE_KEY_PAIR))
        fail(P11TLS_E_UNSUPPORTED, "token " + t->label() + ": " + mech + " does not generate key pairs");
    if (mi.ulMaxKeySize && (k.bits < mi.ulMinKeySize || k.bits > mi.ulMaxKeySize))
        fail(P11TLS_E_UNSUPPORTED, "token " + t->label() + " makes " + mech + " keys of " +
                                       std::to_string(mi.ulMinKeySize) + " to " + std::to_string(mi.ulMaxKeySize) +
                                       " bits, not " + k.name);
}

void set_id(const RwSession &s, CK_OBJECT_HANDLE h, const std::vector<unsigned char> &id) {
    CK_ATTRIBUTE a = {CKA_ID, (void *)id.data(), (CK_ULONG)id.size()};
    CK_RV rv = P11CALL(s.module(), C_SetAttributeValue, s.get(), h, &a, 1UL);
    if (rv != CKR_OK) fail_ckr(s.module(), "C_SetAttributeValue(CKA_ID)", rv);
}

// A new pair's label must be free: two objects of a kind sharing a label
// make URIs by label ambiguous. An ID given must be free too.
void check_free(const RwSession &s, const TokenState *t, const char *label, const std::vector<unsigned char> &id) {
    if (any_object(s, {{CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)}}))
        fail(P11TLS_E_EXISTS, "token " + t->label() + " already has an object labelled '" + label + "'");
    if (!id.empty() && any_object(s, {{CKA_ID, (void *)id.data(), (CK_ULONG)id.size()}}))
        fail(P11TLS_E_EXISTS, "token " + t->label() + " already has an object with ID " + hex(id));
}

// After the pair is made: still the only objects with that label (and ID,
// if given)? Another process may have passed check_free at the same time.
void check_still_free(const RwSession &s, const TokenState *t, const char *label,
                      const std::vector<unsigned char> &id, const std::vector<CK_OBJECT_HANDLE> &mine) {
    static const char kRace[] = " while this key pair was made (another generate at the same time?); "
                                "run it again once that one is done, or choose another label";
    if (other_object(s, {{CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)}}, mine))
        fail(P11TLS_E_EXISTS, "another object labelled '" + std::string(label) + "' appeared on token " +
                                  t->label() + kRace);
    if (!id.empty() && other_object(s, {{CKA_ID, (void *)id.data(), (CK_ULONG)id.size()}}, mine))
        fail(P11TLS_E_EXISTS, "another object with ID " + hex(id) + " appeared on token " + t->label() + kRace);
}

}  // namespace

std::vector<unsigned char> key_id_of_spki(const std::vector<unsigned char> &spki) {
    std::vector<unsigned char> id(20);
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, spki.data(), spki.size(), id.data()) < 0)
        fail(P11TLS_E_INTERNAL, "SHA-1 of the public key failed");
    return id;
}

std::unique_ptr<p11tls_key> generate_key(const std::shared_ptr<CtxState> &ctx, const char *token_uri,
                                         const char *type, const char *label, const std::vector<unsigned char> &want_id,
                                         bool extractable) {
    const KeyType &k = key_type(type);
    Uri uri = Uri::parse(token_uri);
    TokenState *t = one_token(*ctx, uri, "key generation");
    check_writable(*t, t->info_now());
    check_mechanism(t, k);
    t->ensure_login(*ctx, &uri);
    RwSession s(t);
    ProvisionLock lock(*t);  // no other p11tls here passes check_free before this pair is made
    check_free(s, t, label, want_id);

    const CK_ULONG label_len = strlen(label);
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE, extract = extractable ? CK_TRUE : CK_FALSE;
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    CK_ULONG bits = k.bits;
    std::vector<CK_ATTRIBUTE> pub = {
        {CKA_TOKEN, &yes, sizeof yes},   {CKA_PRIVATE, &no, sizeof no},
        {CKA_VERIFY, &yes, sizeof yes},  {CKA_LABEL, (void *)label, label_len},
    };
    std::vector<CK_ATTRIBUTE> priv = {
        {CKA_TOKEN, &yes, sizeof yes},     {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SIGN, &yes, sizeof yes},      {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &extract, sizeof extract}, {CKA_LABEL, (void *)label, label_len},
    };
    if (!want_id.empty()) {
        pub.push_back({CKA_ID, (void *)want_id.data(), (CK_ULONG)want_id.size()});
        priv.push_back({CKA_ID, (void *)want_id.data(), (CK_ULONG)want_id.size()});
    }
    // Only what a TLS key does: sign, and for RSA decrypt (TLS 1.2's RSA
    // key exchange). Said explicitly where a token takes it: tokens'
    // defaults differ (SoftHSM would let an EC key decrypt and unwrap). The
    // "no" attributes are optional (template.hpp): tpm2-pkcs11 refuses
    // CKA_ENCRYPT=false and CKA_DECRYPT=false on an EC pair, as its keys
    // sign and encrypt, verify and decrypt, with one TPM attribute each.
    std::vector<OptionalAttribute> optional;
    if (k.key_type == CKK_RSA) {
        pub.push_back({CKA_ENCRYPT, &yes, sizeof yes});
        priv.push_back({CKA_DECRYPT, &yes, sizeof yes});
        pub.push_back({CKA_MODULUS_BITS, &bits, sizeof bits});
        pub.push_back({CKA_PUBLIC_EXPONENT, exponent, sizeof exponent});
    } else {
        pub.push_back({CKA_EC_PARAMS, (void *)k.params, (CK_ULONG)k.params_len});
        optional.push_back({0, {CKA_ENCRYPT, &no, sizeof no}});
        optional.push_back({1, {CKA_DECRYPT, &no, sizeof no}});
    }
    optional.push_back({0, {CKA_WRAP, &no, sizeof no}});
    optional.push_back({1, {CKA_UNWRAP, &no, sizeof no}});
    CK_MECHANISM mech = {k.mech, nullptr, 0};
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    log_info("token %s: generating %s", t->label().c_str(), k.name);
    CK_RV rv = call_with_optional(
        s.module(), "C_GenerateKeyPair", {pub, priv}, optional, [&](std::vector<std::vector<CK_ATTRIBUTE>> &tmpl) {
            return P11CALL(s.module(), C_GenerateKeyPair, s.get(), &mech, tmpl[0].data(), (CK_ULONG)tmpl[0].size(),
                           tmpl[1].data(), (CK_ULONG)tmpl[1].size(), &hpub, &hpriv);
        });
    if (rv != CKR_OK) fail_ckr(s.module(), "C_GenerateKeyPair", rv);

    // From here on a failure removes the pair, and says what it removed.
    const std::vector<Created> made = {{hpriv, "private key"}, {hpub, "public key"}};
    try {
        std::vector<CK_ATTRIBUTE_TYPE> types(std::begin(kPublicKeyAttributes), std::end(kPublicKeyAttributes));
        const PublicKey pk = read_public_key(t, s.get(), Attributes(s.module(), s.get(), hpub, types));
        std::vector<unsigned char> id = want_id;
        if (id.empty()) {
            id = key_id_of_spki(pk.spki);
            set_id(s, hpub, id);
            set_id(s, hpriv, id);
        }
        check_still_free(s, t, label, want_id, {hpub, hpriv});
        const std::string key_uri = format_object_uri(t->info(), CKO_PRIVATE_KEY, label, id);
        auto key = open_key(ctx, key_uri.c_str(), 0);
        if (key->pub.spki != pk.spki) fail(P11TLS_E_INTERNAL, "the key opened is not the key generated");
        return key;
    } catch (const ForkedDuringCall &) {
        throw;  // this child's: the parent's call goes on with the pair
    } catch (const Error &e) {
        throw Error(e.code(), std::string(e.what()) + "; " + remove_created(s, *t, label, made).detail);
    } catch (...) {
        remove_created(s, *t, label, made);
        throw;
    }
}

}  // namespace p11tls
