/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * p11tls provisioning: what an operator does to a token before and after
 * serving with it. Change the user PIN, generate a key pair, write a
 * certificate and its issuers, delete objects, list mechanisms.
 *
 * The conventions of <p11tls/p11tls.h> hold (return codes, NULL context,
 * p11tls_free, thread-safety, PINs never logged and wiped). Functions that
 * write open a read-write session and log in as the user through the
 * context's usual PIN sources (the URI's pin-value or pin-source, then the
 * PIN function); a refused PIN is never retried. Every writing function
 * fails with P11TLS_E_READ_ONLY on a write-protected token, and with
 * P11TLS_E_FORKED when the PIN function forked (in the child: the call is
 * not started again there, since it changes the token).
 */
#ifndef P11TLS_PROVISION_H
#define P11TLS_PROVISION_H

#include <p11tls/p11tls.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The user PIN ---------------------------------------------------------- */

#define P11TLS_PIN_CHANGE_OLD (1u << 4) /* p11tls_pin_fn flag: the current user PIN, to change it */
#define P11TLS_PIN_CHANGE_NEW (1u << 5) /* p11tls_pin_fn flag: the new user PIN (asked once; confirming it is the caller's job) */
#define P11TLS_PIN_SO (1u << 6)         /* p11tls_pin_fn flag: the Security Officer's PIN (P11TLS_CERT_WRITE_TRUSTED) */

/* Changes the user PIN of the one token token_uri names (P11TLS_E_AMBIGUOUS if several): asks ctx's PIN function for
 * the old PIN (flags P11TLS_PIN_CHANGE_OLD), then the new one (P11TLS_PIN_CHANGE_NEW), checks the new PIN's length
 * against the token's ulMinPinLen/ulMaxPinLen (P11TLS_E_PIN_LEN_RANGE, detail says the range) before any token
 * call, logs in with the old PIN once (wrong: P11TLS_E_PIN_INCORRECT, never retried) and calls C_SetPIN in a
 * read-write session. An empty or cancelled PIN: P11TLS_E_PIN_CANCELLED, no C_Login. PINs wiped after use.
 *
 * The old PIN may also come from token_uri's pin-value or pin-source (as
 * for any login); the new PIN only from the PIN function. With no PIN
 * function: P11TLS_E_PIN_REQUIRED. On the default context (NULL) that is
 * GnuTLS's process-wide PIN function, which has no flag for "new PIN": it
 * is asked twice alike, first for the current PIN, then for the new one. A token with a protected authentication
 * path (a PIN pad) is asked for neither: C_Login and C_SetPIN run without
 * PINs and the reader asks. Other failures: P11TLS_E_TOKEN_NOT_PRESENT (no
 * token matches), P11TLS_E_INVALID_URI, P11TLS_E_PIN_LOCKED,
 * P11TLS_E_READ_ONLY, P11TLS_E_INVALID_ARGUMENT (token_uri NULL, flags not
 * 0), P11TLS_E_FORKED, P11TLS_E_DEVICE. The token stays logged in
 * afterwards, as after any login. Thread-safe. */
P11TLS_API int p11tls_token_set_pin(p11tls_ctx *ctx, const char *token_uri, unsigned flags /* 0; reserved */);

/* ---- Key pairs ------------------------------------------------------------- */

/* p11tls_key_generate() flag: the private key may leave the token wrapped
 * (CKA_EXTRACTABLE true). It stays CKA_SENSITIVE: never in the clear. */
#define P11TLS_KEYGEN_EXTRACTABLE (1u << 0)

/* Generates a key pair on the one token token_uri names (P11TLS_E_AMBIGUOUS
 * if several; uninitialized tokens are not counted) and opens its private
 * key as p11tls_key_open() would: *out_key is the caller's, freed with
 * p11tls_key_free(); p11tls_key_get_uri() gives its URI.
 *
 * type is "rsa:2048", "rsa:3072", "rsa:4096" (CKM_RSA_PKCS_KEY_PAIR_GEN,
 * exponent 65537), "ec:p256", "ec:p384", "ec:p521" (CKM_EC_KEY_PAIR_GEN,
 * the curve's OID as CKA_EC_PARAMS), "ed25519" or "ed448"
 * (CKM_EC_EDWARDS_KEY_PAIR_GEN, RFC 8410 OID). Both halves are token
 * objects labelled label; the private key is private, sensitive, can sign
 * (and decrypt, for RSA) and is not extractable unless flags has
 * P11TLS_KEYGEN_EXTRACTABLE. Both get CKA_ID id (id_len bytes); with id
 * NULL, the SHA-1 of the public key's DER SubjectPublicKeyInfo (20 bytes,
 * what GnuTLS's gnutls_x509_crt_get_key_id() and p11tool give), so the
 * certificate written later (p11tls_cert_write) gets the same ID.
 *
 * Failures, with nothing left on the token: P11TLS_E_INVALID_ARGUMENT (a
 * NULL or empty argument, an unknown type or flag), P11TLS_E_EXISTS (an
 * object with that label, or with the ID given, is on the token already),
 * P11TLS_E_UNSUPPORTED (the token lacks the mechanism, or its key sizes
 * exclude the type: Ed448 where Edwards keys stop below 448 bits),
 * P11TLS_E_READ_ONLY, the login failures of p11tls_key_open(), and
 * P11TLS_E_DEVICE for other token errors. If anything fails after
 * C_GenerateKeyPair (setting the ID, reading the public key back), both
 * halves are destroyed; if the token refuses to destroy one, the detail
 * says which half stays (label, CKR_ value) and that it was not removed.
 *
 * Writers at the same time: a token has no "create if absent". p11tls
 * calls on one host that make a key pair or write a certificate on one
 * token take turns (an advisory lock, flock(2) on
 * /run/lock/p11tls-provision-*.lock, or /tmp; waited for at most 60 s),
 * so the second finds the label taken (P11TLS_E_EXISTS). Writers that
 * lock cannot reach (another host, another tool) are looked for after the
 * pair is made: another object with the label (or the ID given) there
 * then means this call's pair is destroyed and P11TLS_E_EXISTS returned
 * ("appeared ... while this key pair was made"). Two writers that do so at
 * once may both give up. RSA-4096 takes seconds on a software token. */
P11TLS_API int p11tls_key_generate(p11tls_ctx *ctx, const char *token_uri, const char *type,
                                   const char *label, const uint8_t *id, size_t id_len,
                                   unsigned flags, p11tls_key **out_key);

/* ---- Certificates ------------------------------------------------------------ */

/* p11tls_cert_write() flag: the same certificate (same DER) on the token
 * already is success (nothing written, *out_uri NULL) rather than
 * P11TLS_E_EXISTS: for writing a chain's issuers, some of which may be
 * there. */
#define P11TLS_CERT_WRITE_SKIP_EXISTING (1u << 0)
/* p11tls_cert_write() flags for trust: CKA_TRUSTED true (an anchor for
 * p11tls_gnutls_trust_list_add() and GnuTLS's own PKCS#11 trust); on a
 * token that needs a login this is the Security Officer's to write: the
 * SO PIN is asked from the context's PIN function only, with flag
 * P11TLS_PIN_SO (never from the URI, whose PIN is the user's), once, and
 * the SO is logged out after. */
#define P11TLS_CERT_WRITE_TRUSTED (1u << 1)
/* CKA_CERTIFICATE_CATEGORY 2, authority, whatever the certificate's basic
 * constraints say (a version 1 root has none). */
#define P11TLS_CERT_WRITE_CA (1u << 2)
/* CKA_X_DISTRUSTED true: p11-kit's distrust (a blocklist entry of its trust
 * module's writable store). A token without that attribute (SoftHSM)
 * refuses it: P11TLS_E_UNSUPPORTED, nothing written. Not with
 * P11TLS_CERT_WRITE_TRUSTED. */
#define P11TLS_CERT_WRITE_DISTRUSTED (1u << 3)
/* With TRUSTED or DISTRUSTED, a certificate on the token already is no
 * error: a copy that has the marks already is success (its URI); else
 * the first copy is marked in place where the token lets it change, and
 * where it does not (SoftHSM keeps CKA_TRUSTED as written) a marked copy
 * is written, labelled label. */

/* Writes the X.509 certificate der (parsed by GnuTLS: P11TLS_E_INVALID_ARGUMENT
 * if it is none) to the one token token_uri names, as a public token
 * object of class CKO_CERTIFICATE, CKA_CERTIFICATE_TYPE CKC_X_509, with
 * CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER (DER INTEGER) and CKA_VALUE
 * from the certificate, CKA_CERTIFICATE_CATEGORY 2 (authority) for a CA
 * certificate, 1 (token user) when its private key is on the token, else 0.
 * label NULL: the subject's common name. CKA_ID: id (id_len bytes), else
 * the ID of the private key on the token whose public key the certificate
 * certifies (so a URI by ID names both; every private key is compared, up
 * to 100000, more is P11TLS_E_UNSUPPORTED), else SHA-1 of its public key.
 * *out_uri (if out_uri is not NULL) gets the certificate's URI, freed with
 * p11tls_free(). Also issuers: write each of a chain's certificates
 * (P11TLS_CERT_WRITE_SKIP_EXISTING is handy there).
 * Failures: P11TLS_E_EXISTS (another certificate has the label, or this
 * certificate is there already), P11TLS_E_INVALID_ARGUMENT (NULL or empty
 * arguments, unknown flags, no label and no common name, TRUSTED with
 * DISTRUSTED), P11TLS_E_READ_ONLY, login failures (for TRUSTED those of the
 * SO PIN, and P11TLS_E_NOT_PERMITTED while the token is logged in as its
 * user in this process: PKCS#11 allows one login type at a time),
 * P11TLS_E_UNSUPPORTED (DISTRUSTED on a token without CKA_X_DISTRUSTED),
 * P11TLS_E_DEVICE. Writers at the same time as for p11tls_key_generate():
 * p11tls calls take turns, and a certificate with the label or the same
 * value that another writer made while this one was written makes this call
 * remove its own and fail with P11TLS_E_EXISTS (with
 * P11TLS_CERT_WRITE_SKIP_EXISTING, the same value is success, as if it had
 * been there). Thread-safe; during a TRUSTED write other threads' user
 * logins to that token fail. */
P11TLS_API int p11tls_cert_write(p11tls_ctx *ctx, const char *token_uri, const uint8_t *der,
                                 size_t der_len, const char *label, const uint8_t *id,
                                 size_t id_len, unsigned flags, char **out_uri);

/* Called by p11tls_cert_get_chain() for each certificate (DER), leaf first.
 * Non-zero stops the walk and is returned. */
typedef int (*p11tls_der_cb)(void *arg, const uint8_t *der, size_t len);

/* Calls cb with the certificate uri names (exactly one: P11TLS_E_NOT_FOUND,
 * P11TLS_E_AMBIGUOUS naming the matches), then with each issuer found on
 * its token, in order, up to and including a self-signed root if that is
 * there (at most 8 certificates). Each issuer is looked for by its name
 * (the certificates whose CKA_SUBJECT is the issuer's subject, as GnuTLS
 * looks for issuers on tokens), so any number of other certificates on the
 * token is fine; of several with that subject, one whose key made the
 * signature is taken. A certificate object whose CKA_SUBJECT is not its
 * subject is not found as an issuer. Reads only, no login, unless flags
 * has P11TLS_CERT_LOGIN; flags: 0 or P11TLS_CERT_* (p11tls.h), which
 * select the first certificate as p11tls_cert_get_der2() does.
 * Thread-safe. */
P11TLS_API int p11tls_cert_get_chain(p11tls_ctx *ctx, const char *uri, unsigned flags,
                                     p11tls_der_cb cb, void *arg);

/* ---- Deleting ------------------------------------------------------------------ */

/* p11tls_object_delete() flag: delete every object the URI matches. */
#define P11TLS_DELETE_MULTIPLE (1u << 0)

/* Deletes the object uri names, logging in to see private objects (a PIN
 * goes only to a token known to hold it, as for p11tls_key_open(); tokens
 * that need a PIN and get none are not searched). A URI
 * that matches several objects (a key pair and its certificate share label
 * and ID: add type=) deletes nothing and fails with P11TLS_E_AMBIGUOUS,
 * naming some of them, unless flags has P11TLS_DELETE_MULTIPLE. A URI
 * naming no object attribute at all (no object, id or type) is refused
 * (P11TLS_E_INVALID_ARGUMENT), flag or not. All matches are found before
 * anything is deleted. Returns the number of objects deleted (> 0), or
 * P11TLS_E_NOT_FOUND, P11TLS_E_TOKEN_NOT_PRESENT, P11TLS_E_READ_ONLY,
 * P11TLS_E_UNSUPPORTED (more than 1000 matches), login failures,
 * P11TLS_E_DEVICE (whose detail says how many were deleted before).
 * Thread-safe. */
P11TLS_API int p11tls_object_delete(p11tls_ctx *ctx, const char *uri, unsigned flags);

/* ---- Mechanisms ------------------------------------------------------------------ */

typedef struct p11tls_mechanism_info {
    unsigned long type;         /* CKM_* */
    const char *name;           /* "CKM_ECDSA_SHA256"; unknown: "CKM_0x..." */
    unsigned long min_key_size; /* CK_MECHANISM_INFO, as the token says */
    unsigned long max_key_size;
    unsigned long flags;        /* CKF_SIGN, CKF_GENERATE_KEY_PAIR, ... */
} p11tls_mechanism_info;

/* Non-zero stops the listing and is returned. Strings valid during the call. */
typedef int (*p11tls_mechanism_cb)(void *arg, const p11tls_mechanism_info *info);

/* Calls cb for each mechanism of the one token token_uri names, in the
 * token's order. No login. Thread-safe. */
P11TLS_API int p11tls_token_list_mechanisms(p11tls_ctx *ctx, const char *token_uri,
                                            p11tls_mechanism_cb cb, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* P11TLS_PROVISION_H */
