/* SPDX-License-Identifier: BSD-3-Clause */
/* Copyright The p11tls authors */
/* A signature checked against a certificate in a PEM file, with GnuTLS (C,
 * for the plain C test programs). */
#ifndef P11TLS_TESTS_SUPPORT_VERIFY_PEM_H
#define P11TLS_TESTS_SUPPORT_VERIFY_PEM_H
#include <stddef.h>

#include <gnutls/gnutls.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if sig is alg's signature of msg under the public key of the
 * certificate in the PEM file cert, 0 otherwise (also when the file cannot
 * be read). */
int test_verify_pem(const char *cert, gnutls_sign_algorithm_t alg, const void *msg, size_t len,
                    const void *sig, size_t sig_len);

#ifdef __cplusplus
}
#endif
#endif
