/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* trust_stores.c - see trust_stores.h. */
#define _DEFAULT_SOURCE 1
#include "trust_stores.h"

#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

int cli_is_trust_store(const p11tls_token_info *t)
{
    return t->model && strcmp(t->model, "p11-kit-trust") == 0;
}

/* The tokens, as listed: URI and label copied out of the callback. */
typedef struct tokens {
    char **uris, **labels;
    int *trust;
    size_t n, cap;
    int failed; /* out of memory */
} tokens;

static int add(tokens *ts, const p11tls_token_info *t)
{
    size_t i;

    /* Only initialized tokens hold objects; a URI listed twice (the same
     * token through two modules) is listed once. */
    if (!(t->flags & CKF_TOKEN_INITIALIZED))
        return 0;
    for (i = 0; i < ts->n; i++)
        if (strcmp(ts->uris[i], t->uri) == 0)
            return 0;
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? 2 * ts->cap : 8;
        char **u = realloc(ts->uris, cap * sizeof(*u));
        char **l = u ? realloc(ts->labels, cap * sizeof(*l)) : NULL;
        int *tr = l ? realloc(ts->trust, cap * sizeof(*tr)) : NULL;
        if (u)
            ts->uris = u;
        if (l)
            ts->labels = l;
        if (!tr)
            return P11TLS_E_MEMORY;
        ts->trust = tr;
        ts->cap = cap;
    }
    ts->uris[ts->n] = strdup(t->uri);
    ts->labels[ts->n] = strdup(t->label ? t->label : "");
    ts->trust[ts->n] = cli_is_trust_store(t);
    if (!ts->uris[ts->n] || !ts->labels[ts->n]) {
        free(ts->uris[ts->n]);
        free(ts->labels[ts->n]);
        return P11TLS_E_MEMORY;
    }
    ts->n++;
    return 0;
}

static int token_cb(void *arg, const p11tls_token_info *t) { return add(arg, t); }

int cli_list_without_trust_stores(p11tls_ctx *ctx, unsigned flags, p11tls_object_cb cb,
                                  void *arg, cli_skipped *skipped)
{
    tokens ts;
    size_t i;
    int rc;

    memset(&ts, 0, sizeof(ts));
    memset(skipped, 0, sizeof(*skipped));
    rc = p11tls_list_tokens(ctx, NULL, token_cb, &ts);
    for (i = 0; rc >= 0 && i < ts.n; i++)
        if (!ts.trust[i])
            rc = p11tls_list_objects(ctx, ts.uris[i], flags, cb, arg);
    /* What was left out moves to *skipped; the rest is freed. */
    skipped->uris = calloc(ts.n ? ts.n : 1, sizeof(char *));
    skipped->labels = calloc(ts.n ? ts.n : 1, sizeof(char *));
    for (i = 0; i < ts.n; i++) {
        if (ts.trust[i] && skipped->uris && skipped->labels) {
            skipped->uris[skipped->n] = ts.uris[i];
            skipped->labels[skipped->n++] = ts.labels[i];
        } else {
            free(ts.uris[i]);
            free(ts.labels[i]);
        }
    }
    free(ts.uris);
    free(ts.labels);
    free(ts.trust);
    return rc;
}

void cli_skipped_free(cli_skipped *skipped)
{
    size_t i;
    for (i = 0; i < skipped->n; i++) {
        free(skipped->uris[i]);
        free(skipped->labels[i]);
    }
    free(skipped->uris);
    free(skipped->labels);
    memset(skipped, 0, sizeof(*skipped));
}
