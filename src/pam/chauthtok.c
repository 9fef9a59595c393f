/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * chauthtok.c — the token's user PIN changed through the password stack
 * (see chauthtok.h).
 */

#include "chauthtok.h"
#include "pin.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include <p11tls/provision.h>

/* The three answers, handed to p11tls when it asks. */
struct pin_change {
    char *old_pin, *new_pin, *again;
    int asked_other; /* p11tls asked for another PIN: not given */
};

static int give_pin(void *arg, const char *token_uri, const char *token_label, unsigned flags,
                    char *pin, size_t pin_size)
{
    struct pin_change *pc = arg;
    const char *src = NULL;
    (void)token_uri;
    (void)token_label;
    if (flags & P11TLS_PIN_WRONG)
        return -1; /* never a second try */
    if (flags & P11TLS_PIN_CHANGE_OLD)
        src = pc->old_pin;
    else if (flags & P11TLS_PIN_CHANGE_NEW)
        src = pc->new_pin;
    else
        pc->asked_other = 1;
    if (src == NULL)
        return -1;
    return pin_give(src, pin, pin_size);
}

/* One hidden answer; NULL (logged as why) if the conversation gave none or
 * an empty one. */
static char *ask(pam_handle_t *pamh, const char *user, const char *label, const char *what,
                 const char *fmt)
{
    char *resp = NULL;
    int rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &resp, fmt, label);
    if (rc != PAM_SUCCESS || resp == NULL || resp[0] == '\0') {
        pam_syslog(pamh, LOG_NOTICE, "user %s: token %s: no %s given; PIN not changed", user,
                   label, what);
        pam_error(pamh, "No %s given; PIN not changed.", what);
        pin_response_free(&resp);
        return NULL;
    }
    return resp;
}

static int first_label(void *arg, const p11tls_token_info *info)
{
    char **label = arg;
    *label = strdup(info->label ? info->label : "");
    return 1;
}

int chauthtok_update(pam_handle_t *pamh, p11tls_ctx *ctx, const char *user, const char *uri)
{
    struct pin_change pc = {NULL, NULL, NULL, 0};
    char *label = NULL;
    int ret = PAM_AUTHTOK_ERR;

    /* The token's label, for the prompts: token info only, no login. */
    p11tls_list_tokens(ctx, uri, first_label, &label);
    if (label == NULL) {
        pam_syslog(pamh, LOG_NOTICE, "user %s: no token matches %s; PIN not changed", user,
                   uri ? uri : "(any)");
        pam_error(pamh, "No token found; PIN not changed.");
        return PAM_AUTHTOK_ERR;
    }
    if ((pc.old_pin = ask(pamh, user, label, "current PIN", "Current PIN for %s: ")) == NULL ||
        (pc.new_pin = ask(pamh, user, label, "new PIN", "New PIN for %s: ")) == NULL ||
        (pc.again = ask(pamh, user, label, "new PIN", "Retype new PIN for %s: ")) == NULL)
        goto out;
    if (strcmp(pc.new_pin, pc.again) != 0) {
        pam_syslog(pamh, LOG_NOTICE, "user %s: token %s: the new PINs differ; PIN not changed",
                   user, label);
        pam_error(pamh, "The new PINs do not match; PIN not changed.");
        goto out;
    }
    p11tls_ctx_set_pin_fn(ctx, give_pin, &pc);
    int rc = p11tls_token_set_pin(ctx, uri, 0);
    switch (rc) {
    case 0:
        pam_syslog(pamh, LOG_NOTICE, "user %s: PIN of token %s changed", user, label);
        pam_info(pamh, "PIN of %s changed.", label);
        ret = PAM_SUCCESS;
        break;
    case P11TLS_E_PIN_INCORRECT:
        pam_syslog(pamh, LOG_NOTICE, "user %s: wrong current PIN for token %s; PIN not changed",
                   user, label);
        pam_error(pamh, "Wrong current PIN; PIN not changed.");
        break;
    case P11TLS_E_PIN_LOCKED:
        pam_syslog(pamh, LOG_NOTICE, "user %s: the PIN of token %s is locked", user, label);
        pam_error(pamh, "The PIN is locked; PIN not changed.");
        break;
    case P11TLS_E_PIN_LEN_RANGE:
        /* The detail gives the token's limits, never the PIN. */
        pam_syslog(pamh, LOG_NOTICE, "user %s: token %s: new PIN refused: %s", user, label,
                   p11tls_last_error_detail());
        pam_error(pamh, "PIN not changed: %s.", p11tls_last_error_detail());
        break;
    default:
        pam_syslog(pamh, LOG_NOTICE, "user %s: changing the PIN of token %s failed (%s): %s",
                   user, label, p11tls_strerror_name(rc), p11tls_last_error_detail());
        pam_error(pamh, "PIN not changed: %s.", p11tls_strerror(rc));
        break;
    }
    p11tls_ctx_set_pin_fn(ctx, NULL, NULL);
out:
    pin_response_free(&pc.old_pin);
    pin_response_free(&pc.new_pin);
    pin_response_free(&pc.again);
    free(label);
    return ret;
}
