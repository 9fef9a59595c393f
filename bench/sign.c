/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/sign.c: signatures per second of one backend, one key, N threads
 * sharing that key (the raw backend: a session per thread, one key handle).
 *
 *   bench_sign --impl raw|gnutls|p11tls|p11tls-gnutls --key rsa2048|p256|ed25519
 *              [--threads N] [--seconds S]
 *   bench_sign --impl IMPL --key KEY --ops N
 *
 * Prints one row: sign,<key>,<impl>,threads=N,<ops/s>,ops/s
 * With --ops: exactly N signatures in this thread and no output; for
 * instruction counts (bench/run.sh runs it under callgrind with two
 * values of N: the difference is the cost of N signatures, setup excluded).
 *
 * One configuration per process, so that backends never share a module
 * instance; bench/run.sh interleaves the processes in rounds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "signer.h"

typedef struct worker {
    signer *s;
    pthread_barrier_t *start;
    double seconds;
    double rate;            /* this thread's signatures per second */
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    void *ts = signer_thread(w->s);
    /* Warm-up outside the timed window: first use opens sessions, fills
     * p11tls's pool and GnuTLS's caches. */
    for (int i = 0; i < 3; ++i)
        signer_sign(w->s, ts);
    pthread_barrier_wait(w->start);
    const uint64_t t0 = now_ns();
    const uint64_t deadline = t0 + (uint64_t)(w->seconds * 1e9);
    uint64_t t = t0, n = 0;
    /* Each thread times itself: its rate is ops over its own elapsed time,
     * so an operation that ends after the deadline is neither lost nor
     * counted against a shorter window. */
    while (t < deadline) {
        signer_sign(w->s, ts);
        ++n;
        t = now_ns();
    }
    w->rate = (double)n * 1e9 / (double)(t - t0);
    free(ts);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *impl = arg_str(argc, argv, "--impl", "p11tls");
    const bench_key *k = bench_key_find(arg_str(argc, argv, "--key", "p256"));
    long threads = arg_long(argc, argv, "--threads", 1);
    double seconds = arg_double(argc, argv, "--seconds", 1.0);
    if (!k || threads < 1 || threads > 64)
        die("usage: bench_sign --impl IMPL --key rsa2048|p256|ed25519 [--threads N] [--seconds S]");

    signer *s = signer_new(impl, k);
    long ops = arg_long(argc, argv, "--ops", 0);
    if (ops > 0) {
        void *ts = signer_thread(s);
        for (long i = 0; i < ops; ++i)
            signer_sign(s, ts);
        return 0;
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    worker w[64];
    pthread_t tid[64];
    for (long i = 0; i < threads; ++i) {
        w[i] = (worker){.s = s, .start = &start, .seconds = seconds};
        pthread_create(&tid[i], NULL, run, &w[i]);
    }
    pthread_barrier_wait(&start);
    double total = 0;
    for (long i = 0; i < threads; ++i) {
        pthread_join(tid[i], NULL);
        total += w[i].rate;
    }
    char param[32];
    snprintf(param, sizeof param, "threads=%ld", threads);
    emit("sign", k->label, impl, param, total, "ops/s");
    return 0;
}
