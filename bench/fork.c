/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/fork.c: what fork costs with p11tls, and what p11tls costs a child.
 *
 *   bench_fork --test exec  --impl plain|p11tls|gnutls [--iters N]
 *       fork + exec(/bin/true) + waitpid latency. "plain": p11tls is linked
 *       but never called (no atfork handler registered); "p11tls"/"gnutls":
 *       a key is open and has signed, so the library's fork handling runs.
 *   bench_fork --test gate  --impl raw|p11tls|gnutls --key K [--threads T] [--iters N]
 *       latency of fork() in the parent while T threads sign with key K;
 *       the child exits at once. With raw (no atfork handler) this is the
 *       baseline; p11tls's prepare handler waits for the calls in flight
 *       (the fork gate), so the difference is the gate's cost.
 *   bench_fork --test child --impl p11tls|gnutls --key K [--iters N]
 *       time from fork() to the end of the child's first signature with
 *       the key opened by the parent (re-initialization, login, re-find).
 *       SoftHSM's reset_on_fork comes from SOFTHSM2_CONF; BENCH_ROF names
 *       it in the output.
 *
 * Prints the median and the 90th percentile (rows stat=median, stat=p90). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "signer.h"

static void report(const char *cas, const char *impl, double *v, size_t n, const char *unit)
{
    emit("fork", cas, impl, "stat=median", median(v, n), unit);
    emit("fork", cas, impl, "stat=p90", quantile(v, n, 0.9), unit);
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void reap(pid_t pid, const char *what)
{
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("%s: child failed (status 0x%x)", what, st);
}

static void test_exec(const char *impl, long iters)
{
    if (strcmp(impl, "plain") != 0) {
        signer *s = signer_new(impl, bench_key_find("p256"));
        signer_sign(s, signer_thread(s));
    }
    double *v = calloc((size_t)iters, sizeof *v);
    for (long i = 0; i < iters; ++i) {
        uint64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        reap(pid, "exec");
        v[i] = (double)(now_ns() - t0) / 1e3;
    }
    report("exec", impl, v, (size_t)iters, "us");
}

/* ---- fork while threads sign ------------------------------------------------ */

typedef struct gate_worker {
    signer *s;
    volatile int *stop;
} gate_worker;

static void *gate_run(void *arg)
{
    gate_worker *w = arg;
    void *ts = signer_thread(w->s);
    while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED))
        signer_sign(w->s, ts);
    free(ts);
    return NULL;
}

static void test_gate(const char *impl, const bench_key *k, long threads, long iters)
{
    signer *s = signer_new(impl, k);
    volatile int stop = 0;
    gate_worker w = {s, &stop};
    pthread_t tid[16];
    for (long i = 0; i < threads; ++i)
        pthread_create(&tid[i], NULL, gate_run, &w);
    sleep_us(50000); /* let every thread reach its signing loop */
    double *v = calloc((size_t)iters, sizeof *v);
    unsigned seed = 1;
    for (long i = 0; i < iters; ++i) {
        /* A pseudo-random pause, so that forks land at every phase of the
         * signatures in flight. */
        sleep_us(500 + (long)(rand_r(&seed) % 2000));
        uint64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        v[i] = (double)(now_ns() - t0) / 1e3;
        reap(pid, "gate");
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (long i = 0; i < threads; ++i)
        pthread_join(tid[i], NULL);
    char cas[64];
    snprintf(cas, sizeof cas, "gate-%s-t%ld", k->label, threads);
    report(cas, impl, v, (size_t)iters, "us");
}

/* ---- the child's first signature ---------------------------------------------- */

static void test_child(const char *impl, const bench_key *k, long iters)
{
    signer *s = signer_new(impl, k);
    signer_sign(s, NULL);
    double *v = calloc((size_t)iters, sizeof *v);
    for (long i = 0; i < iters; ++i) {
        int fd[2];
        if (pipe(fd) != 0)
            die("pipe");
        uint64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid == 0) {
            /* CLOCK_MONOTONIC is shared with the parent: t0 is valid here. */
            signer_sign(s, NULL);
            double ms = (double)(now_ns() - t0) / 1e6;
            _exit(write(fd[1], &ms, sizeof ms) == sizeof ms ? 0 : 1);
        }
        close(fd[1]);
        if (read(fd[0], &v[i], sizeof v[i]) != sizeof v[i])
            die("child: no result");
        close(fd[0]);
        reap(pid, "child");
    }
    const char *rof = getenv("BENCH_ROF");
    char cas[64];
    snprintf(cas, sizeof cas, "child-%s-rof-%s", k->label, rof ? rof : "unknown");
    report(cas, impl, v, (size_t)iters, "ms");
}

int main(int argc, char **argv)
{
    const char *test = arg_str(argc, argv, "--test", "exec");
    const char *impl = arg_str(argc, argv, "--impl", "p11tls");
    const bench_key *k = bench_key_find(arg_str(argc, argv, "--key", "rsa2048"));
    long iters = arg_long(argc, argv, "--iters", 100);
    long threads = arg_long(argc, argv, "--threads", 2);
    if (!k || iters < 1 || threads < 1 || threads > 16)
        die("bad arguments (see the top of bench/fork.c)");
    if (strcmp(test, "exec") == 0)
        test_exec(impl, iters);
    else if (strcmp(test, "gate") == 0)
        test_gate(impl, k, threads, iters);
    else if (strcmp(test, "child") == 0)
        test_child(impl, k, iters);
    else
        die("unknown test %s", test);
    return 0;
}
