/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * insert.c — wait=SECONDS (see insert.h). The waiting is p11tls's
 * (p11tls_ctx_wait_for_token: slot events where the module has them, a
 * bounded poll otherwise); this file talks to the user and the log.
 */
#include "insert.h"

#include <syslog.h>

#include <security/pam_ext.h>

static int count_token(void *arg, const p11tls_token_info *info)
{
    (void)info;
    ++*(int *)arg;
    return 1; /* one is enough */
}

int insert_wait(pam_handle_t *pamh, p11tls_ctx *ctx, const char *uri, unsigned seconds)
{
    int present = 0;
    const char *what = uri ? uri : "(any)";
    if (p11tls_list_tokens(ctx, uri, count_token, &present) >= 0 && present > 0)
        return PAM_SUCCESS;
    /* The user reads this; the log line says what is waited for. */
    pam_info(pamh, "Please insert your token (waiting up to %u seconds).", seconds);
    pam_syslog(pamh, LOG_INFO, "waiting up to %u s for a token matching %s", seconds, what);
    int rc = p11tls_ctx_wait_for_token(ctx, uri, seconds * 1000u);
    if (rc == 0)
        return PAM_SUCCESS;
    if (rc == P11TLS_E_TIMEOUT) {
        pam_syslog(pamh, LOG_NOTICE, "no token: none matching %s was inserted within %u s",
                   what, seconds);
        return PAM_AUTHINFO_UNAVAIL;
    }
    pam_syslog(pamh, LOG_ERR, "waiting for a token matching %s failed (%s): %s", what,
               p11tls_strerror_name(rc), p11tls_last_error_detail());
    return PAM_AUTHINFO_UNAVAIL;
}
