// The public half of a token key, as DER SubjectPublicKeyInfo: the identity
// a key is checked against when it is re-found after fork.
#pragma once
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

// Reads the public key of private key object priv: from the object itself
// (RSA modulus, CKA_PUBLIC_KEY_INFO), else from the public key or the
// certificate with the same CKA_ID. Throws P11TLS_E_UNSUPPORTED.
PublicKey read_public_key(TokenState *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv);

// The same, from attributes of priv already read (they must include
// kPublicKeyAttributes), saving the module calls.
PublicKey read_public_key(TokenState *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                          const Attributes &attrs);

// What read_public_key needs of the private key object; CKA_KEY_TYPE first.
extern const std::vector<CK_ATTRIBUTE_TYPE> kPublicKeyAttributes;

// SPKI of a DER certificate.
PublicKey public_key_of_cert(const std::vector<unsigned char> &der);

}  // namespace p11tls
