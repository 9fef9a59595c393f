/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* fork_parent KEY_URI SCHEME [PATTERN] - what a parent and its forked
 * children see when they sign with one key (doc/modules.md, "after fork").
 * Children report only through their exit status (each waited for at most
 * 20 s; 124 = killed on timeout):
 *   0  the child signed (every signature it was asked for)
 *   3  every signature was refused with an error whose detail says the
 *      module "shares its state with forked children" (a module such as
 *      tpm2-pkcs11 that p11tls does not call in a child)
 *   1  anything else (the detail goes to the child's stderr)
 * PATTERN:
 *   sign-fork (default): the parent signs, forks a child that signs with
 *     the inherited key and exits, then signs twice more. Prints
 *       parent-before=RC DETAIL
 *       child=STATUS
 *       parent-after=RC DETAIL
 *       parent-again=RC DETAIL
 *   open-fork3: the parent opens the key (no signature), forks three
 *     children one after another, each signing with the inherited key,
 *     then signs. Prints child1= child2= child3= parent-after=
 *   fresh-fork3: the parent makes no p11tls call before it forks three
 *     children one after another, each opening the key and signing; then
 *     the parent opens the key and signs. Prints child1..3= parent-after=
 *   threads-fork: the parent opens the key, two threads sign with it while
 *     the main thread forks $P11TLS_FORK_PARENT_CHILDREN children (default
 *     10) one after another, each signing with the inherited key and with
 *     one it opens; then the threads stop. Prints
 *       children=N status:COUNT...   (how many children ended how)
 *       thread-errors=N
 *       parent-after=RC DETAIL
 * Exits 0 (99 on bad usage or if the parent cannot open the key). With
 * P11TLS_FORK_PARENT_MODULE set, keys are opened through a context that
 * sees only the module at that path (the test module, for a module p11tls
 * does not know). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <p11tls/p11tls.h>

#include "../support/wait.h"

static const char *g_uri;
static uint16_t g_scheme;
static p11tls_ctx *g_ctx;

static int sign(p11tls_key *k)
{
    uint8_t sig[1024];
    size_t n = sizeof sig;
    return p11tls_key_sign(k, g_scheme, (const uint8_t *)"fork parent", 11, sig, &n);
}

static int open_key(p11tls_key **k)
{
    return p11tls_key_open(g_ctx, g_uri, 0, k);
}

static void report(const char *what, int rc)
{
    printf("%s=%d %s\n", what, rc, rc ? p11tls_last_error_detail() : "");
}

/* A child's verdict on one result (see the exit statuses above). */
enum { SIGNED = 0, OTHER = 1, REFUSED = 3 };
static int verdict(int rc)
{
    if (rc == 0)
        return SIGNED;
    fprintf(stderr, "child %ld: %s: %s\n", (long)getpid(), p11tls_strerror(rc),
            p11tls_last_error_detail());
    return strstr(p11tls_last_error_detail(), "shares its state with forked children") ? REFUSED
                                                                                       : OTHER;
}

/* The exit status for a child's results: all signed, all refused, or not. */
static int combine(int a, int b)
{
    return a == b ? a : OTHER;
}

/* The child's exit status, or 124 after timeout_s (the child is killed)
 * or if it cannot be waited for. */
static int wait_child(pid_t pid, int timeout_s)
{
    int status = test_wait_bounded(pid, timeout_s * 1000L);
    if (status < 0)
        return 124;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Forks a child that runs body(key) and exits with its result; returns
 * the child's exit status. */
static int in_child(int (*body)(p11tls_key *), p11tls_key *key)
{
    pid_t pid;
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 99;
    if (pid == 0) {
        alarm(25); /* dies even if the parent is gone */
        _exit(body(key));
    }
    return wait_child(pid, 20);
}

static int sign_inherited(p11tls_key *key)
{
    return verdict(sign(key));
}

static int open_and_sign(p11tls_key *unused)
{
    p11tls_key *k = NULL;
    int rc = open_key(&k);
    (void)unused;
    if (rc == 0)
        rc = sign(k);
    p11tls_key_free(k);
    return verdict(rc);
}

static int both(p11tls_key *key)
{
    int a = sign_inherited(key);
    return combine(a, open_and_sign(NULL));
}

static int pattern_sign_fork(p11tls_key *key)
{
    report("parent-before", sign(key));
    printf("child=%d\n", in_child(sign_inherited, key));
    report("parent-after", sign(key));
    report("parent-again", sign(key));
    return 0;
}

static int pattern_fork3(p11tls_key *key, int (*body)(p11tls_key *))
{
    char name[16];
    int i;
    for (i = 1; i <= 3; i++) {
        snprintf(name, sizeof name, "child%d", i);
        printf("%s=%d\n", name, in_child(body, key));
    }
    return 0;
}

static volatile int g_stop;
static int g_thread_errors; /* atomic */

static void *signer(void *arg)
{
    while (!__atomic_load_n(&g_stop, __ATOMIC_SEQ_CST))
        if (sign(arg) != 0)
            __atomic_add_fetch(&g_thread_errors, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int pattern_threads_fork(p11tls_key *key)
{
    const char *n_env = getenv("P11TLS_FORK_PARENT_CHILDREN");
    int n = n_env ? atoi(n_env) : 10, i, counts[256] = {0};
    pthread_t t[2];
    for (i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, signer, key) != 0)
            return 99;
    for (i = 0; i < n; i++)
        counts[in_child(both, key) & 0xff]++;
    __atomic_store_n(&g_stop, 1, __ATOMIC_SEQ_CST);
    for (i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("children=%d", n);
    for (i = 0; i < 256; i++)
        if (counts[i])
            printf(" status%d:%d", i, counts[i]);
    printf("\nthread-errors=%d\n", __atomic_load_n(&g_thread_errors, __ATOMIC_SEQ_CST));
    return 0;
}

int main(int argc, char **argv)
{
    p11tls_key *key = NULL;
    const char *module = getenv("P11TLS_FORK_PARENT_MODULE");
    const char *pattern = argc > 3 ? argv[3] : "sign-fork";
    int fresh = strcmp(pattern, "fresh-fork3") == 0;

    if (argc < 3 || argc > 4 || !(g_scheme = p11tls_sig_scheme_from_name(argv[2]))) {
        fprintf(stderr, "usage: fork_parent KEY_URI SCHEME [PATTERN]\n");
        return 99;
    }
    g_uri = argv[1];
    if (module && (p11tls_ctx_new(&g_ctx) != 0 ||
                   p11tls_ctx_set_flags(g_ctx, P11TLS_CTX_NO_REGISTERED_MODULES) != 0 ||
                   p11tls_ctx_add_module(g_ctx, module) != 0)) {
        fprintf(stderr, "module %s: %s\n", module, p11tls_last_error_detail());
        return 99;
    }
    /* fresh-fork3: no module is touched before the children are forked. */
    if (!fresh && open_key(&key) != 0) {
        fprintf(stderr, "open: %s\n", p11tls_last_error_detail());
        return 99;
    }
    if (strcmp(pattern, "sign-fork") == 0)
        pattern_sign_fork(key);
    else if (strcmp(pattern, "open-fork3") == 0)
        pattern_fork3(key, sign_inherited);
    else if (fresh)
        pattern_fork3(NULL, open_and_sign);
    else if (strcmp(pattern, "threads-fork") == 0)
        pattern_threads_fork(key);
    else {
        fprintf(stderr, "fork_parent: unknown pattern '%s'\n", pattern);
        return 99;
    }
    if (strcmp(pattern, "sign-fork") != 0) {
        int rc = key ? 0 : open_key(&key);
        report("parent-after", rc ? rc : sign(key));
    }
    p11tls_key_free(key);
    p11tls_ctx_free(g_ctx);
    return 0;
}
