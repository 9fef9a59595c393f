/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* caller.c - a layered caller of p11tls, built twice (CALLER_TAG a and b)
 * as loadable modules the way PAM modules are: tests/layered/layered_test.c
 * dlopens them side by side. Each has its own context, PIN function and
 * fork policy, and cleans up after itself in caller_stop(); none calls
 * anything to initialize or deinitialize p11tls. */
#include <stdio.h>
#include <string.h>

#include <p11tls/p11tls.h>

#define EXPORT __attribute__((visibility("default")))

static p11tls_ctx *ctx;
static p11tls_key *key;
static char pin_copy[64];
static int pin_calls;

static int caller_pin(void *arg, const char *token_uri, const char *label, unsigned flags,
                      char *pin, size_t size)
{
    (void)arg; (void)token_uri; (void)label; (void)flags;
    pin_calls++;
    snprintf(pin, size, "%s", pin_copy);
    return 0;
}

/* Opens key_uri through a context of this caller's own. Returns 0 or the
 * p11tls error. */
EXPORT int caller_start(const char *key_uri, int fork_policy, const char *pin)
{
    int rc;
    snprintf(pin_copy, sizeof pin_copy, "%s", pin);
    rc = p11tls_ctx_new(&ctx);
    if (rc == 0)
        rc = p11tls_ctx_set_pin_fn(ctx, caller_pin, NULL);
    if (rc == 0)
        rc = p11tls_ctx_set_fork_policy(ctx, fork_policy);
    if (rc == 0)
        rc = p11tls_key_open(ctx, key_uri, 0, &key);
    return rc;
}

/* Signs a fixed message (ECDSA P-256, SHA-256). Returns 0 or the error. */
EXPORT int caller_sign(void)
{
    static const char msg[] = "layered caller " CALLER_TAG;
    uint8_t sig[256];
    size_t len = sizeof sig;
    return p11tls_key_sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, (const uint8_t *)msg,
                           sizeof msg - 1, sig, &len);
}

EXPORT int caller_pin_calls(void) { return pin_calls; }

EXPORT void caller_stop(void)
{
    p11tls_key_free(key);
    p11tls_ctx_free(ctx);
    key = NULL;
    ctx = NULL;
    memset(pin_copy, 0, sizeof pin_copy);
}
