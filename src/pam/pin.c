/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * pin.c — the PIN function of pam_p11tls (see pin.h).
 */
#define _DEFAULT_SOURCE 1 /* explicit_bzero */

#include "pin.h"

#include <stdlib.h>
#include <string.h>

#include <security/pam_ext.h>

#include <p11tls/p11tls.h>

int pin_give(const char *src, char *pin, size_t pin_size)
{
    size_t n = strlen(src);
    if (n + 1 > pin_size)
        return -1;
    memcpy(pin, src, n + 1);
    return 0;
}

static int prompt(struct pin_state *ps, const char *label, unsigned flags,
                  char *pin, size_t pin_size)
{
    char *resp = NULL;
    const char *warn = "";
    if (flags & P11TLS_PIN_FINAL_TRY)
        warn = " (final try: a wrong PIN locks the token)";
    else if (flags & P11TLS_PIN_COUNT_LOW)
        warn = " (a wrong PIN was entered before)";
    int rc = pam_prompt(ps->pamh, PAM_PROMPT_ECHO_OFF, &resp, "PIN for %s%s: ",
                        label, warn);
    if (rc != PAM_SUCCESS || resp == NULL) {
        ps->declined = "the conversation gave no PIN";
        rc = -1;
    } else if (resp[0] == '\0') {
        /* Enter alone is a cancel: an empty PIN would cost a token try. */
        ps->declined = "no PIN given (Enter alone at the prompt)";
        rc = -1;
    } else {
        rc = pin_give(resp, pin, pin_size);
        if (rc < 0)
            ps->declined = "the PIN entered is too long";
        else
            ps->source = PIN_FROM_PROMPT;
    }
    pin_response_free(&resp);
    return rc;
}

void pin_response_free(char **resp)
{
    if (*resp) {
        explicit_bzero(*resp, strlen(*resp));
        free(*resp);
        *resp = NULL;
    }
}

int pin_from_pam(void *arg, const char *token_uri, const char *token_label,
                 unsigned flags, char *pin, size_t pin_size)
{
    struct pin_state *ps = arg;
    const char *label = token_label && *token_label ? token_label : "token";
    (void)token_uri;

    ps->calls++;
    ps->flags = flags;
    ps->source = PIN_NONE;
    /* p11tls does not retry, but if it ever asked again after a refusal we
     * would still not: every wrong PIN costs the user one token try. */
    if (flags & P11TLS_PIN_WRONG) {
        ps->declined = "a PIN was refused before; not asking again";
        return -1;
    }
    if (ps->mode != PIN_PROMPT) {
        const void *item = NULL;
        int rc = pam_get_item(ps->pamh, PAM_AUTHTOK, &item);
        const char *tok = rc == PAM_SUCCESS ? item : NULL;
        /* An earlier module's password is a guess at the PIN; on the last
         * try a wrong guess would lock the token, so only the user may
         * spend that try. */
        if (tok && *tok && (flags & P11TLS_PIN_FINAL_TRY)) {
            if (ps->mode == PIN_USE_FIRST_PASS) {
                ps->declined = "final PIN try left; PAM_AUTHTOK not used (use_first_pass)";
                return -1;
            }
        } else if (tok && *tok) {
            if (pin_give(tok, pin, pin_size) < 0) {
                ps->declined = "PAM_AUTHTOK is too long for a PIN";
                return -1;
            }
            ps->source = PIN_FROM_AUTHTOK;
            return 0;
        } else if (ps->mode == PIN_USE_FIRST_PASS) {
            ps->declined = "use_first_pass: no PAM_AUTHTOK from an earlier module";
            return -1;
        }
    }
    return prompt(ps, label, flags, pin, pin_size);
}
