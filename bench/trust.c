/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/trust.c: certificate verifications per second through one trust
 * list, the anchors coming from
 *   pem      a PEM file (gnutls_x509_trust_list_add_trust_file),
 *   p11tls   p11-kit's trust module through p11tls_gnutls_trust_list_add,
 *   gnutls   the same module through GnuTLS's own pkcs11: trust URL,
 * for one case:
 *   chain    a leaf and its intermediate under an anchor (trusted),
 *   leaf     the same leaf sent alone: its intermediate is found on the
 *            token (p11tls only: a PEM file holds no intermediates, and
 *            GnuTLS's pkcs11: trust looks only among anchors, so the leaf
 *            does not verify there),
 *   unknown  a leaf whose issuer is no anchor (not trusted),
 *   root     an anchor itself (trusted; the "trusted root").
 *
 *   bench_trust --impl pem|p11tls|gnutls --case chain|leaf|unknown|root
 *               --store DIR --pem FILE --pki DIR --root FILE [--seconds S]
 *
 * DIR is the trust module's paths= directory (token "store"), holding the
 * same anchors as FILE; bench/trust.sh builds both and runs every
 * (impl, case) in its own process (GnuTLS's PKCS#11 layer and p11tls must
 * not share the module in one process). One CSV row: verifications per
 * second of CPU time (one thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <gnutls/x509.h>
#include <p11tls/gnutls.h>

#include "common.h"

static unsigned load(const char *file, gnutls_x509_crt_t *out, unsigned room)
{
    gnutls_datum_t d = {NULL, 0};
    if (gnutls_load_file(file, &d) < 0)
        die("cannot read %s", file);
    if (gnutls_x509_crt_list_import(out, &room, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
        die("cannot parse %s", file);
    gnutls_free(d.data);
    return room;
}

int main(int argc, char **argv)
{
    const char *impl = arg_str(argc, argv, "--impl", "pem");
    const char *cas = arg_str(argc, argv, "--case", "chain");
    const char *store = arg_str(argc, argv, "--store", NULL);
    const char *pem = arg_str(argc, argv, "--pem", NULL);
    const char *pki = arg_str(argc, argv, "--pki", NULL);
    const char *root = arg_str(argc, argv, "--root", NULL);
    double seconds = arg_double(argc, argv, "--seconds", 1.0);
    gnutls_x509_trust_list_t list;
    gnutls_x509_crt_t crts[4];
    char path[4096];
    unsigned n = 0, status = 0, i;
    uint64_t t0, t1, ops = 0;
    int rc, expect_trusted = strcmp(cas, "unknown") != 0;

    if (!store || !pem || !pki || !root)
        die("usage: bench_trust --impl I --case C --store DIR --pem FILE --pki DIR --root FILE");
    gnutls_global_init();
    if (strcmp(cas, "chain") == 0) {
        snprintf(path, sizeof(path), "%s/leaf.pem", pki);
        n = load(path, crts, 1);
        snprintf(path, sizeof(path), "%s/inter.pem", pki);
        n += load(path, crts + n, 1);
    } else if (strcmp(cas, "leaf") == 0) {
        if (strcmp(impl, "p11tls") != 0)
            return 0;
        snprintf(path, sizeof(path), "%s/leaf.pem", pki);
        n = load(path, crts, 1);
    } else if (strcmp(cas, "unknown") == 0) {
        snprintf(path, sizeof(path), "%s/other-leaf.pem", pki);
        n = load(path, crts, 1);
    } else if (strcmp(cas, "root") == 0) {
        n = load(root, crts, 1);
    } else {
        die("unknown case %s", cas);
    }

    gnutls_x509_trust_list_init(&list, 0);
    if (strcmp(impl, "pem") == 0) {
        rc = gnutls_x509_trust_list_add_trust_file(list, pem, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
        if (rc <= 0)
            die("PEM file %s: %s", pem, gnutls_strerror(rc));
    } else if (strcmp(impl, "p11tls") == 0) {
        p11tls_ctx *ctx = NULL;
        char args[4200];
        snprintf(args, sizeof(args), "paths=%s", store);
        if (p11tls_ctx_new(&ctx) < 0 ||
            p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES) < 0 ||
            p11tls_ctx_add_module_with_args(ctx, bench_trust_module(), args) < 0)
            die("p11tls context: %s", p11tls_last_error_detail());
        rc = p11tls_gnutls_trust_list_add(list, ctx, "pkcs11:token=store", 0);
        if (rc <= 0)
            die("p11tls_gnutls_trust_list_add: %d %s", rc, p11tls_last_error_detail());
        p11tls_ctx_free(ctx); /* the list keeps what it needs */
    } else if (strcmp(impl, "gnutls") == 0) {
        char params[4200];
        /* "trusted": GnuTLS takes anchors only from modules so marked. */
        snprintf(params, sizeof(params), "trusted p11-kit:paths=%s", store);
        if (gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL) < 0 ||
            gnutls_pkcs11_add_provider(bench_trust_module(), params) < 0)
            die("GnuTLS PKCS#11 provider");
        rc = gnutls_x509_trust_list_add_trust_file(list, "pkcs11:token=store", NULL, 0, 0, 0);
        if (rc < 0)
            die("GnuTLS pkcs11: trust URL: %s", gnutls_strerror(rc));
    } else {
        die("unknown impl %s", impl);
    }

    /* Warm up (and check the verdict), then count for the window. */
    for (i = 0; i < 50; i++) {
        rc = gnutls_x509_trust_list_verify_crt2(list, crts, n, NULL, 0, 0, &status, NULL);
        if (rc < 0 || (status == 0) != expect_trusted)
            die("%s/%s: verification gave rc %d status 0x%x", impl, cas, rc, status);
    }
    t0 = bench_cpu_ns();
    do {
        for (i = 0; i < 64; i++)
            gnutls_x509_trust_list_verify_crt2(list, crts, n, NULL, 0, 0, &status, NULL);
        ops += 64;
        t1 = bench_cpu_ns();
    } while ((double)(t1 - t0) < seconds * 1e9);
    emit("trust", cas, impl, "1", (double)ops * 1e9 / (double)(t1 - t0), "verif/s");
    gnutls_x509_trust_list_deinit(list, 1);
    for (i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    return 0;
}
