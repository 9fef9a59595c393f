// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "key/scheme.hpp"

#include <cstring>

#include <nettle/nettle-meta.h>
#include <p11tls/p11tls.h>

namespace p11tls {

namespace {
const Scheme kSchemes[] = {
    {P11TLS_SIG_RSA_PKCS1_SHA256, "rsa_pkcs1_sha256", P11TLS_ALG_RSA, false,
     &nettle_sha256, CKM_SHA256_RSA_PKCS, CKM_SHA256, CKG_MGF1_SHA256},
    {P11TLS_SIG_RSA_PKCS1_SHA384, "rsa_pkcs1_sha384", P11TLS_ALG_RSA, false,
     &nettle_sha384, CKM_SHA384_RSA_PKCS, CKM_SHA384, CKG_MGF1_SHA384},
    {P11TLS_SIG_RSA_PKCS1_SHA512, "rsa_pkcs1_sha512", P11TLS_ALG_RSA, false,
     &nettle_sha512, CKM_SHA512_RSA_PKCS, CKM_SHA512, CKG_MGF1_SHA512},
    {P11TLS_SIG_RSA_PSS_RSAE_SHA256, "rsa_pss_rsae_sha256", P11TLS_ALG_RSA, true, &nettle_sha256, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256},
    {P11TLS_SIG_RSA_PSS_RSAE_SHA384, "rsa_pss_rsae_sha384", P11TLS_ALG_RSA, true, &nettle_sha384, CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384},
    {P11TLS_SIG_RSA_PSS_RSAE_SHA512, "rsa_pss_rsae_sha512", P11TLS_ALG_RSA, true, &nettle_sha512, CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512},
    {P11TLS_SIG_ECDSA_SECP256R1_SHA256, "ecdsa_secp256r1_sha256", P11TLS_ALG_ECDSA, false, &nettle_sha256, CKM_ECDSA_SHA256, CKM_SHA256, 0},
    {P11TLS_SIG_ECDSA_SECP384R1_SHA384, "ecdsa_secp384r1_sha384", P11TLS_ALG_ECDSA, false, &nettle_sha384, CKM_ECDSA_SHA384, CKM_SHA384, 0},
    {P11TLS_SIG_ECDSA_SECP521R1_SHA512, "ecdsa_secp521r1_sha512", P11TLS_ALG_ECDSA, false, &nettle_sha512, CKM_ECDSA_SHA512, CKM_SHA512, 0},
    {P11TLS_SIG_ED25519, "ed25519", P11TLS_ALG_ED25519, false, nullptr, 0, 0,
     0},
    {P11TLS_SIG_ED448, "ed448", P11TLS_ALG_ED448, false, nullptr, 0, 0, 0},
};
}  // namespace

const Scheme *find_scheme(uint16_t code) noexcept {
    for (const Scheme &s : kSchemes)
        if (s.code == code) return &s;
    return nullptr;
}

const Scheme *find_scheme_by_name(const char *name) noexcept {
    if (!name) return nullptr;
    for (const Scheme &s : kSchemes)
        if (strcmp(s.name, name) == 0) return &s;
    return nullptr;
}

}  // namespace p11tls

extern "C" {
const char *p11tls_sig_scheme_name(uint16_t scheme) {
    const p11tls::Scheme *s = p11tls::find_scheme(scheme);
    return s ? s->name : nullptr;
}
uint16_t p11tls_sig_scheme_from_name(const char *name) {
    const p11tls::Scheme *s = p11tls::find_scheme_by_name(name);
    return s ? s->code : 0;
}
}
