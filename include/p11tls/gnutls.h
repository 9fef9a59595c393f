/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
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
#include <gnutls/x509.h>
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
 * Returns 0, or a negative GNUTLS_E_* code, the one GnuTLS's own PKCS#11
 * code returns in the same situation: GNUTLS_E_INVALID_REQUEST for bad
 * arguments or a malformed URI, GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE when
 * no token or no key matches, GNUTLS_E_PKCS11_PIN_ERROR when no usable PIN
 * was available or the token refused it, GNUTLS_E_PKCS11_PIN_LOCKED,
 * GNUTLS_E_PKCS11_DEVICE_ERROR, GNUTLS_E_PKCS11_LOAD_ERROR (a module),
 * GNUTLS_E_PKCS11_UNSUPPORTED_FEATURE_ERROR, GNUTLS_E_PKCS11_ERROR
 * otherwise (the p11tls error is in p11tls_last_error_detail()),
 * GNUTLS_E_MEMORY_ERROR, or what gnutls_privkey_import_ext4() returned. On failure pkey is unchanged.
 * Thread-safe; the key may be used by several threads and after fork(), as
 * the context's fork policy says. */
P11TLS_API int p11tls_gnutls_privkey_import(gnutls_privkey_t pkey, p11tls_ctx *ctx,
                                            const char *uri, unsigned flags);

/* Imports the certificate named by uri (fetched through ctx; NULL is the
 * default context) into crt, an initialized gnutls_x509_crt_t. Returns 0,
 * or a negative GNUTLS_E_* code as p11tls_gnutls_privkey_import() does
 * (GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE when no certificate matches,
 * GNUTLS_E_PKCS11_ERROR when several do), or
 * what gnutls_x509_crt_import() returned. Thread-safe. */
P11TLS_API int p11tls_gnutls_x509_crt_import(gnutls_x509_crt_t crt, p11tls_ctx *ctx,
                                             const char *uri);

/* Adds to cred the certificate named by cert_uri, its chain, and the private
 * key named by key_uri (opened as p11tls_gnutls_privkey_import() does), as
 * gnutls_certificate_set_key() would. When cert_uri matches several
 * certificates of one public key (an old and a renewed one with the same
 * label and ID, as smart cards keep them), the one valid now is used, the
 * newest of those (latest not-before), or the newest of all if none is
 * valid now (P11TLS_CERT_NEWEST in p11tls.h); certificates of different
 * keys fail (GNUTLS_E_PKCS11_ERROR, the detail names them). The chain is
 * the certificate, then its issuers on the same token, each found by its
 * name (CKA_SUBJECT; any number of other certificates on the token), up to
 * but not including a self-signed root (at most 8 certificates). GnuTLS
 * checks that the key belongs to the certificate
 * (GNUTLS_E_CERTIFICATE_KEY_MISMATCH otherwise).
 *
 * Returns what gnutls_certificate_set_key() returned (0, or the key's index
 * if cred has GNUTLS_CERTIFICATE_API_V2), or a negative GNUTLS_E_* code as
 * p11tls_gnutls_x509_crt_import() does; on failure cred is unchanged. cred
 * owns the key and certificates afterwards. Not thread-safe with respect to
 * other uses of the same cred (as GnuTLS's own set_key). */
P11TLS_API int p11tls_gnutls_certificate_set_key(gnutls_certificate_credentials_t cred,
                                                 p11tls_ctx *ctx, const char *cert_uri,
                                                 const char *key_uri);

/* Makes GnuTLS hand pkcs11: URLs to p11tls: gnutls_privkey_import_url(),
 * gnutls_x509_crt_import_url() and what is built on them, such as
 * gnutls_certificate_set_x509_key_file2() with pkcs11: URLs, then open keys
 * and certificates through p11tls, in a context of its own (registered
 * p11-kit modules, fork policy P11TLS_FORK_REINIT). The PIN comes from the
 * URL (pin-value, pin-source) or, failing that, from the PIN callback set on
 * the gnutls_privkey_t the key is imported into (gnutls_privkey_set_pin_function(),
 * gnutls_certificate_set_pin_function(), the pass argument of
 * gnutls_certificate_set_x509_key_file2(): GnuTLS puts all three there),
 * or else GnuTLS's process-wide PKCS#11 PIN function
 * (gnutls_pkcs11_set_pin_function()). The callback is asked with attempt 0,
 * and again after fork() when the key logs in again, so what it points to
 * must live as long as the key. (GnuTLS has no accessor for a privkey's
 * callback: p11tls reads it from GnuTLS's struct after checking its layout
 * on the running library, GnuTLS 3.6.16 to 3.8.9; with another layout only
 * the process-wide function is asked, see doc/apps.md.)
 *
 * Certificates: GnuTLS's GNUTLS_PKCS11_OBJ_FLAG_LOGIN is honoured, as
 * GnuTLS's own import does: with it, a private certificate (CKA_PRIVATE)
 * is found after logging in to the one token the URL names (PIN from the
 * URL, the PIN callback set on the gnutls_x509_crt_t, such as the pin_fn of
 * gnutls_x509_crt_list_import_url() and gnutls_pcert_list_import_x509_file(),
 * read as a privkey's is, or GnuTLS's process-wide function). Without it
 * only public certificates are found, and finding none is logged at info
 * level, not as an error: GnuTLS's callers try again with the flag. Several
 * certificates of one key: the one valid now, newest, as
 * p11tls_gnutls_certificate_set_key() takes it.
 *
 * What GnuTLS still does itself for pkcs11: URLs: issuer lookups when it
 * builds a chain from a URL (gnutls_pkcs11_get_raw_issuer(), so
 * gnutls_certificate_set_x509_key_file2() may initialize GnuTLS's own
 * PKCS#11 layer to look for issuers), gnutls_pubkey_import_url(), and
 * everything under gnutls_pkcs11_*(). Use p11tls_gnutls_certificate_set_key()
 * to have the chain found by p11tls.
 *
 * Idempotent: every call after the first returns the first call's result,
 * and several callers in one process may each call it. Returns 0, or a
 * negative GNUTLS_E_* code (GNUTLS_E_INVALID_REQUEST if something else
 * registered pkcs11: first). GnuTLS's URL table is not thread-safe: call it
 * before other threads use GnuTLS URL functions. */
P11TLS_API int p11tls_gnutls_register_url(void);

/* Sets (fn != NULL) or clears (fn == NULL) the log function of the contexts
 * that serve the URLs of p11tls_gnutls_register_url() (which it calls
 * first), as p11tls_ctx_set_log_fn() does for one context: the messages, up
 * to max_level, of every key and certificate GnuTLS imports through them.
 * The p11tls exec preload sets one that writes warnings and errors to
 * stderr. Returns 0, GNUTLS_E_INVALID_REQUEST for a max_level outside
 * P11TLS_LOG_ERROR..P11TLS_LOG_DEBUG when fn is set, or what
 * p11tls_gnutls_register_url() returned. Thread-safe. */
P11TLS_API int p11tls_gnutls_url_set_log_fn(p11tls_log_fn fn, void *arg, int max_level);

/* Trust through PKCS#11: anchors, distrust and issuer lookup for
 * certificate verification with list (gnutls_x509_trust_list_verify_crt2(),
 * or a credentials structure that owns list), as strict as GnuTLS's own
 * PKCS#11 trust (a "pkcs11:" trust URL) on the same tokens.
 *
 * Adds to list the certificates that the tokens named by uri (read through
 * ctx; NULL is the default context) mark as trusted anchors: certificates
 * with CKA_TRUSTED true (CKA_CERTIFICATE_CATEGORY authority or
 * unspecified), p11-kit trust assertions anchoring a certificate for server
 * authentication, NSS trust objects with CKA_TRUST_SERVER_AUTH
 * CKT_NSS_TRUSTED_DELEGATOR. A certificate merely present on a token is no
 * anchor. The extensions a token staples to an anchor's public key
 * (p11-kit's CKO_X_CERTIFICATE_EXTENSION: key usage, extended key usage,
 * basic constraints, name constraints, ...) replace the anchor's own, as
 * GnuTLS applies them; an anchor whose extended key usage does not allow
 * the list's purpose (TLS server authentication, or client authentication
 * with P11TLS_TRUST_FOR_CLIENTS) is left out, as GnuTLS's own trust checks
 * the anchor for the purpose of the verification and a trust list does not
 * (a root restricted to e-mail anchors no TLS peer).
 *
 * Certificates the tokens distrust (CKA_X_DISTRUSTED, p11-kit distrust
 * assertions, CKT_NSS_NOT_TRUSTED) are refused wherever they are in a
 * chain, sent by the peer or found on the tokens: those whose value the
 * tokens hold go on the list's blocklist (gnutls_x509_trust_list_remove_cas()),
 * and every one, by issuer and serial number, into an unsigned CRL of its
 * issuer that the list keeps (p11-kit's blocklist can name a certificate by
 * issuer and serial number alone). A chain holding one fails with
 * GNUTLS_CERT_REVOKED (the CRLs are not consulted under
 * GNUTLS_VERIFY_DISABLE_CRL_CHECKS); an anchor also distrusted is none. And
 * it makes the list look for missing intermediate issuers among the
 * certificates of those tokens (gnutls_x509_trust_list_set_getissuer_function()),
 * so that a peer that sends its certificate alone verifies.
 *
 * uri names tokens (pkcs11:token=System%20Trust) or certificates on them
 * (object=, id=: only those are read); names of keys are refused. The
 * tokens are read once, here, and verification works from memory, as fast
 * as with the same anchors from a file (in the tokens' order, as a PEM file
 * of the store has them); objects are public, no PIN is asked. Several URIs
 * may be added to one list; lists are independent.
 *
 * Changes on the tokens are seen after p11tls_gnutls_trust_list_refresh()
 * reads them again. GnuTLS calls into p11tls during a verification only for
 * a chain with a gap (an issuer neither sent nor an anchor: the issuer
 * lookup), and then, once P11TLS_TRUST_REFRESH_SECONDS or more have passed
 * since the last read, the tokens are read again inside that verification
 * (the automatic refresh). A chain that ends at an anchor is verified with
 * no p11tls code: to have an anchor removed or a certificate newly
 * distrusted refused within the delay whatever the peers send, call
 * p11tls_gnutls_trust_list_refresh(list, P11TLS_TRUST_REFRESH_IF_DUE)
 * before each verification or handshake (a clock read until the delay has
 * passed; p11tls serve does). The automatic refresh changes list inside
 * the verification that triggers it: for a list that several threads
 * verify with at once, pass P11TLS_TRUST_NO_AUTO_REFRESH and refresh while
 * no thread uses the list. A certificate once distrusted, or an anchor once
 * removed from the tokens, stays refused by this list (GnuTLS keeps no way
 * to undo its blocklist and CRLs); make a new list to trust it again.
 *
 * The list is the caller's and keeps working after fork() in child and
 * grandchild with nothing reloaded: lookups that need the tokens go through
 * p11tls, which rebuilds its state there. p11tls uses the list's user
 * pointer (gnutls_x509_trust_list_set_ptr()) and its issuer function:
 * set neither. Free the list with gnutls_x509_trust_list_deinit(list, 1)
 * (the anchors and CRLs added are the list's); p11tls keeps a small record
 * per list address until another list is made at that address.
 *
 * flags: 0, P11TLS_TRUST_NO_AUTO_REFRESH, P11TLS_TRUST_FOR_CLIENTS (the
 * list verifies TLS clients: a server's client certificates, a PAM
 * module's users); the first call on a list decides. Returns the number of
 * anchors found through uri (0 is no error: the tokens may only distrust),
 * or a negative GNUTLS_E_* code:
 * GNUTLS_E_INVALID_REQUEST for bad arguments, a malformed URI or one naming
 * keys, GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE when no token matches, the
 * other codes of p11tls_gnutls_privkey_import() when a token could not be
 * read (GNUTLS_E_PKCS11_DEVICE_ERROR, ...; the detail in
 * p11tls_last_error_detail()), GNUTLS_E_MEMORY_ERROR.
 * On failure the list is unchanged. Thread-safe for different lists; one
 * list is the caller's to serialize, as with gnutls_x509_trust_list_add_cas(). */
#define P11TLS_TRUST_NO_AUTO_REFRESH (1u << 0)
#define P11TLS_TRUST_FOR_CLIENTS (1u << 1)
#define P11TLS_TRUST_REFRESH_SECONDS 60
P11TLS_API int p11tls_gnutls_trust_list_add(gnutls_x509_trust_list_t list, p11tls_ctx *ctx,
                                            const char *uri, unsigned flags);

/* Reads again, now, the tokens of every URI added to list with
 * p11tls_gnutls_trust_list_add() and applies what changed: anchors added
 * are trusted, anchors removed and certificates newly distrusted are
 * refused. flags: 0, or P11TLS_TRUST_REFRESH_IF_DUE: only if the tokens
 * were read P11TLS_TRUST_REFRESH_SECONDS or more ago, else return 0 at
 * once (a clock read; call it before each verification, or each
 * handshake, to have removals and distrust seen within the delay whatever
 * the peers send). Returns the number of certificates whose trust
 * changed (0: nothing did), or a negative GNUTLS_E_* code:
 * GNUTLS_E_INVALID_REQUEST for bad arguments or a list no URI was added
 * to, the codes of p11tls_gnutls_trust_list_add() when a token could not
 * be read (what it said
 * last stays in force; the other URIs are applied). Not thread-safe with
 * respect to verifications with the same list (it changes the list). */
#define P11TLS_TRUST_REFRESH_IF_DUE (1u << 2)
P11TLS_API int p11tls_gnutls_trust_list_refresh(gnutls_x509_trust_list_t list, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif /* P11TLS_GNUTLS_H */
