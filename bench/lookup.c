/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/lookup.c: opening keys on a token full of objects (issue 20).
 *
 *   bench_lookup [--sizes 10,100,1000,5000,10000] [--reps N]
 *
 * Token BENCH_LOOKUP_TOKEN (default "bench-lookup", initialized by
 * bench/run.sh) gets 20 key pairs (lookup-00..19, EC P-256 and RSA-2048 in
 * turn), then public CKO_DATA token objects until it holds 40 + size
 * objects. Objects are only ever added, so a cached token is reused.
 *
 * At each size, N fresh processes (this program re-executed with
 * --measure), each of which
 *   logs in through p11tls without reading the token (an open with
 *     P11TLS_KEY_OPEN_VERIFY_PIN), so that what follows is lookups only;
 *   first   opens each of the 20 keys once: the first open reads the token
 *           into p11tls's object index (lib/world/object_index.hpp)
 *   again   opens them again (new p11tls_key objects) from the index
 *   raw     C_FindObjectsInit(class, label) + C_FindObjects(2) + Final per
 *           key, on an open logged-in session: the search p11tls did before
 *           the index, alternated with "again"
 * and, in one more process with P11TLS_NO_OBJECT_INDEX set,
 *   noindex p11tls_key_open without the index (a real search every time).
 * Rows: lookup,keys20,<impl>,objects=<size>,<us per open>,us
 * (first: the mean over the 20 keys, the index read included; the others:
 * the median), and lookup,keys20,index-heap,objects=N,<bytes>,bytes: heap
 * in use after the first opens minus before, per object on the token
 * (size + 40). */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

#define NKEYS 20

static const char *token(void)
{
    const char *t = getenv("BENCH_LOOKUP_TOKEN");
    return t && *t ? t : "bench-lookup";
}

static CK_ULONG count_objects(const raw_module *m, CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE h[1024];
    CK_ULONG n, total = 0;
    m->f->C_FindObjectsInit(s, NULL, 0);
    do {
        n = 0;
        m->f->C_FindObjects(s, h, 1024, &n);
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

static void key_label(int i, char *out, size_t n) { snprintf(out, n, "lookup-%02d", i); }

/* Key pairs as a TLS server would have them: token objects, sensitive
 * private key, shared label and CKA_ID. */
static void make_keys(const raw_module *m, CK_SESSION_HANDLE s)
{
    CK_BBOOL yes = CK_TRUE;
    static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
                                             0x3d, 0x03, 0x01, 0x07};
    CK_ULONG bits = 2048;
    static const unsigned char e65537[] = {1, 0, 1};
    for (int i = 0; i < NKEYS; ++i) {
        char label[32];
        unsigned char id = (unsigned char)(0x40 + i);
        key_label(i, label, sizeof label);
        if (has_object(m, s, label))
            continue;
        const int ec = i % 2 == 0;
        CK_ATTRIBUTE pub_ec[] = {{CKA_TOKEN, &yes, 1}, {CKA_VERIFY, &yes, 1},
                                 {CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid},
                                 {CKA_LABEL, label, strlen(label)}, {CKA_ID, &id, 1}};
        CK_ATTRIBUTE pub_rsa[] = {{CKA_TOKEN, &yes, 1}, {CKA_VERIFY, &yes, 1},
                                  {CKA_MODULUS_BITS, &bits, sizeof bits},
                                  {CKA_PUBLIC_EXPONENT, (void *)e65537, sizeof e65537},
                                  {CKA_LABEL, label, strlen(label)}, {CKA_ID, &id, 1}};
        CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, 1}, {CKA_SIGN, &yes, 1},
                               {CKA_PRIVATE, &yes, 1}, {CKA_SENSITIVE, &yes, 1},
                               {CKA_LABEL, label, strlen(label)}, {CKA_ID, &id, 1}};
        CK_MECHANISM mech = {ec ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
        CK_OBJECT_HANDLE pub, prv;
        CK_RV rv = ec ? m->f->C_GenerateKeyPair(s, &mech, pub_ec, 5, priv, 6, &pub, &prv)
                      : m->f->C_GenerateKeyPair(s, &mech, pub_rsa, 6, priv, 6, &pub, &prv);
        if (rv != CKR_OK)
            die("C_GenerateKeyPair %s: 0x%lx", label, rv);
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

static void key_uri(int i, char *out, size_t n)
{
    char label[32];
    key_label(i, label, sizeof label);
    snprintf(out, n, "pkcs11:token=%s;object=%s;type=private?pin-value=%s", token(), label,
             bench_pin());
}

static double time_open(p11tls_ctx *ctx, const char *uri, unsigned flags)
{
    p11tls_key *key = NULL;
    uint64_t t0 = now_ns();
    int rc = p11tls_key_open(ctx, uri, flags, &key);
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
    m->f->C_FindObjects(s, o, 2, &n); /* 2, as p11tls asks: it must see uniqueness */
    m->f->C_FindObjectsFinal(s);
    double us = (double)(now_ns() - t0) / 1e3;
    if (n != 1)
        die("raw search for %s found %lu objects", label, n);
    return us;
}

/* One fresh process's measurements (see the top). */
static int measure(const char *param)
{
    bench_one_arena();
    p11tls_ctx *ctx = bench_p11tls_ctx();
    char uri[NKEYS][512], label[NKEYS][32];
    for (int i = 0; i < NKEYS; ++i) {
        key_uri(i, uri[i], sizeof uri[i]);
        key_label(i, label[i], sizeof label[i]);
    }
    time_open(ctx, uri[0], P11TLS_KEY_OPEN_VERIFY_PIN); /* the login, no lookup index */
    raw_module m;
    raw_open(&m, token());
    CK_SESSION_HANDLE s = raw_session(&m);
    const int noindex = getenv("P11TLS_NO_OBJECT_INDEX") != NULL;
    double v[NKEYS], r[NKEYS], sum = 0;
    size_t heap0 = heap_in_use();
    for (int i = 0; i < NKEYS; ++i)
        sum += v[i] = time_open(ctx, uri[i], 0);
    size_t heap1 = heap_in_use();
    long objects = atol(strchr(param, '=') + 1) + 2 * NKEYS;
    double heap = (double)((long)heap1 - (long)heap0) / (double)objects;
    if (noindex) {
        emit("lookup", "keys20", "noindex", param, median(v, NKEYS), "us");
        emit("lookup", "keys20", "noindex-heap", param, heap, "bytes");
        return 0;
    }
    emit("lookup", "keys20", "first", param, sum / NKEYS, "us");
    for (int i = 0; i < NKEYS; ++i) {
        v[i] = time_open(ctx, uri[i], 0);
        r[i] = time_raw(&m, s, label[i]);
    }
    emit("lookup", "keys20", "again", param, median(v, NKEYS), "us");
    emit("lookup", "keys20", "raw", param, median(r, NKEYS), "us");
    emit("lookup", "keys20", "index-heap", param, heap, "bytes");
    return 0;
}

/* Runs this program again with --measure (a fresh process: no p11tls
 * state), with or without the index. */
static void spawn_measure(const char *param, int noindex)
{
    char *argv[] = {"bench_lookup", "--measure", (char *)param, NULL};
    if (noindex)
        setenv("P11TLS_NO_OBJECT_INDEX", "1", 1);
    pid_t pid;
    fflush(stdout);
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) != 0)
        die("posix_spawn failed");
    unsetenv("P11TLS_NO_OBJECT_INDEX");
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("measuring process failed");
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--measure") == 0)
        return measure(argv[2]);
    const char *sizes = arg_str(argc, argv, "--sizes", "10,100,1000,5000,10000");
    long reps = arg_long(argc, argv, "--reps", 3);
    if (reps < 1)
        die("--reps must be positive");
    for (const char *p = sizes; *p;) {
        char *end;
        long want = strtol(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
        if (want < 1)
            die("bad --sizes");
        char param[32];
        {
            /* Filling is raw PKCS#11 in a child, so that the measuring
             * processes start with the module untouched. */
            pid_t pid = fork();
            if (pid < 0)
                die("fork failed");
            if (pid == 0) {
                raw_module m;
                raw_open(&m, token());
                CK_SESSION_HANDLE s = raw_session(&m);
                make_keys(&m, s);
                fill(&m, s, (CK_ULONG)want + 2 * NKEYS);
                _exit(0);
            }
            int st;
            if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                die("filling the token failed");
        }
        snprintf(param, sizeof param, "objects=%ld", want);
        for (long r = 0; r < reps; ++r)
            spawn_measure(param, 0);
        spawn_measure(param, 1);
    }
    return 0;
}
