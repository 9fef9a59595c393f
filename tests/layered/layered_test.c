/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* layered_test.c - two layered callers of p11tls in one process, loaded with
 * dlopen like PAM modules (tests/layered/caller.c built as caller-a and
 * caller-b), each with its own context, PIN function and fork policy:
 *  1. A (P11TLS_FORK_FAIL) and B (P11TLS_FORK_REINIT) sign; in a forked child
 *     A's key says P11TLS_E_FORKED and B's signs: each gets its own policy.
 *  2. A frees its context and is dlclosed; B keeps signing, and signs in a
 *     forked child.
 *  3. dlopen -> open, sign -> free -> dlclose of A 100 times: no failure,
 *     resident memory bounded (figure printed); then fork, and in the child
 *     B signs and A goes through one more cycle.
 * usage: layered_test CALLER_A.so CALLER_B.so  (under tests/with-token.sh)
 * Children report through their exit status only; every wait is bounded.
 * Exit 0 = pass. */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Constants only: this program does not link p11tls, its callers do. */
#include <p11tls/p11tls.h>

#include "../support/wait.h"

typedef struct caller {
    void *h;
    int (*start)(const char *, int, const char *);
    int (*sign)(void);
    void (*stop)(void);
} caller;

static const char *key_uri = "pkcs11:token=p11tls-test;object=p256;type=private";
static const char *pin;
static int failures;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            fprintf(stderr, "FAIL line %d: ", __LINE__);   \
            fprintf(stderr, __VA_ARGS__);                  \
            fputc('\n', stderr);                           \
            failures++;                                    \
        }                                                  \
    } while (0)

static int load(caller *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!c->h) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    c->start = (int (*)(const char *, int, const char *))dlsym(c->h, "caller_start");
    c->sign = (int (*)(void))dlsym(c->h, "caller_sign");
    c->stop = (void (*)(void))dlsym(c->h, "caller_stop");
    return c->start && c->sign && c->stop ? 0 : -1;
}

/* Waits for pid at most timeout_s seconds (then kills it). Returns the
 * exit status, or -1 if it did not exit normally. */
static int wait_child(pid_t pid, int timeout_s)
{
    int st = test_wait_bounded(pid, timeout_s * 1000L);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* One full life of caller A: load, open, sign, free, unload. */
static int cycle(const char *path)
{
    caller a;
    int rc;
    if (load(&a, path) != 0)
        return 1;
    rc = a.start(key_uri, P11TLS_FORK_FAIL, pin);
    if (rc == 0)
        rc = a.sign();
    a.stop();
    dlclose(a.h);
    return rc == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    caller a, b;
    pid_t pid;
    int st, i;
    long before, after;

    if (argc != 3) {
        fprintf(stderr, "usage: %s CALLER_A.so CALLER_B.so\n", argv[0]);
        return 99;
    }
    pin = getenv("P11TLS_TEST_PIN");
    if (!pin || !getenv("P11TLS_TEST_DIR")) {
        fprintf(stderr, "layered_test: SKIP: run under tests/with-token.sh\n");
        return 77;
    }
    if (load(&a, argv[1]) != 0 || load(&b, argv[2]) != 0)
        return 99;

    /* 1. */
    st = a.start(key_uri, P11TLS_FORK_FAIL, pin);
    CHECK(st == 0, "A opens: %d", st);
    st = b.start(key_uri, P11TLS_FORK_REINIT, pin);
    CHECK(st == 0, "B opens: %d", st);
    CHECK(a.sign() == 0 && b.sign() == 0, "A and B sign");
    fflush(NULL);
    pid = fork();
    if (pid == 0)
        _exit(a.sign() != P11TLS_E_FORKED ? 1 : b.sign() != 0 ? 2 : 0);
    st = wait_child(pid, 30);
    CHECK(st == 0, "child: A must say FORKED, B must sign (child status %d)", st);

    /* 2. */
    a.stop();
    dlclose(a.h);
    st = b.sign();
    CHECK(st == 0, "B signs after A is gone: %d", st);
    fflush(NULL);
    pid = fork();
    if (pid == 0)
        _exit(b.sign() != 0 ? 3 : 0);
    st = wait_child(pid, 30);
    CHECK(st == 0, "B signs in a child after A is gone (child status %d)", st);

    /* 3. */
    for (i = 0; i < 10; i++)
        CHECK(cycle(argv[1]) == 0, "warm-up cycle %d", i);
    before = rss_kib();
    for (i = 0; i < 100; i++)
        CHECK(cycle(argv[1]) == 0, "cycle %d", i);
    after = rss_kib();
    printf("figures: RSS before 100 dlopen/use/dlclose cycles %ld KiB, after %ld KiB (%+ld KiB)\n",
           before, after, after - before);
    /* Generous: a leak of one key, context or module per cycle would be
     * far more than this over 100 cycles; allocator noise is far less. */
    /* Not under sanitizers: ASan's quarantine keeps freed memory resident. */
    if (!getenv("P11TLS_SANITIZER") || !*getenv("P11TLS_SANITIZER"))
        CHECK(after - before < 2048, "RSS grew by %ld KiB over 100 cycles", after - before);
    fflush(NULL);
    pid = fork();
    if (pid == 0)
        _exit(b.sign() != 0 ? 4 : cycle(argv[1]) != 0 ? 5 : b.sign() != 0 ? 6 : 0);
    st = wait_child(pid, 30);
    CHECK(st == 0, "after 100 cycles, in a child: B signs, A cycles (child status %d)", st);
    CHECK(b.sign() == 0, "B still signs in the parent");

    b.stop();
    dlclose(b.h);
    if (failures)
        fprintf(stderr, "layered_test: %d check(s) failed\n", failures);
    else
        printf("layered_test: all checks passed\n");
    return failures ? 1 : 0;
}
