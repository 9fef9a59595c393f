/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* trust_stores.h - 'p11tls list' without a URI leaves out the trust
 * stores: the tokens of p11-kit's trust module (System Trust holds every
 * CA certificate of the system, with its trust objects: thousands of
 * lines that bury the user's keys). A URI that names one, or
 * --include-trust, lists them. */
#ifndef P11TLS_CLI_TRUST_STORES_H
#define P11TLS_CLI_TRUST_STORES_H

#include <p11tls/p11tls.h>

/* The labels of the trust stores left out, for the note. */
typedef struct cli_skipped {
    char **labels;
    char **uris;
    size_t n;
} cli_skipped;

/* 1 if the token is a trust store (p11-kit's trust module gives its
 * tokens the model "p11-kit-trust"). */
int cli_is_trust_store(const p11tls_token_info *t);

/* Lists the objects of every initialized token that is not a trust store,
 * token by token, through cb (as p11tls_list_objects with a NULL URI
 * would, less the trust stores), and records those left out in *skipped
 * (free with cli_skipped_free). Returns what the library returned. */
int cli_list_without_trust_stores(p11tls_ctx *ctx, unsigned flags, p11tls_object_cb cb,
                                  void *arg, cli_skipped *skipped);

void cli_skipped_free(cli_skipped *skipped);

#endif
