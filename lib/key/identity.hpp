// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Proving that the object that signs or decrypts is the key opened
// (doc/security.md, "Key identity"): by the public part the private object
// shows itself where the module gives it, else by checking its first
// output after every (re)bind in software.
#pragma once
#include <cstddef>
#include <vector>

namespace p11tls {

class Attributes;
struct PublicKey;
struct Scheme;

enum class Identity {
    kProven,    // the private object shows pub as its own public key
    kMismatch,  // it shows another public key
    kUnproven,  // it shows none: its first output must be checked
};

// What the private object's own attributes (kPublicKeyAttributes read)
// say about whether it is the key whose public key is pub. An RSA key
// showing its modulus without its public exponent is judged by the modulus.
Identity identity_of(const Attributes &priv, const PublicKey &pub);

// A signature to check: scheme s over data (the message; with hashed, its
// digest under the scheme's hash). ECDSA signatures as the token gives them
// (r||s).
struct SignatureCheck {
    const Scheme *scheme;
    const unsigned char *data;
    size_t len;
    bool hashed;
};

// Whether sig verifies under pub (GnuTLS's verification).
bool signature_verifies(const PublicKey &pub, const SignatureCheck &c, const std::vector<unsigned char> &sig);

// A random secret and its encryption under pub (an RSA key; PKCS#1 v1.5,
// by GnuTLS): a token key that decrypts cipher to plain is pub's private
// key. Throws P11TLS_E_UNSUPPORTED if GnuTLS cannot encrypt to pub.
struct DecryptChallenge {
    std::vector<unsigned char> plain, cipher;
};
DecryptChallenge decrypt_challenge(const PublicKey &pub);

}  // namespace p11tls
