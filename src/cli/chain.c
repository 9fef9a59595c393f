/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* chain.c - export-chain: a certificate and its issuers on its token,
 * leaf first (p11tls_cert_get_chain). */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

#include <p11tls/provision.h>

#include "json.h"
#include "util.h"

typedef struct chain_state {
    FILE *out;
    json_writer *jw;
    int pem;
} chain_state;

static int put_cert(void *arg, const uint8_t *der, size_t len)
{
    chain_state *st = arg;
    char *pem = NULL;

    if (!st->pem) {
        fwrite(der, 1, len, st->out);
        return 0;
    }
    pem = cli_pem("CERTIFICATE", der, len);
    if (!pem)
        return P11TLS_E_MEMORY;
    if (st->jw)
        json_string(st->jw, pem);
    else
        fputs(pem, st->out);
    free(pem);
    return 0;
}

int cli_cmd_export_chain(cli_env *env)
{
    char shown[CLI_URI_BUF];
    const char *uri = env->args->pos[0];
    json_writer jw;
    chain_state st = {env->out, NULL, env->json || (env->args->seen & CLI_OPT_PEM)};
    int rc;

    cli_redact_uri(uri, shown, sizeof(shown));
    if (env->json) {
        json_init(&jw, env->out);
        json_begin_object(&jw);
        json_key(&jw, "uri"); json_string(&jw, shown);
        json_key(&jw, "chain");
        json_begin_array(&jw);
        st.jw = &jw;
    }
    rc = p11tls_cert_get_chain(env->ctx, uri, 0, put_cert, &st);
    if (rc < 0)
        return cli_fail(rc, cli_pin_problem(env->pin, rc), "chain of certificate '%s'", shown);
    if (env->json) {
        json_end_array(&jw);
        json_end_object(&jw);
        json_finish(&jw);
    }
    return CLI_EXIT_OK;
}
