/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* fork_parent KEY_URI SCHEME - what the parent sees after a forked child
 * signed with the key it opened (doc/modules.md, "after fork"): the parent
 * signs, forks a child that signs and exits (its result only through its
 * exit status, waited for at most 20 s), then signs twice more. Prints
 *   parent-before=RC
 *   child=STATUS            (0 = the child signed; 124 = killed on timeout)
 *   parent-after=RC DETAIL
 *   parent-again=RC DETAIL
 * and exits 0 (99 if the key cannot be opened or the scheme is unknown).
 * With P11TLS_FORK_PARENT_MODULE set, the key is opened through a context
 * that sees only the module at that path (the test module, for a module
 * p11tls does not know). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <p11tls/p11tls.h>

#include "../support/wait.h"

static int sign(p11tls_key *k, uint16_t scheme)
{
    uint8_t sig[1024];
    size_t n = sizeof sig;
    return p11tls_key_sign(k, scheme, (const uint8_t *)"fork parent", 11, sig, &n);
}

static void report(const char *what, int rc)
{
    printf("%s=%d %s\n", what, rc, rc ? p11tls_last_error_detail() : "");
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

int main(int argc, char **argv)
{
    p11tls_key *key = NULL;
    p11tls_ctx *ctx = NULL;
    const char *module = getenv("P11TLS_FORK_PARENT_MODULE");
    uint16_t scheme;
    pid_t pid;

    if (argc != 3 || !(scheme = p11tls_sig_scheme_from_name(argv[2]))) {
        fprintf(stderr, "usage: fork_parent KEY_URI SCHEME\n");
        return 99;
    }
    if (module && (p11tls_ctx_new(&ctx) != 0 ||
                   p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES) != 0 ||
                   p11tls_ctx_add_module(ctx, module) != 0)) {
        fprintf(stderr, "module %s: %s\n", module, p11tls_last_error_detail());
        return 99;
    }
    if (p11tls_key_open(ctx, argv[1], 0, &key) != 0) {
        fprintf(stderr, "open: %s\n", p11tls_last_error_detail());
        return 99;
    }
    report("parent-before", sign(key, scheme));
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 99;
    if (pid == 0) {
        alarm(25); /* dies even if the parent is gone */
        _exit(sign(key, scheme) == 0 ? 0 : 1);
    }
    printf("child=%d\n", wait_child(pid, 20));
    report("parent-after", sign(key, scheme));
    report("parent-again", sign(key, scheme));
    p11tls_key_free(key);
    p11tls_ctx_free(ctx);
    return 0;
}
