/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * pin.h — where pam_p11tls gets the token PIN: the PAM conversation, or the
 * PAM_AUTHTOK item an earlier module set (try_first_pass, use_first_pass).
 *
 * A PIN is handed to p11tls at most once per authentication: p11tls never
 * retries a refused PIN and neither does this code (each wrong PIN burns
 * one of the token's tries), so a wrong PAM_AUTHTOK is not followed by a
 * prompt even with try_first_pass.
 */
#ifndef PAM_P11TLS_PIN_H
#define PAM_P11TLS_PIN_H

#include <stddef.h>

#include <security/pam_modules.h>

enum pin_mode {
    PIN_PROMPT,         /* always ask through the conversation */
    PIN_TRY_FIRST_PASS, /* PAM_AUTHTOK if set, else ask */
    PIN_USE_FIRST_PASS, /* PAM_AUTHTOK only, never ask */
};

enum pin_source { PIN_NONE, PIN_FROM_PROMPT, PIN_FROM_AUTHTOK };

struct pin_state {
    pam_handle_t *pamh;
    enum pin_mode mode;
    int calls;              /* times p11tls asked */
    unsigned flags;         /* P11TLS_PIN_* of the last request */
    enum pin_source source; /* where the last PIN came from */
    const char *declined;   /* why no PIN was given, for the log; static */
};

/* Copies the NUL-terminated PIN src into p11tls's buffer: 0, or -1 if it
 * does not fit (a PIN is refused, never cut). */
int pin_give(const char *src, char *pin, size_t pin_size);

/* Wipes and frees a conversation answer (a PIN) and sets *resp to NULL;
 * NULL is ignored. */
void pin_response_free(char **resp);

/* A p11tls_pin_fn; arg is a struct pin_state. */
int pin_from_pam(void *arg, const char *token_uri, const char *token_label,
                 unsigned flags, char *pin, size_t pin_size);

#endif /* PAM_P11TLS_PIN_H */
