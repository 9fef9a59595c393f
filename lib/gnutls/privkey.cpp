// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// GnuTLS glue: a p11tls key behind a gnutls_privkey_t (gnutls_privkey_import_ext4).
//
// Written against the public p11tls C API, in C style: no C++ exception
// can be thrown here, so none can escape into GnuTLS. The two internal
// headers it includes throw nothing either: key/digest_info.hpp is
// constant data (the DigestInfo prefixes, shared with key/op.cpp so that
// both read one table), gnutls/errmap.hpp the glue's one mapping of
// P11TLS_E_* to GNUTLS_E_* (a switch).
//
// What GnuTLS (3.7) hands the callbacks -- see privkey.c, privkey_sign_raw_data:
//  - sign_data: only for algorithms that are "not prehashed" (EdDSA); data is
//    the whole message.
//  - sign_hash: for RSA PKCS#1 v1.5, algo is always GNUTLS_SIGN_RSA_RAW and
//    hash is the DER DigestInfo (or, for TLS 1.0/1.1, the bare 36-byte
//    MD5+SHA-1): the hash algorithm must be read from the DigestInfo. For
//    RSA-PSS and ECDSA, algo is the real signature algorithm and hash is the
//    bare digest. flags are 0.
#include <p11tls/gnutls.h>

#include <cstring>

#include <gnutls/gnutls.h>

#include "gnutls/errmap.hpp"
#include "key/digest_info.hpp"

namespace {

// The p11tls scheme for a GnuTLS signature algorithm, or 0. RSA PKCS#1
// algorithms map to their scheme too (for the info callback), though
// sign_hash sees them as GNUTLS_SIGN_RSA_RAW.
uint16_t scheme_of(gnutls_sign_algorithm_t algo) {
    switch (algo) {
    case GNUTLS_SIGN_RSA_SHA256: return P11TLS_SIG_RSA_PKCS1_SHA256;
    case GNUTLS_SIGN_RSA_SHA384: return P11TLS_SIG_RSA_PKCS1_SHA384;
    case GNUTLS_SIGN_RSA_SHA512: return P11TLS_SIG_RSA_PKCS1_SHA512;
    case GNUTLS_SIGN_RSA_PSS_RSAE_SHA256:
    case GNUTLS_SIGN_RSA_PSS_SHA256: return P11TLS_SIG_RSA_PSS_RSAE_SHA256;
    case GNUTLS_SIGN_RSA_PSS_RSAE_SHA384:
    case GNUTLS_SIGN_RSA_PSS_SHA384: return P11TLS_SIG_RSA_PSS_RSAE_SHA384;
    case GNUTLS_SIGN_RSA_PSS_RSAE_SHA512:
    case GNUTLS_SIGN_RSA_PSS_SHA512: return P11TLS_SIG_RSA_PSS_RSAE_SHA512;
    // TLS 1.2 ECDSA_SHAxxx is not bound to a curve; p11tls's ECDSA schemes
    // only select the hash, so either spelling maps to the same scheme.
    case GNUTLS_SIGN_ECDSA_SHA256:
    case GNUTLS_SIGN_ECDSA_SECP256R1_SHA256: return P11TLS_SIG_ECDSA_SECP256R1_SHA256;
    case GNUTLS_SIGN_ECDSA_SHA384:
    case GNUTLS_SIGN_ECDSA_SECP384R1_SHA384: return P11TLS_SIG_ECDSA_SECP384R1_SHA384;
    case GNUTLS_SIGN_ECDSA_SHA512:
    case GNUTLS_SIGN_ECDSA_SECP521R1_SHA512: return P11TLS_SIG_ECDSA_SECP521R1_SHA512;
    case GNUTLS_SIGN_EDDSA_ED25519: return P11TLS_SIG_ED25519;
    case GNUTLS_SIGN_EDDSA_ED448: return P11TLS_SIG_ED448;
    default: return 0;
    }
}

// Signs with p11tls into a gnutls_malloc()ed datum. hashed selects
// p11tls_key_sign_hash over p11tls_key_sign.
int sign_into(p11tls_key *key, uint16_t scheme, bool hashed, const unsigned char *in,
              size_t in_len, gnutls_datum_t *sig) {
    // A key that may not sign (CKA_SIGN false: decrypt-only) or lacks the
    // mechanism: GnuTLS asks anyway when it loads a key beside its
    // certificate (a probe signature, lib/cert-cred.c, whose failure it
    // ignores) and handles the refusal; refused here without a call that
    // would log it as an error.
    if (p11tls_key_supports(key, scheme) == 0) return GNUTLS_E_PK_SIGN_FAILED;
    size_t len = 0;
    int rc = hashed ? p11tls_key_sign_hash(key, scheme, in, in_len, nullptr, &len)
                    : p11tls_key_sign(key, scheme, in, in_len, nullptr, &len);
    if (rc < 0 || len == 0) return GNUTLS_E_PK_SIGN_FAILED;
    unsigned char *buf = static_cast<unsigned char *>(gnutls_malloc(len));
    if (!buf) return GNUTLS_E_MEMORY_ERROR;
    rc = hashed ? p11tls_key_sign_hash(key, scheme, in, in_len, buf, &len)
                : p11tls_key_sign(key, scheme, in, in_len, buf, &len);
    if (rc < 0) {
        gnutls_free(buf);
        return GNUTLS_E_PK_SIGN_FAILED;
    }
    sig->data = buf;
    sig->size = static_cast<unsigned>(len);
    return 0;
}

int cb_sign_data(gnutls_privkey_t, gnutls_sign_algorithm_t algo, void *userdata, unsigned,
                 const gnutls_datum_t *data, gnutls_datum_t *sig) {
    p11tls_key *key = static_cast<p11tls_key *>(userdata);
    if (!key || !data || !sig) return GNUTLS_E_INVALID_REQUEST;
    uint16_t scheme = scheme_of(algo);
    if (scheme != P11TLS_SIG_ED25519 && scheme != P11TLS_SIG_ED448)
        return GNUTLS_E_INVALID_REQUEST;  // GnuTLS only uses sign_data for EdDSA
    return sign_into(key, scheme, false, data->data, data->size, sig);
}

int cb_sign_hash(gnutls_privkey_t, gnutls_sign_algorithm_t algo, void *userdata, unsigned,
                 const gnutls_datum_t *hash, gnutls_datum_t *sig) {
    p11tls_key *key = static_cast<p11tls_key *>(userdata);
    if (!key || !hash || !sig) return GNUTLS_E_INVALID_REQUEST;
    if (algo == GNUTLS_SIGN_RSA_RAW) {
        // PKCS#1 v1.5: hash is a DigestInfo; find which.
        for (const p11tls::DigestInfoPrefix &d : p11tls::kDigestInfoPrefixes) {
            if (hash->size == sizeof d.prefix + d.hash_len &&
                memcmp(hash->data, d.prefix, sizeof d.prefix) == 0)
                return sign_into(key, d.scheme, true, hash->data + sizeof d.prefix, d.hash_len,
                                 sig);
        }
        return GNUTLS_E_INVALID_REQUEST;  // MD5+SHA-1 (TLS < 1.2), SHA-1, ...
    }
    uint16_t scheme = scheme_of(algo);
    if (scheme == 0 || scheme == P11TLS_SIG_ED25519 || scheme == P11TLS_SIG_ED448)
        return GNUTLS_E_INVALID_REQUEST;
    return sign_into(key, scheme, true, hash->data, hash->size, sig);
}

int cb_decrypt(gnutls_privkey_t, void *userdata, const gnutls_datum_t *ct,
               gnutls_datum_t *pt) {
    p11tls_key *key = static_cast<p11tls_key *>(userdata);
    if (!key || !ct || !pt) return GNUTLS_E_INVALID_REQUEST;
    size_t len = 0;
    if (p11tls_key_decrypt(key, P11TLS_DECRYPT_RSA_PKCS1, ct->data, ct->size, nullptr, &len) < 0 ||
        len == 0)
        return GNUTLS_E_DECRYPTION_FAILED;
    unsigned char *buf = static_cast<unsigned char *>(gnutls_malloc(len));
    if (!buf) return GNUTLS_E_MEMORY_ERROR;
    if (p11tls_key_decrypt(key, P11TLS_DECRYPT_RSA_PKCS1, ct->data, ct->size, buf, &len) < 0) {
        gnutls_memset(buf, 0, len);
        gnutls_free(buf);
        return GNUTLS_E_DECRYPTION_FAILED;
    }
    pt->data = buf;
    pt->size = static_cast<unsigned>(len);
    return 0;
}

void cb_deinit(gnutls_privkey_t, void *userdata) {
    p11tls_key_free(static_cast<p11tls_key *>(userdata));
}

int cb_info(gnutls_privkey_t, unsigned flags, void *userdata) {
    p11tls_key *key = static_cast<p11tls_key *>(userdata);
    if (!key) return GNUTLS_E_INVALID_REQUEST;
    int alg = p11tls_key_get_algorithm(key);
    if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO) {
        switch (alg) {
        case P11TLS_ALG_RSA: return GNUTLS_PK_RSA;
        case P11TLS_ALG_ECDSA: return GNUTLS_PK_ECDSA;
        case P11TLS_ALG_ED25519: return GNUTLS_PK_EDDSA_ED25519;
        case P11TLS_ALG_ED448: return GNUTLS_PK_EDDSA_ED448;
        default: return GNUTLS_E_INVALID_REQUEST;
        }
    }
    if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS) {
        int bits = p11tls_key_get_bits(key);
        return bits > 0 ? bits : GNUTLS_E_INVALID_REQUEST;
    }
    if (flags & GNUTLS_PRIVKEY_INFO_SIGN_ALGO) {
        // Only EdDSA has one fixed algorithm; for the others GnuTLS chooses.
        if (alg == P11TLS_ALG_ED25519) return GNUTLS_SIGN_EDDSA_ED25519;
        if (alg == P11TLS_ALG_ED448) return GNUTLS_SIGN_EDDSA_ED448;
        return 0;
    }
    if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO) {
        gnutls_sign_algorithm_t sa =
            static_cast<gnutls_sign_algorithm_t>(GNUTLS_FLAGS_TO_SIGN_ALGO(flags));
        if (alg == P11TLS_ALG_ED25519)
            return sa == GNUTLS_SIGN_EDDSA_ED25519 && p11tls_key_supports(key, P11TLS_SIG_ED25519) == 1;
        if (alg == P11TLS_ALG_ED448)
            return sa == GNUTLS_SIGN_EDDSA_ED448 && p11tls_key_supports(key, P11TLS_SIG_ED448) == 1;
        uint16_t scheme = scheme_of(sa);
        return scheme != 0 && p11tls_key_supports(key, scheme) == 1 ? 1 : 0;
    }
    return GNUTLS_E_INVALID_REQUEST;
}

}  // namespace

extern "C" int p11tls_gnutls_privkey_import(gnutls_privkey_t pkey, p11tls_ctx *ctx,
                                            const char *uri, unsigned flags) {
    if (!pkey || !uri || flags != 0) return GNUTLS_E_INVALID_REQUEST;
    p11tls_key *key = nullptr;
    int rc = p11tls_key_open(ctx, uri, 0, &key);
    if (rc < 0) return p11tls::gnutls_error_of(rc);
    rc = gnutls_privkey_import_ext4(pkey, key, cb_sign_data, cb_sign_hash,
                                    p11tls_key_get_algorithm(key) == P11TLS_ALG_RSA ? cb_decrypt
                                                                                    : nullptr,
                                    cb_deinit, cb_info, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
    if (rc < 0) p11tls_key_free(key);
    return rc;
}
