// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "key/identity.hpp"

#include <memory>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <p11-kit/pkcs11.h>
#include <p11tls/p11tls.h>

#include "base/error.hpp"
#include "key/ecdsa.hpp"
#include "key/pubkey.hpp"
#include "key/scheme.hpp"
#include "pkcs11/attributes.hpp"

namespace p11tls {

namespace {

struct PubkeyDeleter {
    void operator()(gnutls_pubkey_st *k) const { gnutls_pubkey_deinit(k); }
};
using PubkeyPtr = std::unique_ptr<gnutls_pubkey_st, PubkeyDeleter>;

// pub as a GnuTLS key; null if GnuTLS cannot read it.
PubkeyPtr import(const PublicKey &pub) {
    gnutls_pubkey_t k;
    if (gnutls_pubkey_init(&k) < 0) fail(P11TLS_E_MEMORY, "gnutls_pubkey_init failed");
    PubkeyPtr out(k);
    gnutls_datum_t d = {const_cast<unsigned char *>(pub.spki.data()), (unsigned)pub.spki.size()};
    if (gnutls_pubkey_import(k, &d, GNUTLS_X509_FMT_DER) < 0) return nullptr;
    return out;
}

std::vector<unsigned char> strip_zeros(const unsigned char *p, size_t n) {
    while (n > 0 && *p == 0) ++p, --n;
    return std::vector<unsigned char>(p, p + n);
}

// GnuTLS's name for what the scheme signs. ECDSA by hash alone: the curve
// is the key's (a scheme's curve is the TLS peer's business, not ours).
gnutls_sign_algorithm_t gnutls_algorithm(const Scheme &s) {
    static const gnutls_sign_algorithm_t rsa[] = {GNUTLS_SIGN_RSA_SHA256, GNUTLS_SIGN_RSA_SHA384,
                                                  GNUTLS_SIGN_RSA_SHA512};
    static const gnutls_sign_algorithm_t pss[] = {GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, GNUTLS_SIGN_RSA_PSS_RSAE_SHA384,
                                                  GNUTLS_SIGN_RSA_PSS_RSAE_SHA512};
    static const gnutls_sign_algorithm_t ecdsa[] = {GNUTLS_SIGN_ECDSA_SHA256, GNUTLS_SIGN_ECDSA_SHA384,
                                                    GNUTLS_SIGN_ECDSA_SHA512};
    const CK_MECHANISM_TYPE h = s.hash_mech;
    const int i = h == CKM_SHA256 ? 0 : h == CKM_SHA384 ? 1 : h == CKM_SHA512 ? 2 : -1;
    if (s.alg == P11TLS_ALG_ED25519) return GNUTLS_SIGN_EDDSA_ED25519;
    if (s.alg == P11TLS_ALG_ED448) return GNUTLS_SIGN_EDDSA_ED448;
    if (i >= 0 && s.alg == P11TLS_ALG_RSA) return s.pss ? pss[i] : rsa[i];
    if (i >= 0 && s.alg == P11TLS_ALG_ECDSA) return ecdsa[i];
    fail(P11TLS_E_INTERNAL, std::string("no GnuTLS signature algorithm for scheme ") + s.name);
}

}  // namespace

Identity identity_of(const Attributes &priv, const PublicKey &pub) {
    if (pub.spki.empty()) return Identity::kUnproven;  // a key whose public key is unknown
    if (auto own = own_public_key(priv)) return own->spki == pub.spki ? Identity::kProven : Identity::kMismatch;
    CK_KEY_TYPE kt = 0;
    const auto &n = priv.get(CKA_MODULUS);
    if (!priv.scalar(CKA_KEY_TYPE, &kt) || kt != CKK_RSA || n.empty() || pub.alg != P11TLS_ALG_RSA)
        return Identity::kUnproven;
    PubkeyPtr k = import(pub);
    gnutls_datum_t m = {nullptr, 0}, e = {nullptr, 0};
    if (!k || gnutls_pubkey_export_rsa_raw2(k.get(), &m, &e, 0) < 0) return Identity::kUnproven;
    const bool same = strip_zeros(m.data, m.size) == strip_zeros(n.data(), n.size());
    gnutls_free(m.data);
    gnutls_free(e.data);
    return same ? Identity::kProven : Identity::kMismatch;
}

bool signature_verifies(const PublicKey &pub, const SignatureCheck &c, const std::vector<unsigned char> &sig) {
    PubkeyPtr k = import(pub);
    if (!k) return false;
    std::vector<unsigned char> der;
    const std::vector<unsigned char> *s = &sig;
    if (c.scheme->alg == P11TLS_ALG_ECDSA) {
        der = ecdsa_to_der(sig);
        s = &der;
    }
    const gnutls_sign_algorithm_t alg = gnutls_algorithm(*c.scheme);
    gnutls_datum_t d = {const_cast<unsigned char *>(c.data), (unsigned)c.len};
    gnutls_datum_t sd = {const_cast<unsigned char *>(s->data()), (unsigned)s->size()};
    const int rc = c.hashed ? gnutls_pubkey_verify_hash2(k.get(), alg, 0, &d, &sd)
                            : gnutls_pubkey_verify_data2(k.get(), alg, 0, &d, &sd);
    return rc >= 0;
}

DecryptChallenge decrypt_challenge(const PublicKey &pub) {
    DecryptChallenge c;
    c.plain.resize(32);
    if (gnutls_rnd(GNUTLS_RND_NONCE, c.plain.data(), c.plain.size()) < 0)
        fail(P11TLS_E_INTERNAL, "gnutls_rnd failed");
    PubkeyPtr k = import(pub);
    gnutls_datum_t p = {c.plain.data(), (unsigned)c.plain.size()}, out = {nullptr, 0};
    if (!k || gnutls_pubkey_encrypt_data(k.get(), 0, &p, &out) < 0)
        fail(P11TLS_E_UNSUPPORTED, "cannot encrypt a challenge to the key's public key");
    c.cipher.assign(out.data, out.data + out.size);
    gnutls_free(out.data);
    return c;
}

}  // namespace p11tls
