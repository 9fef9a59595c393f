/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* connect.c - p11tls connect: a TLS client on 127.0.0.1 that presents a
 * token certificate and key (when given), verifies the server against
 * --ca, sends one line and prints what the server sends back. */
#define _GNU_SOURCE 1
#include "commands.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "tls.h"
#include "util.h"
#include "verify.h"

static const char connect_hello[] = "hello from p11tls connect\n";

static int connect_local(unsigned port, int *out_fd)
{
    struct sockaddr_in sa;
    struct timeval tv = {CLI_TLS_TIMEOUT_MS / 1000, 0};
    int fd;
    int rc = cli_tls_loopback_socket(port, &fd, &sa);

    if (rc != CLI_EXIT_OK)
        return rc;
    *out_fd = fd;
    /* bounds connect() as well as the reads and writes */
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return cli_error(CLI_EXIT_FAILURE, "connect 127.0.0.1:%u: %s", port,
                         strerror(errno));
    return CLI_EXIT_OK;
}

/* Prints what the server sends, up to its close or a quiet second after
 * the first data (servers that echo never close on their own). Returns 0,
 * or the GnuTLS error that ended the connection (an alert: the server
 * refused us after the handshake, as TLS 1.3 servers do for a missing or
 * bad client certificate). */
static int print_reply(gnutls_session_t session, FILE *out)
{
    char buf[4096];
    int got = 0;

    for (;;) {
        ssize_t n;
        gnutls_record_set_timeout(session, got ? 1000 : CLI_TLS_TIMEOUT_MS);
        n = gnutls_record_recv(session, buf, sizeof(buf));
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n == 0 || (got && (n == GNUTLS_E_TIMEDOUT || n == GNUTLS_E_PREMATURE_TERMINATION)))
            break;
        if (n < 0) {
            fflush(out);
            return (int)n;
        }
        fwrite(buf, 1, (size_t)n, out);
        got = 1;
    }
    fflush(out);
    return 0;
}

int cli_cmd_connect(cli_env *env)
{
    gnutls_certificate_credentials_t cred = NULL;
    gnutls_session_t session = NULL;
    const char *name = env->args->server_name ? env->args->server_name : "localhost";
    char why[512], summary[128];
    int fd = -1, rc;

    signal(SIGPIPE, SIG_IGN);
    if (env->args->n_pos == 1 && !env->args->cert) {
        rc = cli_error(CLI_EXIT_USAGE, "a client key needs --cert CERT");
        goto out;
    }
    if (!env->args->ca && !env->args->n_trust) {
        rc = cli_error(CLI_EXIT_USAGE, "'connect' needs --ca FILE or --trust URI");
        goto out;
    }
    rc = gnutls_certificate_allocate_credentials(&cred);
    if (rc < 0) {
        rc = cli_error(CLI_EXIT_FAILURE, "gnutls credentials: %s", gnutls_strerror(rc));
        goto out;
    }
    if (env->args->n_pos == 1)
        rc = cli_tls_load_identity(cred, env, env->args->pos[0]);
    else if (env->args->ca)
        rc = cli_tls_trust(cred, env->args->ca);
    if (!rc)
        rc = cli_trust_add_to_cred(cred, env, 0);
    if (rc)
        goto out;
    rc = connect_local(env->args->port, &fd);
    if (rc)
        goto out;

    rc = gnutls_init(&session, GNUTLS_CLIENT);
    if (rc >= 0)
        rc = gnutls_priority_set_direct(session, "NORMAL", NULL);
    if (rc >= 0)
        rc = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred);
    if (rc >= 0)
        rc = gnutls_server_name_set(session, GNUTLS_NAME_DNS, name, strlen(name));
    if (rc < 0) {
        rc = cli_error(CLI_EXIT_FAILURE, "setting up the session: %s", gnutls_strerror(rc));
        goto out;
    }
    gnutls_session_set_verify_cert(session, name, 0);
    gnutls_transport_set_int(session, fd);
    gnutls_handshake_set_timeout(session, CLI_TLS_TIMEOUT_MS);

    rc = cli_tls_handshake(session, why, sizeof(why));
    if (rc < 0) {
        rc = cli_error(CLI_EXIT_FAILURE, "handshake failed: %s%s%s", gnutls_strerror(rc),
                       why[0] ? ": " : "", why);
        goto out;
    }
    fprintf(stdout, "handshake: %s%s\n", cli_tls_summary(session, summary, sizeof(summary)),
            !gnutls_certificate_client_get_request_status(session) ? ""
            : env->args->n_pos == 1 ? " (client certificate sent)"
                                    : " (client certificate requested, none sent)");
    fflush(stdout);
    rc = cli_tls_send(session, connect_hello, sizeof(connect_hello) - 1);
    if (rc < 0) {
        rc = cli_error(CLI_EXIT_FAILURE, "sending: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = print_reply(session, stdout);
    if (rc < 0) {
        const char *alert = rc == GNUTLS_E_FATAL_ALERT_RECEIVED
                                ? gnutls_alert_get_name(gnutls_alert_get(session))
                                : NULL;
        rc = cli_error(CLI_EXIT_FAILURE, "the server ended the connection: %s%s%s",
                       gnutls_strerror(rc), alert ? ": " : "", alert ? alert : "");
        goto out;
    }
    cli_tls_close(session, fd);
    fd = -1;
    rc = CLI_EXIT_OK;

out:
    if (session)
        gnutls_deinit(session);
    if (fd >= 0)
        close(fd);
    if (cred)
        gnutls_certificate_free_credentials(cred);
    return rc;
}
