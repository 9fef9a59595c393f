// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The public half of a token key, as DER SubjectPublicKeyInfo: the identity
// a key is checked against when it is re-found after fork.
#pragma once
#include <optional>
#include <vector>

#include <p11-kit/pkcs11.h>

namespace p11tls {

class TokenState;
class Attributes;

struct PublicKey {
    int alg = 0;   // P11TLS_ALG_*
    int bits = 0;
    std::vector<unsigned char> spki;
};

// An object found beside a private key (its public key or certificate),
// with at least CKA_CLASS and kPublicKeyAttributes read.
struct Companion {
    CK_OBJECT_HANDLE handle;
    const Attributes *attrs;
};

// The public key a key object shows itself (its attributes must include
// kPublicKeyAttributes): an RSA modulus and public exponent, a
// CKA_PUBLIC_KEY_INFO, or an EC/Edwards CKA_EC_PARAMS and CKA_EC_POINT.
// None when it shows none (SoftHSM 2.6.1 and NSS softokn on EC private
// keys: doc/security.md, "Key identity"); throws P11TLS_E_UNSUPPORTED for
// a key type p11tls does not use, P11TLS_E_DEVICE without CKA_KEY_TYPE.
std::optional<PublicKey> own_public_key(const Attributes &attrs);

// The public key of a private key object, from its attributes (which must
// include kPublicKeyAttributes): from the object itself (RSA modulus,
// CKA_PUBLIC_KEY_INFO, CKA_EC_POINT), else from the public key or the
// certificate with the same CKA_ID, taken from companions when they hold
// it and searched for on the token otherwise. Throws P11TLS_E_UNSUPPORTED.
PublicKey read_public_key(TokenState *t, CK_SESSION_HANDLE s, const Attributes &attrs,
                          const std::vector<Companion> &companions = {});
// The same, none where no public key is on the token (no CKA_ID, or no
// public key object or certificate with it).
std::optional<PublicKey> find_public_key(TokenState *t, CK_SESSION_HANDLE s, const Attributes &attrs,
                                         const std::vector<Companion> &companions = {});

// The algorithm and size of an EC (P-256/384/521) or Edwards key from its
// CKA_KEY_TYPE and CKA_EC_PARAMS, with no spki: a key whose public key is
// nowhere on its token. None for other keys.
std::optional<PublicKey> key_shape(const Attributes &attrs);
// Bytes of a field element of the NIST curve CKA_EC_PARAMS names (its
// DER OID): 32, 48 or 66; 0 for other curves.
size_t ec_curve_bytes(const std::vector<unsigned char> &params);
// The EC public key at point (a DER OCTET STRING, as CKA_EC_POINT) on the
// curve params names.
PublicKey ec_point_key(const std::vector<unsigned char> &params, const std::vector<unsigned char> &point);

// What read_public_key needs of the private key object (a constant array:
// no global with a destructor).
inline constexpr CK_ATTRIBUTE_TYPE kPublicKeyAttributes[] = {
    CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PUBLIC_KEY_INFO,
    CKA_EC_PARAMS, CKA_EC_POINT, CKA_ID};

// The Edwards curve (P11TLS_ALG_ED25519 or P11TLS_ALG_ED448) that
// CKA_EC_PARAMS names, by its exact DER (RFC 8410 OID or PKCS#11 3.0
// PrintableString "edwards25519"/"edwards448"); 0 for anything else.
int edwards_curve(const std::vector<unsigned char> &params);

// SPKI of a DER certificate.
PublicKey public_key_of_cert(const std::vector<unsigned char> &der);

}  // namespace p11tls
