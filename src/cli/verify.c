/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* verify.c - p11tls verify CERT-FILE --trust URI [--chain FILE]: verifies a
 * certificate against the anchors, distrust and intermediates the --trust
 * URIs find on tokens (p11tls_gnutls_trust_list_add), and the --trust
 * helpers of connect and serve. */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11tls/gnutls.h>

#include "json.h"
#include "util.h"

/* Exit status of verify for anything that is not a verdict and not
 * "nothing matches" (3); the error is recorded as a failure
 * (CLI_EXIT_FAILURE names it), not a usage error. */
#define VERIFY_ERROR 2
/* Deepest chain read from CERT-FILE and --chain together. */
#define VERIFY_MAX_CERTS 16

int cli_trust_add(gnutls_x509_trust_list_t list, cli_env *env, unsigned flags)
{
    size_t i;

    for (i = 0; i < env->args->n_trust; i++) {
        const char *uri = env->args->trust[i];
        int rc = p11tls_gnutls_trust_list_add(list, env->ctx, uri, flags);
        if (rc < 0) {
            char shown[CLI_URI_BUF];
            const char *detail = p11tls_last_error_detail();
            /* What GnuTLS's code for "no token or object" is here. */
            int status = rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE ? CLI_EXIT_NOT_FOUND
                                                                     : CLI_EXIT_FAILURE;
            return cli_error(status, "trust '%s': %s%s%s%s",
                             cli_redact_uri(uri, shown, sizeof(shown)), gnutls_strerror(rc),
                             detail && *detail ? " (" : "", detail && *detail ? detail : "",
                             detail && *detail ? ")" : "");
        }
    }
    return CLI_EXIT_OK;
}

int cli_trust_add_to_cred(gnutls_certificate_credentials_t cred, cli_env *env, unsigned flags)
{
    gnutls_x509_trust_list_t list = NULL;

    gnutls_certificate_get_trust_list(cred, &list);
    return cli_trust_add(list, env, flags);
}

const char *cli_trust_reasons(unsigned status, char *buf, size_t size)
{
    /* p11tls's distrust is the only source of GNUTLS_CERT_REVOKED here (its
     * blocklist, and its CRLs of distrust by serial number): no other CRL
     * is loaded. */
    static const struct {
        unsigned bit;
        const char *text;
    } reasons[] = {
        {GNUTLS_CERT_REVOKED, "distrusted"},
        {GNUTLS_CERT_SIGNER_NOT_FOUND, "unknown issuer"},
        {GNUTLS_CERT_EXPIRED, "expired"},
        {GNUTLS_CERT_NOT_ACTIVATED, "not yet valid"},
        {GNUTLS_CERT_SIGNATURE_FAILURE, "bad signature"},
        {GNUTLS_CERT_SIGNER_NOT_CA, "issuer is not a CA"},
        {GNUTLS_CERT_INSECURE_ALGORITHM, "insecure algorithm"},
        {GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "issuer constraints violated"},
        {GNUTLS_CERT_UNEXPECTED_OWNER, "name mismatch"},
        {GNUTLS_CERT_PURPOSE_MISMATCH, "purpose mismatch"},
        {GNUTLS_CERT_MISSING_OCSP_STATUS, "missing OCSP status"},
        {GNUTLS_CERT_INVALID_OCSP_STATUS, "invalid OCSP status"},
        {GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS, "unknown critical extension"},
    };
    size_t i, used = 0;

    if (size)
        buf[0] = '\0';
    for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (!(status & reasons[i].bit) || used >= size)
            continue;
        used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                 reasons[i].text);
    }
    if (status && !buf[0])
        snprintf(buf, size, "not trusted (status 0x%x)", status);
    return buf;
}

/* Appends the certificates of a PEM or DER file to crts. */
static int read_certs(const char *file, gnutls_x509_crt_t *crts, unsigned *n)
{
    gnutls_datum_t data = {NULL, 0};
    unsigned room = VERIFY_MAX_CERTS - *n;
    int rc = cli_read_file(file, "certificate file", &data);

    if (rc)
        return rc;
    rc = gnutls_x509_crt_list_import(crts + *n, &room, &data, GNUTLS_X509_FMT_PEM, 0);
    if (rc <= 0) { /* not PEM: one DER certificate */
        room = 0;
        if (*n >= VERIFY_MAX_CERTS)
            rc = GNUTLS_E_SHORT_MEMORY_BUFFER;
        else if ((rc = gnutls_x509_crt_init(&crts[*n])) >= 0) {
            rc = gnutls_x509_crt_import(crts[*n], &data, GNUTLS_X509_FMT_DER);
            if (rc < 0)
                gnutls_x509_crt_deinit(crts[*n]);
            else
                room = 1;
        }
    }
    free(data.data);
    if (rc < 0)
        return cli_error(CLI_EXIT_FAILURE, "certificate file '%s': %s", file, gnutls_strerror(rc));
    *n += room;
    return CLI_EXIT_OK;
}

static void print_verdict(cli_env *env, gnutls_x509_crt_t leaf, unsigned status)
{
    gnutls_datum_t dn = {NULL, 0};
    char why[256];
    const char *subject = gnutls_x509_crt_get_dn3(leaf, &dn, 0) >= 0 ? (const char *)dn.data : "?";

    cli_trust_reasons(status, why, sizeof(why));
    env->verdict = 1;
    if (env->json) {
        json_writer w;
        json_init(&w, env->out);
        json_begin_object(&w);
        json_key(&w, "subject");
        json_string(&w, subject);
        json_key(&w, "trusted");
        json_bool(&w, status == 0);
        json_key(&w, "reason");
        if (status)
            json_string(&w, why);
        else
            json_null(&w);
        json_key(&w, "status");
        json_uint(&w, status);
        json_end_object(&w);
        json_finish(&w);
    } else if (status == 0) {
        fprintf(env->out, "trusted: %s\n", subject);
    } else {
        fprintf(env->out, "not trusted: %s: %s\n", subject, why);
    }
    gnutls_free(dn.data);
}

int cli_cmd_verify(cli_env *env)
{
    gnutls_x509_crt_t crts[VERIFY_MAX_CERTS];
    gnutls_x509_trust_list_t list = NULL;
    unsigned n = 0, status = 0, i;
    int rc;

    rc = read_certs(env->args->pos[0], crts, &n);
    if (rc == CLI_EXIT_OK && env->args->chain)
        rc = read_certs(env->args->chain, crts, &n);
    if (rc)
        goto out;
    rc = gnutls_x509_trust_list_init(&list, 0);
    if (rc < 0) {
        rc = cli_error(CLI_EXIT_FAILURE, "trust list: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = cli_trust_add(list, env, 0);
    if (rc)
        goto out;
    rc = gnutls_x509_trust_list_verify_crt2(list, crts, n, NULL, 0, 0, &status, NULL);
    if (rc < 0) {
        rc = cli_error(CLI_EXIT_FAILURE, "verifying: %s", gnutls_strerror(rc));
        goto out;
    }
    print_verdict(env, crts[0], status);
    rc = status ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
out:
    if (list)
        gnutls_x509_trust_list_deinit(list, 1);
    for (i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    /* A --trust URI that names no token exits 3, as for every command. */
    return env->verdict || rc == CLI_EXIT_OK || rc == CLI_EXIT_NOT_FOUND ? rc : VERIFY_ERROR;
}
