/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/trust_roots.c: for every root of a bundle presented alone, and for
 * a few chains, verifications per second of CPU time through a PEM file of
 * the anchors and through p11tls (p11-kit's trust module on a directory
 * holding the same anchors), interleaved: both lists live in this process
 * and each certificate is timed in alternating windows, PEM first then
 * p11tls, then the other way round, WINDOWS times each.
 *
 *   bench_trust_roots --store DIR --pem FILE --roots FILE [--chains DIR]
 *                     [--window-ms MS] [--windows N]
 *
 * --roots: the certificates to present alone (PEM bundle; every one must
 * verify through both lists). --chains: files chain-*.pem in DIR, each a
 * leaf and the intermediates a peer would send, under an anchor of FILE.
 * Per certificate, CSV rows trust,root:N:NAME (or trust,chain:FILE) for
 * impl pem and p11tls (the median of its windows, verifications per CPU
 * second) and ratio (the median of the ratios p11tls / PEM of the window
 * pairs). bench/trust.sh runs it and reports the ratios' minimum and
 * median. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <p11tls/gnutls.h>

#include "common.h"

#define MAX_WINDOWS 64

/* Verifications per CPU second of crts through list, for one window. */
static double window(gnutls_x509_trust_list_t list, gnutls_x509_crt_t *crts, unsigned n,
                     double window_ns)
{
    uint64_t t0 = bench_cpu_ns(), t1, ops = 0;
    unsigned status, i;
    do {
        for (i = 0; i < 16; i++)
            gnutls_x509_trust_list_verify_crt2(list, crts, n, NULL, 0, 0, &status, NULL);
        ops += 16;
        t1 = bench_cpu_ns();
    } while ((double)(t1 - t0) < window_ns);
    return (double)ops * 1e9 / (double)(t1 - t0);
}

/* The verification status through list (a root that expired verifies
 * through neither list: it is timed all the same). */
static unsigned status_of(gnutls_x509_trust_list_t list, gnutls_x509_crt_t *crts, unsigned n,
                          const char *impl, const char *name)
{
    unsigned status = 0;
    int rc = gnutls_x509_trust_list_verify_crt2(list, crts, n, NULL, 0, 0, &status, NULL);
    if (rc < 0)
        die("%s: %s: %s", impl, name, gnutls_strerror(rc));
    return status;
}

/* Times crts through both lists and prints the two rows. */
static void measure(gnutls_x509_trust_list_t pem, gnutls_x509_trust_list_t p11,
                    gnutls_x509_crt_t *crts, unsigned n, const char *name, double window_ns,
                    unsigned windows)
{
    double a[MAX_WINDOWS], b[MAX_WINDOWS], r[MAX_WINDOWS];
    unsigned w;
    unsigned want = status_of(pem, crts, n, "pem", name);
    if (status_of(p11, crts, n, "p11tls", name) != want)
        die("%s: the PEM file and p11tls disagree (PEM: status 0x%x)", name, want);
    window(pem, crts, n, window_ns / 4); /* warm both up */
    window(p11, crts, n, window_ns / 4);
    for (w = 0; w < windows; w++) {
        if (w % 2 == 0) {
            a[w] = window(pem, crts, n, window_ns);
            b[w] = window(p11, crts, n, window_ns);
        } else {
            b[w] = window(p11, crts, n, window_ns);
            a[w] = window(pem, crts, n, window_ns);
        }
        r[w] = b[w] / a[w];
    }
    emit("trust", name, "pem", "1", median(a, windows), "verif/s");
    emit("trust", name, "p11tls", "1", median(b, windows), "verif/s");
    /* The windows of a pair are adjacent: their ratio is what the load of
     * a shared machine, which drifts, disturbs least. */
    emit("trust", name, "ratio", "1", median(r, windows), "p11tls/pem");
}

static gnutls_x509_crt_t *load_all(const char *file, unsigned *n)
{
    gnutls_datum_t d = {NULL, 0};
    gnutls_x509_crt_t *crts = NULL;
    if (gnutls_load_file(file, &d) < 0)
        die("cannot read %s", file);
    if (gnutls_x509_crt_list_import2(&crts, n, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
        die("cannot parse %s", file);
    gnutls_free(d.data);
    return crts;
}

/* "root:N:CN" with the CSV's separators taken out. */
static void root_name(gnutls_x509_crt_t crt, unsigned i, char *out, size_t size)
{
    char cn[128] = "";
    size_t len = sizeof(cn), j;
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len) < 0) {
        len = sizeof(cn);
        if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, 0, 0, cn,
                                          &len) < 0)
            strcpy(cn, "?");
    }
    for (j = 0; cn[j]; j++)
        if (cn[j] == ',' || cn[j] == '"' || cn[j] == '\n')
            cn[j] = ' ';
    snprintf(out, size, "root:%u:%s", i, cn);
}

int main(int argc, char **argv)
{
    const char *store = arg_str(argc, argv, "--store", NULL);
    const char *pem = arg_str(argc, argv, "--pem", NULL);
    const char *roots = arg_str(argc, argv, "--roots", NULL);
    const char *chains = arg_str(argc, argv, "--chains", NULL);
    double window_ns = arg_double(argc, argv, "--window-ms", 20) * 1e6;
    long windows = arg_long(argc, argv, "--windows", 5);
    gnutls_x509_trust_list_t pem_list, p11_list;
    gnutls_x509_crt_t *crts;
    p11tls_ctx *ctx = NULL;
    char args[4200], name[4400];
    unsigned n, i;
    int rc;

    if (!store || !pem || !roots)
        die("usage: bench_trust_roots --store DIR --pem FILE --roots FILE [--chains DIR] "
            "[--window-ms MS] [--windows N]");
    if (windows < 1 || windows > MAX_WINDOWS)
        die("--windows: 1..%d", MAX_WINDOWS);
    gnutls_global_init();

    gnutls_x509_trust_list_init(&pem_list, 0);
    rc = gnutls_x509_trust_list_add_trust_file(pem_list, pem, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
    if (rc <= 0)
        die("PEM file %s: %s", pem, gnutls_strerror(rc));
    gnutls_x509_trust_list_init(&p11_list, 0);
    snprintf(args, sizeof(args), "paths=%s", store);
    if (p11tls_ctx_new(&ctx) < 0 || p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES) < 0 ||
        p11tls_ctx_add_module_with_args(ctx, bench_trust_module(), args) < 0)
        die("p11tls context: %s", p11tls_last_error_detail());
    rc = p11tls_gnutls_trust_list_add(p11_list, ctx, "pkcs11:token=store", 0);
    if (rc <= 0)
        die("p11tls_gnutls_trust_list_add: %d %s", rc, p11tls_last_error_detail());
    p11tls_ctx_free(ctx);

    crts = load_all(roots, &n);
    for (i = 0; i < n; i++) {
        root_name(crts[i], i, name, sizeof(name));
        measure(pem_list, p11_list, &crts[i], 1, name, window_ns, (unsigned)windows);
        gnutls_x509_crt_deinit(crts[i]);
    }
    gnutls_free(crts);

    if (chains) {
        DIR *d = opendir(chains);
        struct dirent *e;
        if (!d)
            die("cannot open %s", chains);
        while ((e = readdir(d)) != NULL) {
            char path[4200];
            if (strncmp(e->d_name, "chain-", 6) != 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", chains, e->d_name);
            crts = load_all(path, &n);
            snprintf(name, sizeof(name), "chain:%s", e->d_name);
            measure(pem_list, p11_list, crts, n, name, window_ns, (unsigned)windows);
            for (i = 0; i < n; i++)
                gnutls_x509_crt_deinit(crts[i]);
            gnutls_free(crts);
        }
        closedir(d);
    }
    /* What bounding staleness costs: the check before a verification while
     * the refresh is not due, and a read of the store when it is. */
    {
        const unsigned calls = 1000000, reads = 20;
        uint64_t t0 = bench_cpu_ns();
        for (i = 0; i < calls; i++)
            p11tls_gnutls_trust_list_refresh(p11_list, P11TLS_TRUST_REFRESH_IF_DUE);
        emit("trust", "refresh-if-due", "p11tls", "1", (double)(bench_cpu_ns() - t0) / calls, "ns/call");
        t0 = bench_cpu_ns();
        for (i = 0; i < reads; i++)
            if (p11tls_gnutls_trust_list_refresh(p11_list, 0) < 0)
                die("refresh: %s", p11tls_last_error_detail());
        emit("trust", "refresh", "p11tls", "1", (double)(bench_cpu_ns() - t0) / reads / 1e6, "ms/read");
    }
    gnutls_x509_trust_list_deinit(pem_list, 1);
    gnutls_x509_trust_list_deinit(p11_list, 1);
    return 0;
}
