/* SPDX-License-Identifier: BSD-3-Clause */
/* Copyright The p11tls authors */
#include "verify_pem.h"

#include <gnutls/abstract.h>
#include <gnutls/x509.h>

int test_verify_pem(const char *cert, gnutls_sign_algorithm_t alg, const void *msg, size_t len,
                    const void *sig, size_t sig_len)
{
    gnutls_datum_t pem = {NULL, 0};
    const gnutls_datum_t data = {(unsigned char *)msg, (unsigned)len},
                         s = {(unsigned char *)sig, (unsigned)sig_len};
    gnutls_x509_crt_t crt = NULL;
    gnutls_pubkey_t pub = NULL;
    int ok = gnutls_load_file(cert, &pem) >= 0 && gnutls_x509_crt_init(&crt) >= 0 &&
             gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM) >= 0 && gnutls_pubkey_init(&pub) >= 0 &&
             gnutls_pubkey_import_x509(pub, crt, 0) >= 0 &&
             gnutls_pubkey_verify_data2(pub, alg, 0, &data, &s) >= 0;
    gnutls_pubkey_deinit(pub);
    gnutls_x509_crt_deinit(crt);
    gnutls_free(pem.data);
    return ok;
}
