/*
 * p11tls GnuTLS glue: use a p11tls key as a GnuTLS private key.
 *
 * The conventions of <p11tls/p11tls.h> apply, except that functions here
 * return GnuTLS error codes (GNUTLS_E_*), since they are called from GnuTLS
 * code; p11tls_last_error_detail() still says, for the calling thread, what
 * the last p11tls operation failed on.
 */
#ifndef P11TLS_GNUTLS_H
#define P11TLS_GNUTLS_H

#include <gnutls/abstract.h>
#include <p11tls/p11tls.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opens the private key named by uri (as p11tls_key_open() does, through
 * ctx; NULL is the default context) and imports it into pkey, an
 * initialized and still empty gnutls_privkey_t. pkey then owns the key:
 * gnutls_privkey_deinit(pkey) frees it. flags must be 0.
 *
 * The key signs (RSA PKCS#1 v1.5 with SHA-256/384/512, RSA-PSS, ECDSA,
 * Ed25519, Ed448, as far as the token supports the mechanism) and, for
 * RSA, decrypts PKCS#1 v1.5 (TLS 1.2 RSA key exchange). TLS 1.0/1.1
 * MD5+SHA-1 signatures and SHA-1 signatures are not supported.
 *
 * Returns 0, or a negative GNUTLS_E_* code: GNUTLS_E_INVALID_REQUEST for bad
 * arguments, GNUTLS_E_PKCS11_ERROR when the key could not be opened (the
 * p11tls error is in p11tls_last_error_detail()), GNUTLS_E_MEMORY_ERROR, or what
 * gnutls_privkey_import_ext4() returned. On failure pkey is unchanged. */
P11TLS_API int p11tls_gnutls_privkey_import(gnutls_privkey_t pkey, p11tls_ctx *ctx,
                                            const char *uri, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif /* P11TLS_GNUTLS_H */
