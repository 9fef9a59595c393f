// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// TLS SignatureScheme code points and how each maps to PKCS#11.
#pragma once
#include <cstddef>
#include <cstdint>

#include <p11-kit/pkcs11.h>

struct nettle_hash;

namespace p11tls {

struct Scheme {
    uint16_t code;
    const char *name;
    int alg;                              // P11TLS_ALG_*
    bool pss;
    const struct nettle_hash *hash;       // software hashing, NULL for EdDSA
    CK_MECHANISM_TYPE combined;           // hash-and-sign mechanism, or 0
    CK_MECHANISM_TYPE hash_mech;          // CKM_SHA* for PSS params
    CK_RSA_PKCS_MGF_TYPE mgf;             // CKG_MGF1_* for PSS
};

const Scheme *find_scheme(uint16_t code) noexcept;
const Scheme *find_scheme_by_name(const char *name) noexcept;

}  // namespace p11tls
