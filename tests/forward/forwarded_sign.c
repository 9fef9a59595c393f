/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* forwarded_sign.c - a key on a token forwarded by `p11-kit server`, used
 * through p11tls in a process that forks.
 *
 * Run by tests/forward/forwarded_test.sh, which starts the server and sets
 * P11_KIT_SERVER_ADDRESS. Usage: forwarded_sign CLIENT_MODULE KEY_URI CERT_PEM
 *
 * The process loads only CLIENT_MODULE (p11-kit-client.so) into its own
 * p11tls context, no registered module, so every operation crosses the
 * socket; that SoftHSM is not mapped here is checked. It opens the key,
 * signs, forks; the child signs with the same key object (p11tls rebuilds
 * its state in the child, which re-initializes the client module and so
 * opens a new connection), then the parent signs again. Every signature is
 * verified against CERT_PEM's public key.
 *
 * Exit status (the child's is reported through the parent's): 0 pass;
 * 1-9 a step of the parent failed; 14-15 the child's signing failed;
 * 20 the child died of a signal; 30 the child did not finish within 30 s
 * (killed); 99 usage. */
#define _DEFAULT_SOURCE 1
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include <p11tls/p11tls.h>

#include "../support/verify_pem.h"
#include "../support/wait.h"

static const char *cert_pem_path;

static int fail(int code, const char *what, int rc)
{
    fprintf(stderr, "forwarded_sign[%ld]: %s: %s (%s)\n", (long)getpid(), what,
            rc < 0 ? p11tls_strerror(rc) : "failed", rc < 0 ? p11tls_last_error_detail() : "");
    return code;
}

/* Signs and verifies; returns 0 or step (sign failed) or step + 1 (bad signature). */
static int sign_and_verify(p11tls_key *key, int step)
{
    static const uint8_t msg[] = "forwarded through p11-kit server";
    uint8_t sig[256];
    size_t sig_len = sizeof(sig);
    int rc = p11tls_key_sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg, sizeof(msg) - 1, sig, &sig_len);
    if (rc != 0)
        return fail(step, "p11tls_key_sign", rc);
    if (!test_verify_pem(cert_pem_path, GNUTLS_SIGN_ECDSA_SHA256, msg, sizeof(msg) - 1, sig, sig_len))
        return fail(step + 1, "signature does not verify with the certificate", 0);
    return 0;
}

static int softhsm_mapped(void)
{
    char line[4096];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, "libsofthsm2") != NULL;
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    p11tls_ctx *ctx = NULL;
    p11tls_key *key = NULL;
    pid_t pid;
    int rc, st;

    if (argc != 4) {
        fprintf(stderr, "usage: %s CLIENT_MODULE KEY_URI CERT_PEM\n", argv[0]);
        return 99;
    }
    cert_pem_path = argv[3];
    if ((rc = p11tls_ctx_new(&ctx)) != 0)
        return fail(1, "p11tls_ctx_new", rc);
    if ((rc = p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES)) != 0)
        return fail(1, "p11tls_ctx_set_flags", rc);
    if ((rc = p11tls_ctx_add_module(ctx, argv[1])) != 0)
        return fail(2, "p11tls_ctx_add_module", rc);
    if ((rc = p11tls_key_open(ctx, argv[2], 0, &key)) != 0)
        return fail(3, "p11tls_key_open", rc);
    if ((rc = sign_and_verify(key, 4)) != 0)
        return rc;
    if (softhsm_mapped())
        return fail(6, "SoftHSM is loaded in this process: the key was not reached through the socket", 0);

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return fail(7, "fork", 0);
    if (pid == 0) {
        /* The child: the key opened before fork, nothing reopened by hand. */
        rc = sign_and_verify(key, 4);
        _exit(rc ? 10 + rc : 0);
    }
    st = test_wait_bounded(pid, 30 * 1000L);
    if (st == -1) {
        fprintf(stderr, "forwarded_sign: the child did not finish within 30 s\n");
        return 30;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "forwarded_sign: child failed (status 0x%x)\n", st);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 20;
    }
    /* The parent's connection still works after the child used its own. */
    if ((rc = sign_and_verify(key, 8)) != 0)
        return rc;
    p11tls_key_free(key);
    p11tls_ctx_free(ctx);
    printf("forwarded_sign: parent signed, child signed, parent signed again: all verified\n");
    return 0;
}
