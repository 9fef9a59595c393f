/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/signer.h: one key of the test token, signed with by one of the four
 * backends the sign, fork and memory benchmarks compare:
 *
 *   raw            the module itself (dlopen), C_SignInit + C_Sign, one
 *                  session per thread: the physical limit
 *   gnutls         GnuTLS's built-in PKCS#11 (gnutls_privkey_import_url)
 *   p11tls         the p11tls C API (p11tls_key_sign_hash, or
 *                  p11tls_key_sign for EdDSA)
 *   p11tls-gnutls  p11tls behind a gnutls_privkey_t
 *                  (p11tls_gnutls_privkey_import, then the GnuTLS calls)
 *
 * Every backend performs the same token operation (CKM_RSA_PKCS on a
 * SHA-256 DigestInfo, CKM_ECDSA on a digest, CKM_EDDSA on a message). */
#ifndef BENCH_SIGNER_H
#define BENCH_SIGNER_H

#include "common.h"

typedef struct signer signer;

/* Opens the key with the named backend; dies on failure. */
signer *signer_new(const char *impl, const bench_key *k);

/* Per-thread state: the raw backend's own session; NULL for the others,
 * whose threads share one key object as an application's would. */
void *signer_thread(signer *s);

/* One signature; returns 0 or dies. */
void signer_sign(signer *s, void *thread_state);

#endif
