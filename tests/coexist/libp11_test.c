/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* tests/coexist/libp11_test.c: libp11 itself (as pam_p11 and the OpenSSL
 * engine use it: PKCS11_CTX_load, PKCS11_CTX_unload, which C_Initialize and
 * C_Finalize the module) on the module p11tls uses (SoftHSM, registered
 * with p11-kit by tests/with-token.sh), before and after p11tls's first use
 * in one program. p11tls's key must sign on (verified with GnuTLS against
 * the token's certificate) after each unload, and libp11 must find the token
 * whatever p11tls did. Through tests/suites/libp11.rof-false.test; prints
 * "ok"/"not ok" lines, exits 1 if one failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libp11.h>

#include <p11tls/p11tls.h>

#include "../support/verify_pem.h"

static int failures, n;

static void check(int ok, const char *what)
{
    printf("%s %d - %s", ok ? "ok" : "not ok", ++n, what);
    if (!ok)
        printf(" (%s)", p11tls_last_error_detail());
    printf("\n");
    failures += !ok;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "libp11_test: %s not set (run through tests/with-token.sh)\n", name);
        exit(77);
    }
    return v;
}

/* libp11 loads the module, finds the test token, unloads it: 1 if all
 * worked. With keep, returns with the module still loaded in *out. */
static int libp11_round(PKCS11_CTX **out)
{
    PKCS11_CTX *ctx = PKCS11_CTX_new();
    PKCS11_SLOT *slots = NULL;
    unsigned int nslots = 0;
    int ok = ctx && PKCS11_CTX_load(ctx, env("P11TLS_SOFTHSM_MODULE")) == 0;
    if (ok && PKCS11_enumerate_slots(ctx, &slots, &nslots) == 0) {
        PKCS11_SLOT *s = PKCS11_find_token(ctx, slots, nslots);
        ok = s && s->token && strcmp(s->token->label, "p11tls-test") == 0;
        PKCS11_release_all_slots(ctx, slots, nslots);
    } else {
        ok = 0;
    }
    if (out && ok) {
        *out = ctx;
        return 1;
    }
    if (ctx) {
        PKCS11_CTX_unload(ctx);
        PKCS11_CTX_free(ctx);
    }
    return ok;
}

static void libp11_unload(PKCS11_CTX *ctx)
{
    PKCS11_CTX_unload(ctx);
    PKCS11_CTX_free(ctx);
}

/* 1 if key signs a message that verifies under the token's p256
 * certificate. */
static int signs(p11tls_key *key)
{
    static const unsigned char msg[] = "libp11 beside p11tls";
    unsigned char sig[256];
    size_t len = sizeof sig;
    if (p11tls_key_sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg, sizeof msg, sig, &len) != 0)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/p256.pem", env("P11TLS_TEST_DIR"));
    return test_verify_pem(path, GNUTLS_SIGN_ECDSA_SHA256, msg, sizeof msg, sig, len);
}

int main(void)
{
    static const char uri[] = "pkcs11:token=p11tls-test;object=p256;type=private;pin-value=1234";
    p11tls_key *key = NULL, *again = NULL;
    PKCS11_CTX *held = NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);

    check(libp11_round(NULL), "libp11 loads, finds the token and unloads before p11tls's first use");
    check(p11tls_key_open(NULL, uri, 0, &key) == 0, "p11tls opens the key after that");
    if (!key)
        return 1;
    check(signs(key), "and signs");
    for (int round = 1; round <= 2; round++) {
        check(libp11_round(NULL), "libp11 loads (the module is initialized already), finds the token, unloads");
        check(signs(key), "p11tls's key signs after libp11's C_Finalize");
    }
    check(p11tls_key_open(NULL, uri, 0, &again) == 0 && signs(again), "p11tls opens the key again and signs");
    check(libp11_round(&held), "libp11 loads and keeps the module");
    check(signs(key), "p11tls signs while libp11 has it loaded");
    /* libp11 lists its slots again: releasing the old slot objects, it
     * closes every session of the slot (C_CloseAllSessions), p11tls's and
     * their login too. */
    if (held) {
        PKCS11_SLOT *slots = NULL;
        unsigned int nslots = 0;
        for (int i = 0; i < 2; i++) {
            check(PKCS11_enumerate_slots(held, &slots, &nslots) == 0, "libp11 lists its slots again");
            PKCS11_release_all_slots(held, slots, nslots);
        }
    }
    p11tls_key *third = NULL;
    check(p11tls_key_open(NULL, uri, 0, &third) == 0 && signs(third),
          "p11tls opens the key after libp11 closed every session of the slot, and signs");
    p11tls_key_free(third);
    if (held) {
        PKCS11_SLOT *slots = NULL;
        unsigned int nslots = 0;
        check(PKCS11_enumerate_slots(held, &slots, &nslots) == 0, "libp11 lists its slots once more");
        PKCS11_release_all_slots(held, slots, nslots);
    }
    check(signs(key), "p11tls's key signs after that");
    if (held)
        libp11_unload(held);
    check(signs(key) && signs(again), "and after libp11 unloads it: both keys");
    p11tls_key_free(again);
    p11tls_key_free(key);
    printf("1..%d\n", n);
    return failures ? 1 : 0;
}
