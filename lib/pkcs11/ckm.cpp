// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// CKM_* names. p11-kit has such a table (p11_constant_name) but does not
// export it, so here is one: the mechanisms of the Debian tokens p11tls is
// tested with (SoftHSM, opencryptoki, tpm2-pkcs11, NSS), and the usual ones.
#include "pkcs11/ckm.hpp"

#include <cstdio>

namespace p11tls {

namespace {
struct MechName {
    CK_MECHANISM_TYPE type;
    const char *name;
};
#define M(t) {t, #t},
const MechName kMechNames[] = {
    M(CKM_RSA_PKCS_KEY_PAIR_GEN)
    M(CKM_RSA_PKCS)
    M(CKM_RSA_9796)
    M(CKM_RSA_X_509)
    M(CKM_MD5_RSA_PKCS)
    M(CKM_SHA1_RSA_PKCS)
    M(CKM_RIPEMD160_RSA_PKCS)
    M(CKM_RSA_PKCS_OAEP)
    M(CKM_RSA_X9_31_KEY_PAIR_GEN)
    M(CKM_RSA_X9_31)
    M(CKM_RSA_PKCS_PSS)
    M(CKM_SHA1_RSA_PKCS_PSS)
    M(CKM_DSA_KEY_PAIR_GEN)
    M(CKM_DSA)
    M(CKM_DSA_SHA1)
    M(CKM_DSA_SHA224)
    M(CKM_DSA_SHA256)
    M(CKM_DSA_SHA384)
    M(CKM_DSA_SHA512)
    M(CKM_DH_PKCS_KEY_PAIR_GEN)
    M(CKM_DH_PKCS_DERIVE)
    M(CKM_SHA224_RSA_PKCS)
    M(CKM_SHA256_RSA_PKCS)
    M(CKM_SHA384_RSA_PKCS)
    M(CKM_SHA512_RSA_PKCS)
    M(CKM_SHA224_RSA_PKCS_PSS)
    M(CKM_SHA256_RSA_PKCS_PSS)
    M(CKM_SHA384_RSA_PKCS_PSS)
    M(CKM_SHA512_RSA_PKCS_PSS)
    M(CKM_DES_KEY_GEN)
    M(CKM_DES_ECB)
    M(CKM_DES_CBC)
    M(CKM_DES_CBC_PAD)
    M(CKM_DES2_KEY_GEN)
    M(CKM_DES3_KEY_GEN)
    M(CKM_DES3_ECB)
    M(CKM_DES3_CBC)
    M(CKM_DES3_CBC_PAD)
    M(CKM_DES3_CMAC)
    M(CKM_MD5)
    M(CKM_MD5_HMAC)
    M(CKM_SHA_1)
    M(CKM_SHA_1_HMAC)
    M(CKM_SHA224)
    M(CKM_SHA224_HMAC)
    M(CKM_SHA256)
    M(CKM_SHA256_HMAC)
    M(CKM_SHA384)
    M(CKM_SHA384_HMAC)
    M(CKM_SHA512)
    M(CKM_SHA512_HMAC)
    M(CKM_RIPEMD160)
    M(CKM_GENERIC_SECRET_KEY_GEN)
    M(CKM_CONCATENATE_BASE_AND_KEY)
    M(CKM_CONCATENATE_BASE_AND_DATA)
    M(CKM_CONCATENATE_DATA_AND_BASE)
    M(CKM_XOR_BASE_AND_DATA)
    M(CKM_TLS_PRF)
    M(CKM_TLS12_MASTER_KEY_DERIVE)
    M(CKM_TLS12_KEY_AND_MAC_DERIVE)
    M(CKM_TLS_MAC)
    M(CKM_TLS_KDF)
    M(CKM_EC_KEY_PAIR_GEN)
    M(CKM_ECDSA)
    M(CKM_ECDSA_SHA1)
    M(CKM_ECDSA_SHA224)
    M(CKM_ECDSA_SHA256)
    M(CKM_ECDSA_SHA384)
    M(CKM_ECDSA_SHA512)
    M(CKM_ECDH1_DERIVE)
    M(CKM_ECDH1_COFACTOR_DERIVE)
    M(CKM_ECMQV_DERIVE)
    M(CKM_EC_EDWARDS_KEY_PAIR_GEN)
    M(CKM_EDDSA)
    M(CKM_AES_KEY_GEN)
    M(CKM_AES_ECB)
    M(CKM_AES_CBC)
    M(CKM_AES_MAC)
    M(CKM_AES_CBC_PAD)
    M(CKM_AES_CTR)
    M(CKM_AES_GCM)
    M(CKM_AES_CCM)
    M(CKM_AES_CTS)
    M(CKM_AES_CMAC)
    M(CKM_AES_GMAC)
    M(CKM_AES_OFB)
    M(CKM_AES_CFB8)
    M(CKM_AES_CFB128)
    M(CKM_AES_KEY_WRAP)
    M(CKM_AES_KEY_WRAP_PAD)
    M(CKM_AES_ECB_ENCRYPT_DATA)
    M(CKM_AES_CBC_ENCRYPT_DATA)
    M(CKM_DES_ECB_ENCRYPT_DATA)
    M(CKM_DES_CBC_ENCRYPT_DATA)
    M(CKM_DES3_ECB_ENCRYPT_DATA)
    M(CKM_DES3_CBC_ENCRYPT_DATA)
    M(CKM_CAMELLIA_KEY_GEN)
    M(CKM_CAMELLIA_ECB)
    M(CKM_CAMELLIA_CBC)
    M(CKM_GOSTR3410_KEY_PAIR_GEN)
    M(CKM_GOSTR3410)
    M(CKM_GOSTR3410_WITH_GOSTR3411)
    M(CKM_GOSTR3410_DERIVE)
    M(CKM_GOSTR3411)
    M(CKM_GOSTR3411_HMAC)
    M(CKM_GOST28147_KEY_GEN)
    M(CKM_GOST28147_ECB)
    M(CKM_GOST28147)
    M(CKM_GOST28147_MAC)
    M(CKM_GOST28147_KEY_WRAP)
    M(CKM_DSA_PARAMETER_GEN)
    M(CKM_DH_PKCS_PARAMETER_GEN)
    M(CKM_PKCS5_PBKD2)
    M(CKM_RSA_AES_KEY_WRAP)
};
#undef M
}  // namespace

const char *ckm_known_name(CK_MECHANISM_TYPE type) noexcept {
    for (const MechName &m : kMechNames)
        if (m.type == type) return m.name;
    return nullptr;
}

std::string ckm_name(CK_MECHANISM_TYPE type) {
    if (const char *n = ckm_known_name(type)) return n;
    char buf[48];
    if (type >= CKM_VENDOR_DEFINED)
        std::snprintf(buf, sizeof buf, "CKM_VENDOR_DEFINED+0x%lx", (unsigned long)(type - CKM_VENDOR_DEFINED));
    else
        std::snprintf(buf, sizeof buf, "CKM_0x%lx", (unsigned long)type);
    return buf;
}

}  // namespace p11tls
