/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/mem.c: memory per open key, per pooled session, and abandoned per
 * fork generation. Heap figures are mallinfo2() in-use bytes with a single
 * malloc arena (so threads allocate where mallinfo2 looks); they include
 * what the module (SoftHSM) allocates for us, which is part of the cost.
 *
 *   bench_mem --test key     --impl p11tls|gnutls [--n N]
 *       N opens of the same key (p256), kept open: bytes per key.
 *   bench_mem --test session [--threads T] [--seconds S]
 *       p11tls through the test module (tests/module, BENCH_TESTMOD), which
 *       logs every call: T threads sign (rsa2048) at once so the session
 *       pool grows; heap growth over C_OpenSession calls = bytes per pooled
 *       session. Also the module's own cost of a session (raw C_OpenSession).
 *   bench_mem --test fork    --impl p11tls|gnutls|module [--gens N]
 *       a chain of N processes, each forked by the previous one, each
 *       signing with the key opened in the first: heap growth per
 *       generation (the abandoned state) and the first child's growth.
 *       module: the same module calls as a p11tls generation, made
 *       directly (the module's share of p11tls's figure).
 *       BENCH_ROF names SoftHSM's reset_on_fork in the output. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <p11tls/gnutls.h>

#include "signer.h"

static void test_key(const char *impl, long n)
{
    char uri[512];
    bench_key_uri("p256", uri, sizeof uri);
    /* One key first: module loading, login and session pool are not per key. */
    signer *first = signer_new(impl, bench_key_find("p256"));
    (void)first;
    p11tls_ctx *ctx = strcmp(impl, "p11tls") == 0 ? bench_p11tls_ctx() : NULL;
    if (ctx) { /* the same context for all keys, after its first open */
        p11tls_key *k;
        if (p11tls_key_open(ctx, uri, 0, &k) < 0)
            die("p11tls_key_open: %s", p11tls_last_error_detail());
    }
    size_t h0 = heap_in_use(), r0 = rss_bytes();
    for (long i = 0; i < n; ++i) {
        if (ctx) {
            p11tls_key *k;
            if (p11tls_key_open(ctx, uri, 0, &k) < 0)
                die("p11tls_key_open: %s", p11tls_last_error_detail());
        } else {
            gnutls_privkey_t pk;
            gnutls_privkey_init(&pk);
            int rc = gnutls_privkey_import_url(pk, uri, 0);
            if (rc < 0)
                die("gnutls_privkey_import_url: %s", gnutls_strerror(rc));
        }
    }
    emit("mem", "per-key", impl, "stat=heap", (double)(heap_in_use() - h0) / (double)n, "bytes");
    emit("mem", "per-key", impl, "stat=rss", ((double)rss_bytes() - (double)r0) / (double)n, "bytes");
}

/* ---- sessions --------------------------------------------------------------- */

static char count_dir[] = "/tmp/p11tls-bench-mem.XXXXXX";

/* C_OpenSession calls of this process so far, from the test module's log. */
static long open_sessions(void)
{
    char path[256], line[128], want[64];
    snprintf(path, sizeof path, "%s/calls.log", count_dir);
    snprintf(want, sizeof want, "%ld C_OpenSession\n", (long)getpid());
    FILE *f = fopen(path, "r");
    long n = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        n += strcmp(line, want) == 0;
    fclose(f);
    return n;
}

typedef struct sess_worker {
    p11tls_key *key;
    double seconds;
    pthread_barrier_t *start;
} sess_worker;

static void *sess_run(void *arg)
{
    sess_worker *w = arg;
    const bench_key *k = bench_key_find("rsa2048");
    size_t len;
    const unsigned char *in = bench_input(k, &len);
    pthread_barrier_wait(w->start);
    uint64_t end = now_ns() + (uint64_t)(w->seconds * 1e9);
    while (now_ns() < end) {
        uint8_t sig[512];
        size_t sig_len = sizeof sig;
        if (p11tls_key_sign_hash(w->key, k->scheme, in, len, sig, &sig_len) < 0)
            die("sign: %s", p11tls_last_error_detail());
    }
    return NULL;
}

static void test_session(long threads, double seconds)
{
    const char *testmod = getenv("BENCH_TESTMOD");
    if (!testmod || !mkdtemp(count_dir))
        die("BENCH_TESTMOD is not set or no temporary directory");
    setenv("P11TLS_SOFTHSM_MODULE", bench_module(), 1);
    setenv("P11TLS_TESTMOD_COUNT_DIR", count_dir, 1);

    /* The module's own cost of a session, through the raw interface. */
    raw_module m;
    raw_open(&m, bench_token());
    CK_SESSION_HANDLE keep = raw_session(&m);
    (void)keep;
    size_t h0 = heap_in_use();
    for (int i = 0; i < 64; ++i) {
        CK_SESSION_HANDLE s;
        m.f->C_OpenSession(m.slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    }
    emit("mem", "per-session", "raw", "stat=heap", (double)(heap_in_use() - h0) / 64, "bytes");

    p11tls_ctx *ctx = NULL;
    char uri[512];
    bench_key_uri("rsa2048", uri, sizeof uri);
    p11tls_key *key;
    if (p11tls_ctx_new(&ctx) < 0 || p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES) < 0 ||
        p11tls_ctx_add_module(ctx, testmod) < 0 || p11tls_key_open(ctx, uri, 0, &key) < 0)
        die("p11tls through the test module: %s", p11tls_last_error_detail());
    sess_worker w = {key, 0.05, NULL};
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 1);
    w.start = &start;
    sess_run(&w); /* one thread: the pool holds one session */
    pthread_barrier_destroy(&start);

    long c0 = open_sessions();
    h0 = heap_in_use();
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    w.seconds = seconds;
    pthread_t tid[64];
    for (long i = 0; i < threads; ++i)
        pthread_create(&tid[i], NULL, sess_run, &w);
    for (long i = 0; i < threads; ++i)
        pthread_join(tid[i], NULL);
    long opened = open_sessions() - c0;
    size_t h1 = heap_in_use();
    char param[48];
    snprintf(param, sizeof param, "stat=heap;sessions=%ld", opened);
    if (opened > 0)
        emit("mem", "per-session", "p11tls", param, (double)(h1 - h0) / (double)opened, "bytes");
    else
        fprintf(stderr, "bench_mem: the pool did not grow\n");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", count_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_mem: could not remove %s\n", count_dir);
}

/* ---- fork generations ----------------------------------------------------------- */

typedef struct gen_record {
    long gen;
    size_t heap, rss;
} gen_record;

/* --impl module: what one generation's world asks of the module, without
 * p11tls: C_Initialize, a session that logs in and one that signs (p11tls's
 * keeper and pooled sessions), the key's search and a signature; nothing
 * of the parent's is closed. The difference from --impl p11tls is
 * p11tls's own share of the abandoned state. */
static void module_generation(void)
{
    const bench_key *k = bench_key_find("p256");
    raw_module m;
    raw_open(&m, bench_token());
    raw_session(&m);
    CK_SESSION_HANDLE s = raw_session(&m);
    CK_OBJECT_HANDLE key = raw_find(&m, s, CKO_PRIVATE_KEY, k->label);
    size_t len;
    const unsigned char *in = bench_raw_input(k, &len);
    if (raw_sign(&m, s, key, k->raw_mech, in, len) != CKR_OK)
        die("module generation: C_Sign failed");
}

static void test_fork(const char *impl, long gens)
{
    const int module_only = strcmp(impl, "module") == 0;
    signer *s = module_only ? NULL : signer_new(impl, bench_key_find("p256"));
#define SIGN_ONCE() (module_only ? module_generation() : signer_sign(s, NULL))
    SIGN_ONCE();
    int fd[2];
    if (pipe(fd) != 0)
        die("pipe");
    gen_record parent = {1, heap_in_use(), rss_bytes()};
    pid_t first = fork();
    if (first == 0) {
        close(fd[0]);
        for (long g = 2;; ++g) {
            SIGN_ONCE(); /* rebuilds this generation's state */
            gen_record r = {g, heap_in_use(), rss_bytes()};
            if (write(fd[1], &r, sizeof r) != sizeof r)
                _exit(1);
            if (g == gens)
                _exit(0);
            pid_t next = fork();
            if (next != 0) {
                int st;
                waitpid(next, &st, 0);
                _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
            }
        }
    }
    close(fd[1]);
    gen_record *r = calloc((size_t)gens + 1, sizeof *r);
    gen_record x;
    long got = 0;
    while (read(fd[0], &x, sizeof x) == sizeof x)
        if (x.gen >= 2 && x.gen <= gens)
            r[x.gen] = x, ++got;
    int st;
    waitpid(first, &st, 0);
    if (got != gens - 1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("fork chain: %ld of %ld generations reported", got, gens - 1);
    const char *rof = getenv("BENCH_ROF");
    char cas[48];
    snprintf(cas, sizeof cas, "per-generation-rof-%s", rof ? rof : "unknown");
    /* Steady state: from the second child on, every generation abandons the
     * same kind of state; the first child also pays one-time costs. */
    emit("mem", cas, impl, "stat=heap",
         (double)(r[gens].heap - r[2].heap) / (double)(gens - 2), "bytes");
    emit("mem", cas, impl, "stat=first-child-heap", (double)r[2].heap - (double)parent.heap,
         "bytes");
#undef SIGN_ONCE
}

int main(int argc, char **argv)
{
    bench_one_arena();
    const char *test = arg_str(argc, argv, "--test", "key");
    const char *impl = arg_str(argc, argv, "--impl", "p11tls");
    if (strcmp(test, "key") == 0)
        test_key(impl, arg_long(argc, argv, "--n", 100));
    else if (strcmp(test, "session") == 0)
        test_session(arg_long(argc, argv, "--threads", 8), arg_double(argc, argv, "--seconds", 0.3));
    else if (strcmp(test, "fork") == 0) {
        long gens = arg_long(argc, argv, "--gens", 20);
        if (gens < 3)
            die("--gens must be at least 3");
        test_fork(impl, gens);
    } else
        die("unknown test %s", test);
    return 0;
}
