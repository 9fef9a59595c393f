/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* csr.c - csr: a PKCS#10 certificate request signed on the token. GnuTLS
 * builds and signs it (gnutls_x509_crq_*), with the token key behind a
 * gnutls_privkey_t (p11tls_gnutls_privkey_import). */
#include "commands.h"

#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <p11tls/gnutls.h>

#include "json.h"
#include "util.h"

/* Fills crq from the options and signs it with pkey. Returns 0 or prints
 * the error. */
static int build(cli_env *env, gnutls_x509_crq_t crq, gnutls_privkey_t pkey,
                 const gnutls_datum_t *spki, const char *shown)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_digest_algorithm_t dig = GNUTLS_DIG_SHA256;
    const char *err = NULL;
    size_t i;
    int rc;

    rc = gnutls_x509_crq_set_dn(crq, env->args->subject, &err);
    if (rc < 0)
        return cli_error(CLI_EXIT_USAGE, "--subject '%s': %s%s%s", env->args->subject,
                         gnutls_strerror(rc), err ? " at " : "", err ? err : "");
    for (i = 0; i < env->args->n_dns; i++) {
        const char *name = env->args->dns[i];
        rc = gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, name,
                                                  (unsigned)strlen(name), GNUTLS_FSAN_APPEND);
        if (rc < 0)
            return cli_error(CLI_EXIT_FAILURE, "--dns '%s': %s", name, gnutls_strerror(rc));
    }
    rc = gnutls_x509_crq_set_version(crq, 1);
    if (rc >= 0)
        rc = gnutls_pubkey_init(&pub);
    if (rc >= 0)
        rc = gnutls_pubkey_import(pub, spki, GNUTLS_X509_FMT_DER);
    if (rc >= 0)
        rc = gnutls_x509_crq_set_pubkey(crq, pub);
    /* The hash GnuTLS prefers for the key (SHA-384 for P-384; EdDSA's own). */
    if (rc >= 0)
        rc = gnutls_pubkey_get_preferred_hash_algorithm(pub, &dig, NULL);
    if (rc >= 0)
        rc = gnutls_x509_crq_privkey_sign(crq, pkey, dig, 0);
    gnutls_pubkey_deinit(pub);
    if (rc < 0)
        return cli_error(CLI_EXIT_FAILURE, "signing the request with '%s': %s (%s)", shown,
                         gnutls_strerror(rc), p11tls_last_error_detail());
    return CLI_EXIT_OK;
}

int cli_cmd_csr(cli_env *env)
{
    char shown[CLI_URI_BUF];
    const char *uri = env->args->pos[0];
    gnutls_privkey_t pkey = NULL;
    gnutls_x509_crq_t crq = NULL;
    gnutls_datum_t pem = {NULL, 0}, spki;
    p11tls_key *key = NULL;
    uint8_t *spki_der = NULL;
    size_t spki_len = 0;
    int rc, status;

    cli_redact_uri(uri, shown, sizeof(shown));
    if (gnutls_privkey_init(&pkey) < 0 || gnutls_x509_crq_init(&crq) < 0) {
        status = cli_error(CLI_EXIT_FAILURE, "out of memory");
        goto out;
    }
    /* The key with p11tls's own call first: its code tells what GnuTLS's
     * does not, a URI that matches nothing (exit 3) or several keys (4).
     * Its public key as p11tls read it from the token (a token privkey
     * cannot give GnuTLS its public half). */
    rc = p11tls_key_open(env->ctx, uri, 0, &key);
    if (rc < 0) {
        status = cli_fail(rc, cli_pin_problem(env->pin, rc), "key '%s'", shown);
        goto out;
    }
    rc = p11tls_key_get_spki(key, &spki_der, &spki_len);
    if (rc < 0) {
        status = cli_fail(rc, NULL, "public key of '%s'", shown);
        goto out;
    }
    /* The token stays logged in: no second PIN. */
    rc = p11tls_gnutls_privkey_import(pkey, env->ctx, uri, 0);
    if (rc < 0) {
        const char *problem = rc == GNUTLS_E_PKCS11_PIN_ERROR ? env->pin->problem : NULL;
        status = cli_error(CLI_EXIT_FAILURE, "key '%s': %s (%s%s%s)", shown, gnutls_strerror(rc),
                           p11tls_last_error_detail(), problem ? "; " : "",
                           problem ? problem : "");
        goto out;
    }
    spki.data = spki_der;
    spki.size = (unsigned)spki_len;
    status = build(env, crq, pkey, &spki, shown);
    if (status)
        goto out;
    rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &pem);
    if (rc < 0) {
        status = cli_error(CLI_EXIT_FAILURE, "encoding the request: %s", gnutls_strerror(rc));
        goto out;
    }
    if (env->json) {
        json_writer jw;
        json_init(&jw, env->out);
        json_begin_object(&jw);
        json_key(&jw, "key"); json_string(&jw, shown);
        json_key(&jw, "pem"); json_string_n(&jw, (const char *)pem.data, pem.size);
        json_end_object(&jw);
        json_finish(&jw);
    } else {
        fwrite(pem.data, 1, pem.size, env->out);
    }
out:
    p11tls_free(spki_der);
    p11tls_key_free(key);
    gnutls_free(pem.data);
    if (crq)
        gnutls_x509_crq_deinit(crq);
    if (pkey)
        gnutls_privkey_deinit(pkey);
    return status;
}
