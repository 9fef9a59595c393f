/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* default_pin CASE: the default context's PIN comes from GnuTLS's
 * process-wide PKCS#11 PIN function (gnutls_pkcs11_set_pin_function), what
 * a program moving from GnuTLS's own PKCS#11 code has set. One case per
 * process (a token stays logged in for the rest of a process), run by
 * tests/gnutls/default_pin_test.sh. Opens the test token's p256 key (no PIN
 * in the URI) and signs with it.
 *   none     no GnuTLS PIN function: P11TLS_E_PIN_REQUIRED
 *   gnutls   GnuTLS's function gives the PIN: success; it was called once,
 *            with the token's label and GNUTLS_PIN_USER
 *   cancel   GnuTLS's function returns -1: P11TLS_E_PIN_CANCELLED
 *   own-ctx  a context of its own with no PIN function does not use
 *            GnuTLS's: P11TLS_E_PIN_REQUIRED (layered callers stay apart)
 * Exit status 0 = the case behaved as described. */
#include <p11tls/p11tls.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int calls;
static char seen_label[64];
static unsigned seen_flags;

static int gnutls_pin(void *userdata, int attempt, const char *token_url,
                      const char *token_label, unsigned flags, char *pin, size_t pin_max)
{
    (void)attempt; (void)token_url;
    calls++;
    snprintf(seen_label, sizeof seen_label, "%s", token_label);
    seen_flags = flags;
    if (userdata == NULL)
        return -1;
    snprintf(pin, pin_max, "%s", (const char *)userdata);
    return 0;
}

static int open_and_sign(p11tls_ctx *ctx)
{
    p11tls_key *key = NULL;
    uint8_t sig[256];
    size_t len = sizeof sig;
    int rc = p11tls_key_open(ctx, "pkcs11:token=p11tls-test;object=p256;type=private", 0, &key);
    if (rc == 0)
        rc = p11tls_key_sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, (const uint8_t *)"x", 1, sig, &len);
    if (rc < 0)
        fprintf(stderr, "open/sign: %s (%s)\n", p11tls_strerror(rc), p11tls_last_error_detail());
    p11tls_key_free(key);
    return rc;
}

static int expect(const char *what, int got, int want)
{
    if (got == want)
        return 0;
    fprintf(stderr, "FAIL %s: got %d, want %d\n", what, got, want);
    return 1;
}

int main(int argc, char **argv)
{
    const char *pin = getenv("P11TLS_TEST_PIN");
    if (argc != 2 || !pin) {
        fprintf(stderr, "usage: P11TLS_TEST_PIN=... %s none|gnutls|cancel|own-ctx\n", argv[0]);
        return 2;
    }
    const char *c = argv[1];
    int bad = 0;
    if (strcmp(c, "none") == 0) {
        bad |= expect("no GnuTLS PIN function", open_and_sign(NULL), P11TLS_E_PIN_REQUIRED);
    } else if (strcmp(c, "gnutls") == 0) {
        gnutls_pkcs11_set_pin_function(gnutls_pin, (void *)pin);
        bad |= expect("GnuTLS PIN function gives the PIN", open_and_sign(NULL), 0);
        bad |= expect("GnuTLS PIN function calls", calls, 1);
        bad |= expect("label given", strcmp(seen_label, "p11tls-test"), 0);
        bad |= expect("GNUTLS_PIN_USER given", !!(seen_flags & GNUTLS_PIN_USER), 1);
    } else if (strcmp(c, "cancel") == 0) {
        gnutls_pkcs11_set_pin_function(gnutls_pin, NULL);
        bad |= expect("GnuTLS PIN function cancels", open_and_sign(NULL), P11TLS_E_PIN_CANCELLED);
    } else if (strcmp(c, "own-ctx") == 0) {
        p11tls_ctx *ctx = NULL;
        if (p11tls_ctx_new(&ctx) < 0)
            return 1;
        gnutls_pkcs11_set_pin_function(gnutls_pin, (void *)pin);
        bad |= expect("own context ignores GnuTLS's PIN function", open_and_sign(ctx), P11TLS_E_PIN_REQUIRED);
        bad |= expect("GnuTLS PIN function calls", calls, 0);
        p11tls_ctx_free(ctx);
    } else {
        fprintf(stderr, "unknown case %s\n", c);
        return 2;
    }
    printf("%s: %s\n", c, bad ? "FAIL" : "ok");
    return bad;
}
