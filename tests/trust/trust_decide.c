/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* tests/trust/trust_decide: one trust decision, made either by p11tls or by
 * GnuTLS's own PKCS#11 trust, so that a test can require the two to agree
 * (GnuTLS's is the control: tests/trust/trust_store_test.sh).
 *
 *   trust_decide --impl p11tls|gnutls --module SO [--args ARGS] --uri URI
 *                [--purpose server|client|none] CERT.pem [ISSUERS.pem]...
 *
 * The module (p11-kit's trust module) is loaded with ARGS as its
 * initialization string (paths=DIR), as the only module: by p11tls
 * (p11tls_gnutls_trust_list_add on URI) or by GnuTLS as a trusted provider
 * (a "pkcs11:" trust URL). The certificates (the first is the one
 * verified, the others what a peer sends with it) are verified with
 * gnutls_x509_trust_list_verify_crt2 for the purpose: server (TLS WWW
 * server, the default), client (TLS WWW client) or none. Prints
 * "trusted" or "not trusted: REASONS" (the GnuTLS status bits, by name)
 * and exits 0 trusted, 1 not trusted, 2 on an error. The two impls run in
 * separate processes: one process must not load the module twice.
 *
 *   trust_decide --import-url URL [--stapled] [--module SO [--args ARGS]]
 *
 * imports the certificate URL names with gnutls_x509_crt_import_url (flag
 * GNUTLS_PKCS11_OBJ_FLAG_OVERWRITE_TRUSTMOD_EXT with --stapled), a plain
 * GnuTLS program's call: served by p11tls under `p11tls exec`, else by
 * GnuTLS's own PKCS#11 code (with --module, that module as a trusted
 * provider: GnuTLS does not pass a registered module its x-init-reserved).
 * Prints "ca=N key-usage=0xHEX" of what it got ("-" where the certificate
 * has no such extension); exits 0, or 2 on an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <gnutls/x509.h>
#include <p11tls/gnutls.h>

#define MAX_CERTS 16

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

static int error(const char *what, int rc)
{
    fprintf(stderr, "trust_decide: %s: %s (%s)\n", what, gnutls_strerror(rc),
            p11tls_last_error_detail());
    return 2;
}

static void print_status(unsigned status)
{
    static const struct {
        unsigned bit;
        const char *name;
    } bits[] = {
        {GNUTLS_CERT_REVOKED, "revoked"},
        {GNUTLS_CERT_SIGNER_NOT_FOUND, "signer-not-found"},
        {GNUTLS_CERT_SIGNER_NOT_CA, "signer-not-ca"},
        {GNUTLS_CERT_INSECURE_ALGORITHM, "insecure-algorithm"},
        {GNUTLS_CERT_NOT_ACTIVATED, "not-activated"},
        {GNUTLS_CERT_EXPIRED, "expired"},
        {GNUTLS_CERT_SIGNATURE_FAILURE, "signature-failure"},
        {GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "signer-constraints-failure"},
        {GNUTLS_CERT_PURPOSE_MISMATCH, "purpose-mismatch"},
        {GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS, "unknown-critical-extensions"},
    };
    if (status == 0) {
        printf("trusted\n");
        return;
    }
    printf("not trusted:");
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        if (status & bits[i].bit)
            printf(" %s", bits[i].name);
    printf("\n");
}

static int import_url(const char *url, int stapled, const char *module, const char *args)
{
    gnutls_x509_crt_t crt;
    unsigned usage = 0;
    int rc, ca, ku;
    if (module) {
        char params[4200];
        snprintf(params, sizeof(params), "trusted%s%s", *args ? " p11-kit:" : "", args);
        if ((rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL)) < 0 ||
            (rc = gnutls_pkcs11_add_provider(module, params)) < 0)
            return error("GnuTLS PKCS#11 provider", rc);
    }
    rc = gnutls_x509_crt_init(&crt);
    if (rc >= 0)
        rc = gnutls_x509_crt_import_url(crt, url,
                                        stapled ? GNUTLS_PKCS11_OBJ_FLAG_OVERWRITE_TRUSTMOD_EXT : 0);
    if (rc < 0)
        return error("gnutls_x509_crt_import_url", rc);
    ca = gnutls_x509_crt_get_ca_status(crt, NULL);
    ku = gnutls_x509_crt_get_key_usage(crt, &usage, NULL);
    if (ca < 0)
        printf("ca=- ");
    else
        printf("ca=%d ", ca);
    if (ku < 0)
        printf("key-usage=-\n");
    else
        printf("key-usage=0x%x\n", usage);
    gnutls_x509_crt_deinit(crt);
    return 0;
}

int main(int argc, char **argv)
{
    const char *impl = opt(argc, argv, "--impl", NULL);
    const char *module = opt(argc, argv, "--module", NULL);
    const char *args = opt(argc, argv, "--args", "");
    const char *uri = opt(argc, argv, "--uri", NULL);
    const char *purpose = opt(argc, argv, "--purpose", "server");
    gnutls_x509_crt_t crts[MAX_CERTS];
    unsigned n = 0, status = 0;
    gnutls_x509_trust_list_t list;
    gnutls_typed_vdata_st vdata = {GNUTLS_DT_KEY_PURPOSE_OID, NULL, 0};
    int rc;

    if (opt(argc, argv, "--import-url", NULL)) {
        int stapled = 0;
        for (int i = 1; i < argc; i++)
            stapled |= strcmp(argv[i], "--stapled") == 0;
        return import_url(opt(argc, argv, "--import-url", NULL), stapled, module, args);
    }
    if (!impl || !module || !uri) {
        fprintf(stderr, "usage: trust_decide --impl p11tls|gnutls --module SO [--args ARGS] "
                        "--uri URI [--purpose server|client|none] CERT.pem [ISSUERS.pem]...\n");
        return 2;
    }
    if (strcmp(purpose, "server") == 0)
        vdata.data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER;
    else if (strcmp(purpose, "client") == 0)
        vdata.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT;
    else if (strcmp(purpose, "none") != 0)
        return fprintf(stderr, "trust_decide: unknown purpose %s\n", purpose), 2;

    /* The certificate files: every argument not an option or its value. */
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            i++;
            continue;
        }
        gnutls_datum_t pem = {NULL, 0};
        unsigned room = MAX_CERTS - n;
        if (gnutls_load_file(argv[i], &pem) < 0)
            return fprintf(stderr, "trust_decide: cannot read %s\n", argv[i]), 2;
        rc = gnutls_x509_crt_list_import(crts + n, &room, &pem, GNUTLS_X509_FMT_PEM, 0);
        gnutls_free(pem.data);
        if (rc < 0)
            return error(argv[i], rc);
        n += room;
    }
    if (n == 0)
        return fprintf(stderr, "trust_decide: no certificate\n"), 2;

    if ((rc = gnutls_x509_trust_list_init(&list, 0)) < 0)
        return error("trust list", rc);
    if (strcmp(impl, "p11tls") == 0) {
        p11tls_ctx *ctx = NULL;
        if (p11tls_ctx_new(&ctx) < 0 ||
            p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES) < 0 ||
            p11tls_ctx_add_module_with_args(ctx, module, *args ? args : NULL) < 0)
            return error("p11tls context", GNUTLS_E_INTERNAL_ERROR);
        /* A list that verifies TLS clients says so (its anchors must allow
         * client authentication; GnuTLS's own trust asks the anchor for the
         * purpose of the verification). */
        rc = p11tls_gnutls_trust_list_add(list, ctx, uri,
                                          strcmp(purpose, "client") == 0 ? P11TLS_TRUST_FOR_CLIENTS : 0);
        p11tls_ctx_free(ctx);
        if (rc < 0)
            return error("p11tls_gnutls_trust_list_add", rc);
    } else if (strcmp(impl, "gnutls") == 0) {
        char params[4200];
        /* "trusted": GnuTLS takes anchors (and stapled extensions) only
         * from modules so marked. */
        snprintf(params, sizeof(params), "trusted%s%s", *args ? " p11-kit:" : "", args);
        if ((rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL)) < 0 ||
            (rc = gnutls_pkcs11_add_provider(module, params)) < 0)
            return error("GnuTLS PKCS#11 provider", rc);
        if ((rc = gnutls_x509_trust_list_add_trust_file(list, uri, NULL, 0, 0, 0)) < 0)
            return error("GnuTLS pkcs11: trust URL", rc);
    } else {
        return fprintf(stderr, "trust_decide: unknown impl %s\n", impl), 2;
    }
    rc = gnutls_x509_trust_list_verify_crt2(list, crts, n, vdata.data ? &vdata : NULL,
                                            vdata.data ? 1 : 0, 0, &status, NULL);
    if (rc < 0)
        return error("verification", rc);
    print_status(status);
    gnutls_x509_trust_list_deinit(list, 1);
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    return status == 0 ? 0 : 1;
}
