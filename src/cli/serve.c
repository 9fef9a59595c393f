/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* serve.c - p11tls serve: a small TLS server on 127.0.0.1 whose private
 * key stays on the token.
 *
 * It serves --count connections one after another: handshake, one summary
 * line on stdout, "hello from p11tls\n", close_notify, close. A failed
 * handshake is reported on stderr and the next connection is served. With
 * --workers N it opens the key, listens, then forks N worker processes
 * that each serve --count connections from the shared socket, the way a
 * prefork server does: the key opened before fork() signs in every worker.
 * Except on a module that keeps sharing its state with forked children
 * (tpm2-pkcs11), which only the process that initialized it may use: then
 * the workers are forked first, one after another, and each opens the key
 * (and the trust) itself before the next is forked. */
#define _GNU_SOURCE 1
#include "commands.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <p11tls/gnutls.h>

#include "pin.h"
#include "tls.h"
#include "verify.h"
#include "util.h"

static const char serve_hello[] = "hello from p11tls\n";

/* Listens on 127.0.0.1:port; *bound is the port actually bound. */
static int listen_local(unsigned port, int *out_fd, unsigned *bound)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int one = 1;
    int fd;
    int rc = cli_tls_loopback_socket(port, &fd, &sa);

    if (rc != CLI_EXIT_OK)
        return rc;
    *out_fd = fd;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return cli_error(CLI_EXIT_FAILURE, "bind 127.0.0.1:%u: %s", port,
                         strerror(errno));
    if (listen(fd, 64) != 0)
        return cli_error(CLI_EXIT_FAILURE, "listen: %s", strerror(errno));
    if (getsockname(fd, (struct sockaddr *)&sa, &salen) != 0)
        return cli_error(CLI_EXIT_FAILURE, "getsockname: %s", strerror(errno));
    *bound = ntohs(sa.sin_port);
    return CLI_EXIT_OK;
}

/* Serves one connection; who is "" or "worker N: ". Returns 0 if the
 * handshake succeeded. */
static int serve_one(gnutls_certificate_credentials_t cred, const cli_env *env,
                     int listen_fd, const char *who, unsigned n)
{
    gnutls_session_t session = NULL;
    char why[512], summary[128];
    int fd, rc;

    do
        fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        fprintf(stderr, "p11tls: %sconnection %u: accept: %s\n", who, n, strerror(errno));
        return -1;
    }

    rc = gnutls_init(&session, GNUTLS_SERVER);
    if (rc >= 0)
        rc = gnutls_priority_set_direct(session, "NORMAL", NULL);
    if (rc >= 0)
        rc = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred);
    if (rc < 0) {
        fprintf(stderr, "p11tls: %sconnection %u: setting up the session: %s\n",
                who, n, gnutls_strerror(rc));
        goto fail;
    }
    if (env->args->n_trust) {
        /* GnuTLS verifies a complete client chain without calling p11tls:
         * the tokens' changes are read here, once the delay has passed
         * (include/p11tls/gnutls.h). A token that cannot be read leaves the
         * list as it was. */
        gnutls_x509_trust_list_t list = NULL;
        gnutls_certificate_get_trust_list(cred, &list);
        p11tls_gnutls_trust_list_refresh(list, P11TLS_TRUST_REFRESH_IF_DUE);
    }
    if (env->args->seen & CLI_OPT_REQUIRE_CLIENT_CERT) {
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
        gnutls_session_set_verify_cert(session, NULL, 0);
    } else if (env->args->ca || env->args->n_trust) {
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
        gnutls_session_set_verify_cert(session, NULL, 0);
    }
    gnutls_transport_set_int(session, fd);
    gnutls_handshake_set_timeout(session, CLI_TLS_TIMEOUT_MS);
    gnutls_record_set_timeout(session, CLI_TLS_TIMEOUT_MS);

    rc = cli_tls_handshake(session, why, sizeof(why));
    if (rc < 0) {
        fprintf(stderr, "p11tls: %shandshake %u failed: %s%s%s\n", who, n,
                gnutls_strerror(rc), why[0] ? ": " : "", why);
        goto fail;
    }
    fprintf(stdout, "%shandshake %u: %s\n", who, n,
            cli_tls_summary(session, summary, sizeof(summary)));
    fflush(stdout);

    rc = cli_tls_send(session, serve_hello, sizeof(serve_hello) - 1);
    if (rc < 0)
        fprintf(stderr, "p11tls: %sconnection %u: sending: %s\n", who, n,
                gnutls_strerror(rc));
    cli_tls_close(session, fd);
    gnutls_deinit(session);
    return 0;

fail:
    if (session)
        gnutls_deinit(session);
    close(fd);
    return -1;
}

/* Serves count connections; returns how many failed. */
static unsigned serve_loop(gnutls_certificate_credentials_t cred, const cli_env *env,
                           int listen_fd, const char *who, unsigned count)
{
    unsigned i, failed = 0;

    for (i = 1; i <= count; i++)
        if (serve_one(cred, env, listen_fd, who, i) != 0)
            failed++;
    return failed;
}

/* The credentials to serve with: the key and certificate, and what
 * verifies client certificates. */
static int load_credentials(cli_env *env, gnutls_certificate_credentials_t *out)
{
    gnutls_certificate_credentials_t cred = NULL;
    int rc = gnutls_certificate_allocate_credentials(&cred);

    if (rc < 0)
        return cli_error(CLI_EXIT_FAILURE, "gnutls credentials: %s", gnutls_strerror(rc));
    rc = cli_tls_load_identity(cred, env, env->args->pos[0]);
    if (!rc)
        rc = cli_trust_add_to_cred(cred, env, P11TLS_TRUST_FOR_CLIENTS);
    if (rc) {
        gnutls_certificate_free_credentials(cred);
        return rc;
    }
    *out = cred;
    return CLI_EXIT_OK;
}

static int note_fork_shared(void *arg, const p11tls_token_info *t)
{
    if (t->fork_shared)
        *(int *)arg = 1;
    return 0;
}

/* Whether a token that the key, the certificate or a --trust URI names is
 * on a module that keeps sharing its state with forked children
 * (p11tls_token_info.fork_shared). Asked in a short-lived child, which
 * lists those tokens (no login): this process must not initialize such a
 * module before it forks the workers, or none of them could use it. */
static int fork_shared_tokens(cli_env *env)
{
    const char *cert = env->args->cert;
    pid_t pid;
    int st = 0;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return 0; /* forking the workers reports it */
    if (pid == 0) {
        int shared = 0;
        size_t i;
        /* Its warnings would repeat what loading the identity says. */
        p11tls_ctx_set_log_fn(env->ctx, NULL, NULL, 0);
        p11tls_list_tokens(env->ctx, env->args->pos[0], note_fork_shared, &shared);
        if (cert && strncmp(cert, "pkcs11:", 7) == 0)
            p11tls_list_tokens(env->ctx, cert, note_fork_shared, &shared);
        for (i = 0; i < env->args->n_trust; i++)
            p11tls_list_tokens(env->ctx, env->args->trust[i], note_fork_shared, &shared);
        _exit(shared);
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 1;
}

/* A worker's body: with cred NULL, it loads its own credentials first and
 * says on ready_fd whether it could ('y' or 'n'). Never returns. */
static void worker(gnutls_certificate_credentials_t cred, cli_env *env, int listen_fd,
                   pid_t parent, unsigned w, unsigned count, int ready_fd)
{
    char who[32];
    unsigned failed;

    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(CLI_EXIT_FAILURE);
    if (!cred) {
        int rc = load_credentials(env, &cred);
        char c = rc ? 'n' : 'y';
        ssize_t r;
        do
            r = write(ready_fd, &c, 1);
        while (r < 0 && errno == EINTR);
        close(ready_fd);
        if (rc)
            _exit(rc);
    }
    snprintf(who, sizeof(who), "worker %u: ", w);
    failed = serve_loop(cred, env, listen_fd, who, count);
    fflush(stdout);
    _exit(failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK);
}

/* Waits for a worker that loads its own credentials to say it could. */
static int worker_ready(int ready_fd)
{
    char c = 0;
    ssize_t r;
    do
        r = read(ready_fd, &c, 1);
    while (r < 0 && errno == EINTR);
    close(ready_fd);
    return r == 1 && c == 'y';
}

/* Forks the workers and waits for them. A worker dies with the parent
 * (PR_SET_PDEATHSIG), so a killed server leaves nothing behind. With cred
 * NULL each worker loads its own credentials, and the next one is forked
 * once it has: a wrong PIN costs one try, not one per worker, and a PIN
 * asked for on the terminal is asked for by one worker at a time. If one
 * cannot, no more are forked and those running are stopped. */
static int run_workers(gnutls_certificate_credentials_t cred, cli_env *env,
                       int listen_fd, unsigned workers, unsigned count)
{
    pid_t parent = getpid();
    pid_t pids[64]; /* --workers is at most 64 (args.c) */
    unsigned w, failed = 0, started = 0, stopping = 0;

    fflush(stdout);
    fflush(stderr);
    for (w = 1; w <= workers && started < sizeof(pids) / sizeof(pids[0]); w++) {
        int ready[2] = {-1, -1};
        pid_t pid;
        if (!cred && pipe2(ready, O_CLOEXEC) != 0) {
            cli_error(CLI_EXIT_FAILURE, "pipe: %s", strerror(errno));
            failed++;
            break;
        }
        pid = fork();
        if (pid < 0) {
            cli_error(CLI_EXIT_FAILURE, "fork: %s", strerror(errno));
            failed++;
            if (!cred) {
                close(ready[0]);
                close(ready[1]);
            }
            break;
        }
        if (pid == 0) {
            if (!cred)
                close(ready[0]);
            worker(cred, env, listen_fd, parent, w, count, ready[1]);
        }
        pids[started++] = pid;
        if (!cred) {
            close(ready[1]);
            if (!worker_ready(ready[0])) {
                failed++;
                break;
            }
        }
    }
    if (failed && !cred) {
        for (w = 0; w < started; w++)
            kill(pids[w], SIGTERM);
        stopping = 1;
    }
    while (started > 0) {
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        started--;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            failed++;
            if (WIFSIGNALED(st) && !stopping)
                fprintf(stderr, "p11tls: worker pid %ld killed by signal %d\n",
                        (long)pid, WTERMSIG(st));
        }
    }
    return failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int cli_cmd_serve(cli_env *env)
{
    gnutls_certificate_credentials_t cred = NULL;
    unsigned port = 0;
    unsigned count = env->args->count ? env->args->count : 1;
    int listen_fd = -1, own, rc;

    signal(SIGPIPE, SIG_IGN);
    if ((env->args->seen & CLI_OPT_REQUIRE_CLIENT_CERT) && !env->args->ca &&
        !env->args->n_trust) {
        rc = cli_error(CLI_EXIT_USAGE, "--require-client-cert needs --ca FILE or --trust URI");
        goto out;
    }
    /* Workers on a module such as tpm2-pkcs11 load their own credentials. */
    own = env->args->workers && fork_shared_tokens(env);
    if (own)
        cli_pin_read_now(env->pin); /* --pin-fd: read once, for every worker */
    else if ((rc = load_credentials(env, &cred)) != CLI_EXIT_OK)
        goto out;
    rc = listen_local(env->args->port, &listen_fd, &port);
    if (rc)
        goto out;

    /* Straight to stdout (not env->out, which --json buffers): scripts
     * read the port from this first line while we run. */
    fprintf(stdout, "listening on 127.0.0.1:%u\n", port);
    fflush(stdout);

    if (env->args->workers)
        rc = run_workers(cred, env, listen_fd, env->args->workers, count);
    else
        rc = serve_loop(cred, env, listen_fd, "", count) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;

out:
    if (listen_fd >= 0)
        close(listen_fd);
    if (cred)
        gnutls_certificate_free_credentials(cred);
    return rc;
}
