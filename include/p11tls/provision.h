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

/* Changes the user PIN of the one token token_uri names (P11TLS_E_AMBIGUOUS if several): asks ctx's PIN function for
 * the old PIN (flags P11TLS_PIN_CHANGE_OLD), then the new one (P11TLS_PIN_CHANGE_NEW), checks the new PIN's length
 * against the token's ulMinPinLen/ulMaxPinLen (P11TLS_E_PIN_LEN_RANGE, detail says the range) before any token
 * call, logs in with the old PIN once (wrong: P11TLS_E_PIN_INCORRECT, never retried) and calls C_SetPIN in a
 * read-write session. An empty or cancelled PIN: P11TLS_E_PIN_CANCELLED, no C_Login. PINs wiped after use.
 *
 * The old PIN may also come from token_uri's pin-value or pin-source (as
 * for any login); the new PIN only from the PIN function. With no PIN
 * function: P11TLS_E_PIN_REQUIRED. A token with a protected authentication
 * path (a PIN pad) is asked for neither: C_Login and C_SetPIN run without
 * PINs and the reader asks. Other failures: P11TLS_E_TOKEN_NOT_PRESENT (no
 * token matches), P11TLS_E_INVALID_URI, P11TLS_E_PIN_LOCKED,
 * P11TLS_E_READ_ONLY, P11TLS_E_INVALID_ARGUMENT (token_uri NULL, flags not
 * 0), P11TLS_E_FORKED, P11TLS_E_DEVICE. The token stays logged in
 * afterwards, as after any login. Thread-safe. */
P11TLS_API int p11tls_token_set_pin(p11tls_ctx *ctx, const char *token_uri, unsigned flags /* 0; reserved */);

#ifdef __cplusplus
}
#endif

#endif /* P11TLS_PROVISION_H */
