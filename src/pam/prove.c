/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * prove.c — the proof of possession: sign a fresh random challenge with the
 * token key and verify the signature with GnuTLS against the public key of
 * the authorized certificate. Verifying (rather than trusting that a
 * signature came back) is what ties the key on the token to the
 * certificate the user authorized.
 */
#define _DEFAULT_SOURCE 1 /* explicit_bzero */

#include "prove.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <security/pam_ext.h>

#define CHALLENGE_LEN 32

static int pick_scheme(p11tls_key *key, uint16_t *scheme,
                       gnutls_sign_algorithm_t *galg)
{
    int alg = p11tls_key_get_algorithm(key);
    int bits = p11tls_key_get_bits(key);
    switch (alg) {
    case P11TLS_ALG_RSA:
        if (p11tls_key_supports(key, P11TLS_SIG_RSA_PSS_RSAE_SHA256) == 1) {
            *scheme = P11TLS_SIG_RSA_PSS_RSAE_SHA256;
            *galg = GNUTLS_SIGN_RSA_PSS_RSAE_SHA256;
        } else {
            *scheme = P11TLS_SIG_RSA_PKCS1_SHA256;
            *galg = GNUTLS_SIGN_RSA_SHA256;
        }
        return 0;
    case P11TLS_ALG_ECDSA:
        if (bits <= 256) {
            *scheme = P11TLS_SIG_ECDSA_SECP256R1_SHA256;
            *galg = GNUTLS_SIGN_ECDSA_SHA256;
        } else if (bits <= 384) {
            *scheme = P11TLS_SIG_ECDSA_SECP384R1_SHA384;
            *galg = GNUTLS_SIGN_ECDSA_SHA384;
        } else {
            *scheme = P11TLS_SIG_ECDSA_SECP521R1_SHA512;
            *galg = GNUTLS_SIGN_ECDSA_SHA512;
        }
        return 0;
    case P11TLS_ALG_ED25519:
        *scheme = P11TLS_SIG_ED25519;
        *galg = GNUTLS_SIGN_EDDSA_ED25519;
        return 0;
    case P11TLS_ALG_ED448:
        *scheme = P11TLS_SIG_ED448;
        *galg = GNUTLS_SIGN_EDDSA_ED448;
        return 0;
    default:
        return -1;
    }
}

int prove_possession(pam_handle_t *pamh, int debug, p11tls_key *key,
                     const uint8_t *cert_der, size_t cert_len)
{
    uint8_t challenge[CHALLENGE_LEN];
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    uint16_t scheme;
    gnutls_sign_algorithm_t galg;
    gnutls_x509_crt_t crt = NULL;
    gnutls_pubkey_t pk = NULL;
    int ret = PAM_AUTH_ERR;
    int rc;

    if (pick_scheme(key, &scheme, &galg) < 0) {
        pam_syslog(pamh, LOG_ERR, "unsupported key algorithm for %s",
                   p11tls_key_get_uri(key));
        return PAM_AUTH_ERR;
    }
    if (gnutls_rnd(GNUTLS_RND_NONCE, challenge, sizeof(challenge)) < 0) {
        pam_syslog(pamh, LOG_ERR, "cannot generate a random challenge");
        return PAM_AUTH_ERR;
    }
    rc = p11tls_key_sign(key, scheme, challenge, sizeof(challenge), NULL, &sig_len);
    if (rc == 0 && (sig = malloc(sig_len)) == NULL)
        rc = P11TLS_E_MEMORY;
    if (rc == 0)
        rc = p11tls_key_sign(key, scheme, challenge, sizeof(challenge), sig, &sig_len);
    if (rc != 0) {
        pam_syslog(pamh, LOG_ERR, "signing the challenge failed (%s): %s",
                   p11tls_strerror_name(rc), p11tls_last_error_detail());
        goto out;
    }
    gnutls_datum_t cd = {(unsigned char *)cert_der, (unsigned)cert_len};
    gnutls_datum_t md = {challenge, sizeof(challenge)};
    gnutls_datum_t sd = {sig, (unsigned)sig_len};
    if (gnutls_x509_crt_init(&crt) < 0 || gnutls_pubkey_init(&pk) < 0 ||
        gnutls_x509_crt_import(crt, &cd, GNUTLS_X509_FMT_DER) < 0 ||
        gnutls_pubkey_import_x509(pk, crt, 0) < 0) {
        pam_syslog(pamh, LOG_ERR, "cannot read the token certificate's public key");
        goto out;
    }
    rc = gnutls_pubkey_verify_data2(pk, galg, 0, &md, &sd);
    if (rc < 0) {
        pam_syslog(pamh, LOG_NOTICE,
                   "signature mismatch: the key %s does not match its certificate (%s)",
                   p11tls_key_get_uri(key), gnutls_strerror(rc));
        goto out;
    }
    if (debug)
        pam_syslog(pamh, LOG_DEBUG, "challenge signed with %s and verified",
        p11tls_sig_scheme_name(scheme));
    ret = PAM_SUCCESS;
out:
    if (pk)
        gnutls_pubkey_deinit(pk);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    free(sig);
    explicit_bzero(challenge, sizeof(challenge));
    return ret;
}
