/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* Every public C header compiles as plain C (gcc -std=c99 -pedantic) and the
 * simplest calls link. Opens nothing. Exit 0 = pass (automake). */
#include <p11tls/p11tls.h>
#include <p11tls/gnutls.h>
#include <p11tls/provision.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    const char *s = p11tls_strerror(P11TLS_E_NOT_FOUND);
    if (s == NULL || s[0] == '\0') {
        fprintf(stderr, "p11tls_strerror returned an empty string\n");
        return 1;
    }
    if (strcmp(p11tls_strerror_name(P11TLS_E_NOT_FOUND), "P11TLS_E_NOT_FOUND") != 0) {
        fprintf(stderr, "p11tls_strerror_name mismatch\n");
        return 1;
    }
    if (p11tls_sig_scheme_from_name("ed25519") != P11TLS_SIG_ED25519) {
        fprintf(stderr, "p11tls_sig_scheme_from_name(\"ed25519\") != P11TLS_SIG_ED25519\n");
        return 1;
    }
    if (strcmp(p11tls_sig_scheme_name(P11TLS_SIG_RSA_PSS_RSAE_SHA256), "rsa_pss_rsae_sha256") != 0) {
        fprintf(stderr, "p11tls_sig_scheme_name mismatch\n");
        return 1;
    }
    p11tls_free(NULL);
    p11tls_ctx_free(NULL);
    p11tls_key_free(NULL);
    if (p11tls_token_set_pin(NULL, NULL, 0) != P11TLS_E_INVALID_ARGUMENT) {
        fprintf(stderr, "p11tls_token_set_pin(NULL URI) is not P11TLS_E_INVALID_ARGUMENT\n");
        return 1;
    }
    return 0;
}
