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
 * prefork server does: the key opened before fork() signs in every worker. */
#define _GNU_SOURCE 1
#include "commands.h"

#include <arpa/inet.h>
#include <errno.h>
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

/* Forks the workers and waits for them. A worker dies with the parent
 * (PR_SET_PDEATHSIG), so a killed server leaves nothing behind. */
static int run_workers(gnutls_certificate_credentials_t cred, const cli_env *env,
                       int listen_fd, unsigned workers, unsigned count)
{
    pid_t parent = getpid();
    unsigned w, failed = 0, started = 0;

    fflush(stdout);
    fflush(stderr);
    for (w = 1; w <= workers; w++) {
        pid_t pid = fork();
        if (pid < 0) {
            cli_error(CLI_EXIT_FAILURE, "fork: %s", strerror(errno));
            failed++;
            break;
        }
        if (pid == 0) {
            char who[32];
            (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(CLI_EXIT_FAILURE);
            snprintf(who, sizeof(who), "worker %u: ", w);
            unsigned f = serve_loop(cred, env, listen_fd, who, count);
            fflush(stdout);
            _exit(f ? CLI_EXIT_FAILURE : CLI_EXIT_OK);
        }
        started++;
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
            if (WIFSIGNALED(st))
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
    int listen_fd = -1, rc;

    signal(SIGPIPE, SIG_IGN);
    if ((env->args->seen & CLI_OPT_REQUIRE_CLIENT_CERT) && !env->args->ca &&
        !env->args->n_trust) {
        rc = cli_error(CLI_EXIT_USAGE, "--require-client-cert needs --ca FILE or --trust URI");
        goto out;
    }
    rc = gnutls_certificate_allocate_credentials(&cred);
    if (rc < 0) {
        rc = cli_error(CLI_EXIT_FAILURE, "gnutls credentials: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = cli_tls_load_identity(cred, env, env->args->pos[0]);
    if (!rc)
        rc = cli_trust_add_to_cred(cred, env, P11TLS_TRUST_FOR_CLIENTS);
    if (rc)
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
