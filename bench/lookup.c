/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/lookup.c: the cost of finding a key on a token full of objects.
 *
 *   bench_lookup [--sizes 10,100,1000,10000] [--reps N]
 *
 * Token BENCH_LOOKUP_TOKEN (default "bench-lookup", initialized by
 * bench/run.sh) gets one EC P-256 and one RSA-2048 key pair, then CKO_DATA
 * token objects until it holds each size in turn. Objects are only ever
 * added, so a token kept from an earlier run (run.sh caches it) is reused.
 *
 * At each size, for each key, alternately:
 *   p11tls  p11tls_key_open() of pkcs11:...;object=lookup-<alg>;type=private
 *           (the key is freed outside the timed part)
 *   raw     C_FindObjectsInit(class, label) + C_FindObjects + Final on an
 *           open, logged-in session: the search p11tls_key_open must do
 * and prints the medians: lookup,<alg>,<impl>,objects=N,<us>,us
 *
 * To explain the difference it also prints, per size, the median time of
 * the module calls p11tls_key_open makes besides the search (impl
 * "call:C_GetTokenInfo" and so on, one call each), and, when BENCH_TESTMOD
 * names tests/module's logging module, how many calls of each function one
 * p11tls_key_open makes (impl "calls:C_...", unit "calls"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char *token(void)
{
    const char *t = getenv("BENCH_LOOKUP_TOKEN");
    return t && *t ? t : "bench-lookup";
}

static CK_ULONG count_objects(const raw_module *m, CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE h[256];
    CK_ULONG n, total = 0;
    m->f->C_FindObjectsInit(s, NULL, 0);
    do {
        n = 0;
        m->f->C_FindObjects(s, h, 256, &n);
        total += n;
    } while (n > 0);
    m->f->C_FindObjectsFinal(s);
    return total;
}

static int has_object(const raw_module *m, CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                        {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE o;
    CK_ULONG n = 0;
    m->f->C_FindObjectsInit(s, t, 2);
    m->f->C_FindObjects(s, &o, 1, &n);
    m->f->C_FindObjectsFinal(s);
    return n == 1;
}

/* A key pair as a TLS server would have it: token objects, sensitive
 * private key, shared label and CKA_ID. */
static void make_keys(const raw_module *m, CK_SESSION_HANDLE s)
{
    CK_BBOOL yes = CK_TRUE;
    static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
                                             0x3d, 0x03, 0x01, 0x07};
    CK_ULONG bits = 2048;
    static const unsigned char e65537[] = {1, 0, 1};
    static const char *labels[] = {"lookup-ec", "lookup-rsa"};
    static unsigned char ids[] = {0x01, 0x02};
    for (int i = 0; i < 2; ++i) {
        if (has_object(m, s, labels[i]))
            continue;
        CK_ATTRIBUTE pub_ec[] = {{CKA_TOKEN, &yes, 1}, {CKA_VERIFY, &yes, 1},
                                 {CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid},
                                 {CKA_LABEL, (void *)labels[i], strlen(labels[i])},
                                 {CKA_ID, &ids[i], 1}};
        CK_ATTRIBUTE pub_rsa[] = {{CKA_TOKEN, &yes, 1}, {CKA_VERIFY, &yes, 1},
                                  {CKA_MODULUS_BITS, &bits, sizeof bits},
                                  {CKA_PUBLIC_EXPONENT, (void *)e65537, sizeof e65537},
                                  {CKA_LABEL, (void *)labels[i], strlen(labels[i])},
                                  {CKA_ID, &ids[i], 1}};
        CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, 1}, {CKA_SIGN, &yes, 1},
                               {CKA_PRIVATE, &yes, 1}, {CKA_SENSITIVE, &yes, 1},
                               {CKA_LABEL, (void *)labels[i], strlen(labels[i])},
                               {CKA_ID, &ids[i], 1}};
        CK_MECHANISM mech = {i == 0 ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
        CK_OBJECT_HANDLE pub, prv;
        CK_RV rv = i == 0 ? m->f->C_GenerateKeyPair(s, &mech, pub_ec, 5, priv, 6, &pub, &prv)
                          : m->f->C_GenerateKeyPair(s, &mech, pub_rsa, 6, priv, 6, &pub, &prv);
        if (rv != CKR_OK)
            die("C_GenerateKeyPair %s: 0x%lx", labels[i], rv);
    }
}

/* Adds public CKO_DATA token objects (none matches a key search) until the
 * token holds `want` objects. */
static void fill(const raw_module *m, CK_SESSION_HANDLE s, CK_ULONG want)
{
    CK_ULONG have = count_objects(m, s);
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    uint64_t t0 = now_ns();
    for (CK_ULONG i = have; i < want; ++i) {
        char label[32];
        snprintf(label, sizeof label, "filler-%lu", i);
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_TOKEN, &yes, 1},
                            {CKA_PRIVATE, &no, 1},
                            {CKA_LABEL, label, strlen(label)},
                            {CKA_VALUE, label, strlen(label)}};
        CK_OBJECT_HANDLE o;
        CK_RV rv = m->f->C_CreateObject(s, t, 5, &o);
        if (rv != CKR_OK)
            die("C_CreateObject: 0x%lx", rv);
    }
    if (want > have)
        fprintf(stderr, "bench_lookup: %lu -> %lu objects in %.1f s\n", have, want,
                (double)(now_ns() - t0) / 1e9);
}

static double time_open(p11tls_ctx *ctx, const char *uri)
{
    p11tls_key *key = NULL;
    uint64_t t0 = now_ns();
    int rc = p11tls_key_open(ctx, uri, 0, &key);
    double us = (double)(now_ns() - t0) / 1e3;
    if (rc < 0)
        die("p11tls_key_open %s: %s", uri, p11tls_last_error_detail());
    p11tls_key_free(key);
    return us;
}

static double time_raw(const raw_module *m, CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                        {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE o[2];
    CK_ULONG n = 0;
    uint64_t t0 = now_ns();
    m->f->C_FindObjectsInit(s, t, 2);
    m->f->C_FindObjects(s, o, 2, &n);  /* 2, as p11tls asks: it must see uniqueness */
    m->f->C_FindObjectsFinal(s);
    double us = (double)(now_ns() - t0) / 1e3;
    if (n != 1)
        die("raw search for %s found %lu objects", label, n);
    return us;
}

/* Median time of single module calls, on the EC key (any key would do). */
static void time_calls(const raw_module *m, CK_SESSION_HANDLE s, const char *param, long reps)
{
    CK_OBJECT_HANDLE key = raw_find(m, s, CKO_PRIVATE_KEY, "lookup-ec");
    double *v = calloc((size_t)reps, sizeof *v);
    for (int which = 0; which < 3; ++which) {
        for (long i = 0; i < reps; ++i) {
            CK_TOKEN_INFO ti;
            CK_SLOT_INFO si;
            unsigned char id[64];
            CK_ATTRIBUTE a = {CKA_ID, id, sizeof id};
            uint64_t t0 = now_ns();
            if (which == 0)
                m->f->C_GetTokenInfo(m->slot, &ti);
            else if (which == 1)
                m->f->C_GetSlotInfo(m->slot, &si);
            else
                m->f->C_GetAttributeValue(s, key, &a, 1);
            v[i] = (double)(now_ns() - t0) / 1e3;
        }
        static const char *names[] = {"call:C_GetTokenInfo", "call:C_GetSlotInfo",
                                      "call:C_GetAttributeValue"};
        emit("lookup", "ec", names[which], param, median(v, (size_t)reps), "us");
    }
    free(v);
}

/* The module calls of one p11tls_key_open, counted by the test module
 * (which forwards to BENCH_MODULE and logs "<pid> <function>" lines). */
static void count_calls(const char *alg, const char *uri, const char *param)
{
    const char *testmod = getenv("BENCH_TESTMOD");
    char dir[] = "/tmp/p11tls-bench-calls.XXXXXX";
    if (!testmod || access(testmod, R_OK) != 0 || !mkdtemp(dir))
        return;
    setenv("P11TLS_SOFTHSM_MODULE", bench_module(), 1);
    p11tls_ctx *ctx;
    p11tls_key *key;
    if (p11tls_ctx_new(&ctx) < 0 || p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES) < 0 ||
        p11tls_ctx_add_module(ctx, testmod) < 0 || p11tls_key_open(ctx, uri, 0, &key) < 0)
        die("p11tls through the test module: %s", p11tls_last_error_detail());
    p11tls_key_free(key);
    /* The module reads this per call: only the second open is logged. */
    setenv("P11TLS_TESTMOD_COUNT_DIR", dir, 1);
    if (p11tls_key_open(ctx, uri, 0, &key) < 0)
        die("p11tls_key_open: %s", p11tls_last_error_detail());
    unsetenv("P11TLS_TESTMOD_COUNT_DIR");
    p11tls_key_free(key);
    p11tls_ctx_free(ctx);

    char path[128], line[128], fn[64][48];
    long count[64] = {0};
    int nfn = 0;
    snprintf(path, sizeof path, "%s/calls.log", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        char name[48];
        long pid;
        if (sscanf(line, "%ld %47s", &pid, name) != 2 || pid != (long)getpid())
            continue;
        int i = 0;
        while (i < nfn && strcmp(fn[i], name) != 0)
            ++i;
        if (i == nfn && nfn < 64)
            strcpy(fn[nfn++], name);
        if (i < 64)
            ++count[i];
    }
    if (f)
        fclose(f);
    unlink(path);
    rmdir(dir);
    for (int i = 0; i < nfn; ++i) {
        char impl[64];
        snprintf(impl, sizeof impl, "calls:%.48s", fn[i]);
        emit("lookup", alg, impl, param, (double)count[i], "calls");
    }
}

int main(int argc, char **argv)
{
    const char *sizes = arg_str(argc, argv, "--sizes", "10,100,1000,10000");
    long reps = arg_long(argc, argv, "--reps", 30);
    if (reps < 1)
        die("--reps must be positive");

    /* p11tls first: it initializes the module through p11-kit; the raw
     * C_Initialize after it is then "already initialized" and harmless. */
    p11tls_ctx *ctx = bench_p11tls_ctx();
    raw_module m;
    raw_open(&m, token());
    CK_SESSION_HANDLE s = raw_session(&m);
    make_keys(&m, s);

    static const char *algs[] = {"ec", "rsa"};
    char uri[2][512], label[2][32];
    for (int a = 0; a < 2; ++a) {
        snprintf(label[a], sizeof label[a], "lookup-%s", algs[a]);
        snprintf(uri[a], sizeof uri[a], "pkcs11:token=%s;object=%s;type=private?pin-value=%s",
                 token(), label[a], bench_pin());
        time_open(ctx, uri[a]); /* first open logs in and fills the pool */
    }

    double *pv = calloc((size_t)reps, sizeof *pv), *rv = calloc((size_t)reps, sizeof *rv);
    for (const char *p = sizes; *p;) {
        char *end;
        long want = strtol(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
        if (want < 1)
            die("bad --sizes");
        fill(&m, s, (CK_ULONG)want);
        CK_ULONG have = count_objects(&m, s);
        char param[32];
        snprintf(param, sizeof param, "objects=%lu", have);
        /* Big tokens take a second per search: fewer repetitions there. */
        long n = want >= 5000 ? (reps / 3 > 3 ? reps / 3 : 3) : reps;
        for (int a = 0; a < 2; ++a) {
            /* Alternate the two, so that drift hits both alike. */
            for (long i = 0; i < n; ++i) {
                pv[i] = time_open(ctx, uri[a]);
                rv[i] = time_raw(&m, s, label[a]);
            }
            emit("lookup", algs[a], "p11tls", param, median(pv, (size_t)n), "us");
            emit("lookup", algs[a], "raw", param, median(rv, (size_t)n), "us");
            count_calls(algs[a], uri[a], param);
        }
        time_calls(&m, s, param, n);
    }
    return 0;
}
