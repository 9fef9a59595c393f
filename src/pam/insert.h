/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * insert.h — option wait=SECONDS: ask the user to insert the token and
 * wait for it.
 */
#ifndef PAM_P11TLS_INSERT_H
#define PAM_P11TLS_INSERT_H

#include <security/pam_modules.h>

#include <p11tls/p11tls.h>

/* Largest wait= accepted, in seconds: a login prompt that waits longer
 * holds the session (and a root process) for nothing. */
#define INSERT_MAX_WAIT 600

/* If no token matching uri (NULL: any) is present, tells the user to
 * insert one (PAM_TEXT_INFO) and waits up to seconds for it. Returns
 * PAM_SUCCESS once one is there, PAM_AUTHINFO_UNAVAIL (logged) if none
 * came in time, another PAM error if the wait failed. */
int insert_wait(pam_handle_t *pamh, p11tls_ctx *ctx, const char *uri, unsigned seconds);

#endif /* PAM_P11TLS_INSERT_H */
