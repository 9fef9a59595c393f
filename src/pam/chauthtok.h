/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * chauthtok.h — the password stack: change the token's user PIN
 * (p11tls_token_set_pin).
 *
 * The current PIN, then the new PIN twice, are asked through the
 * conversation before the token is touched: an empty answer, or new PINs
 * that differ, end it there with no login. p11tls checks the new PIN's
 * length against the token's limits before logging in, logs in once with
 * the current PIN and sets the new one. A refused PIN is not asked again.
 */
#ifndef PAM_P11TLS_CHAUTHTOK_H
#define PAM_P11TLS_CHAUTHTOK_H

#include <security/pam_modules.h>

#include <p11tls/p11tls.h>

/* The PAM_UPDATE_AUTHTOK pass for user on the token uri names, through
 * ctx (which has no PIN function yet). Returns PAM_SUCCESS or
 * PAM_AUTHTOK_ERR (the reason logged, and told to the user). */
int chauthtok_update(pam_handle_t *pamh, p11tls_ctx *ctx, const char *user, const char *uri);

#endif /* PAM_P11TLS_CHAUTHTOK_H */
