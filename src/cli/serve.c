/* serve.c - p11tls serve: a small TLS server on 127.0.0.1 whose private
 * key stays on the token (imported through include/p11tls/gnutls.h).
 *
 * It serves --count connections one after another: handshake, one summary
 * line on stdout, "hello from p11tls\n", close_notify, close. A failed
 * handshake is reported on stderr and the next connection is served. */
#define _GNU_SOURCE 1
#include "commands.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <p11tls/gnutls.h>

#include "util.h"

#define SERVE_MAX_CHAIN 16
#define SERVE_TIMEOUT_MS 10000
static const char serve_hello[] = "hello from p11tls\n";

typedef struct serve_state {
    gnutls_certificate_credentials_t cred;
    gnutls_privkey_t pkey;
    gnutls_pcert_st pcert[SERVE_MAX_CHAIN];
    unsigned n_pcert;
    int listen_fd;
} serve_state;

/* Loads the certificate (chain) named by --cert into st->pcert: a pkcs11:
 * URI (one certificate, fetched through ctx) or a PEM file. */
static int load_cert(serve_state *st, p11tls_ctx *ctx, const char *cert)
{
    char shown[CLI_URI_BUF];
    int rc;

    if (strncmp(cert, "pkcs11:", 7) == 0) {
        uint8_t *der = NULL;
        size_t len = 0;
        gnutls_datum_t d;

        rc = p11tls_cert_get_der(ctx, cert, &der, &len);
        if (rc < 0)
            return cli_fail(rc, NULL, "certificate '%s'",
                            cli_redact_uri(cert, shown, sizeof(shown)));
        d.data = der;
        d.size = (unsigned)len;
        rc = gnutls_pcert_import_x509_raw(&st->pcert[0], &d,
                                          GNUTLS_X509_FMT_DER, 0);
        p11tls_free(der);
        if (rc < 0)
            return cli_error(CLI_EXIT_FAILURE, "certificate '%s': %s",
                             cli_redact_uri(cert, shown, sizeof(shown)),
                             gnutls_strerror(rc));
        st->n_pcert = 1;
    } else {
        gnutls_datum_t data = {NULL, 0};
        unsigned n = SERVE_MAX_CHAIN;

        rc = gnutls_load_file(cert, &data);
        if (rc < 0)
            return cli_error(CLI_EXIT_FAILURE, "certificate file '%s': %s",
                             cert, gnutls_strerror(rc));
        rc = gnutls_pcert_list_import_x509_raw(st->pcert, &n, &data,
                                               GNUTLS_X509_FMT_PEM, 0);
        gnutls_free(data.data);
        if (rc < 0)
            return cli_error(CLI_EXIT_FAILURE, "certificate file '%s': %s",
                             cert, gnutls_strerror(rc));
        if (n == 0)
            return cli_error(CLI_EXIT_FAILURE,
                             "certificate file '%s': no certificate", cert);
        st->n_pcert = n;
    }
    return CLI_EXIT_OK;
}

/* Key, certificate and (with --ca) trusted CAs into st->cred. */
static int setup_credentials(serve_state *st, cli_env *env)
{
    char shown[CLI_URI_BUF];
    const char *uri = env->args->pos[0];
    int rc;

    rc = gnutls_privkey_init(&st->pkey);
    if (rc < 0)
        return cli_error(CLI_EXIT_FAILURE, "gnutls_privkey_init: %s",
                         gnutls_strerror(rc));
    rc = p11tls_gnutls_privkey_import(st->pkey, env->ctx, uri, 0);
    if (rc < 0) {
        const char *detail = p11tls_last_error_detail();
        const char *problem = env->pin->problem;
        return cli_error(CLI_EXIT_FAILURE, "key '%s': %s%s%s%s%s%s",
                         cli_redact_uri(uri, shown, sizeof(shown)),
                         gnutls_strerror(rc), problem ? "; " : "",
                         problem ? problem : "", detail && *detail ? " (" : "",
                         detail && *detail ? detail : "",
                         detail && *detail ? ")" : "");
    }
    rc = load_cert(st, env->ctx, env->args->cert);
    if (rc)
        return rc;

    rc = gnutls_certificate_allocate_credentials(&st->cred);
    if (rc < 0)
        return cli_error(CLI_EXIT_FAILURE, "gnutls credentials: %s",
                         gnutls_strerror(rc));
    rc = gnutls_certificate_set_key(st->cred, NULL, 0, st->pcert, (int)st->n_pcert,
                                    st->pkey);
    if (rc < 0)
        return cli_error(CLI_EXIT_FAILURE,
                         "using the key with the certificate: %s",
                         gnutls_strerror(rc));
    /* cred owns the key and the certificates now */
    st->pkey = NULL;
    st->n_pcert = 0;

    if (env->args->ca) {
        rc = gnutls_certificate_set_x509_trust_file(st->cred, env->args->ca,
                                                    GNUTLS_X509_FMT_PEM);
        if (rc < 0)
            return cli_error(CLI_EXIT_FAILURE, "CA file '%s': %s",
                             env->args->ca, gnutls_strerror(rc));
        if (rc == 0)
            return cli_error(CLI_EXIT_FAILURE, "CA file '%s': no certificate",
                             env->args->ca);
    }
    return CLI_EXIT_OK;
}

/* Listens on 127.0.0.1:port; *bound is the port actually bound. */
static int listen_local(serve_state *st, unsigned port, unsigned *bound)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int one = 1;

    st->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (st->listen_fd < 0)
        return cli_error(CLI_EXIT_FAILURE, "socket: %s", strerror(errno));
    (void)setsockopt(st->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(st->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return cli_error(CLI_EXIT_FAILURE, "bind 127.0.0.1:%u: %s", port,
                         strerror(errno));
    if (listen(st->listen_fd, 16) != 0)
        return cli_error(CLI_EXIT_FAILURE, "listen: %s", strerror(errno));
    if (getsockname(st->listen_fd, (struct sockaddr *)&sa, &salen) != 0)
        return cli_error(CLI_EXIT_FAILURE, "getsockname: %s", strerror(errno));
    *bound = ntohs(sa.sin_port);
    return CLI_EXIT_OK;
}

/* Closes fd without losing what was sent: after our close_notify, half
 * close and read until the peer closes (bounded), so that unread client
 * data does not turn the close into a reset. */
static void close_gracefully(int fd)
{
    struct timeval tv = {2, 0};
    char buf[4096];
    int i;

    (void)shutdown(fd, SHUT_WR);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (i = 0; i < 256; i++) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
    }
    close(fd);
}

/* Serves one connection. Returns 0 if the handshake succeeded. */
static int serve_one(serve_state *st, const cli_env *env, unsigned n)
{
    gnutls_session_t session = NULL;
    const char *proto, *alg;
    gnutls_sign_algorithm_t sig;
    size_t off;
    int fd, rc;

    do
        fd = accept4(st->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        fprintf(stderr, "p11tls: connection %u: accept: %s\n", n, strerror(errno));
        return -1;
    }

    rc = gnutls_init(&session, GNUTLS_SERVER);
    if (rc >= 0)
        rc = gnutls_priority_set_direct(session, "NORMAL", NULL);
    if (rc >= 0)
        rc = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, st->cred);
    if (rc < 0) {
        fprintf(stderr, "p11tls: connection %u: setting up the session: %s\n",
                n, gnutls_strerror(rc));
        goto fail;
    }
    if (env->args->seen & CLI_OPT_REQUIRE_CLIENT_CERT) {
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
        gnutls_session_set_verify_cert(session, NULL, 0);
    } else if (env->args->ca) {
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
        gnutls_session_set_verify_cert(session, NULL, 0);
    }
    gnutls_transport_set_int(session, fd);
    gnutls_handshake_set_timeout(session, SERVE_TIMEOUT_MS);
    gnutls_record_set_timeout(session, SERVE_TIMEOUT_MS);

    do
        rc = gnutls_handshake(session);
    while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
    if (rc < 0) {
        if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
            gnutls_datum_t why = {NULL, 0};
            unsigned status = gnutls_session_get_verify_cert_status(session);
            if (gnutls_certificate_verification_status_print(
                    status, GNUTLS_CRT_X509, &why, 0) >= 0) {
                fprintf(stderr, "p11tls: handshake %u failed: %s: %s\n", n,
                        gnutls_strerror(rc), (const char *)why.data);
                gnutls_free(why.data);
                goto fail;
            }
        }
        fprintf(stderr, "p11tls: handshake %u failed: %s\n", n, gnutls_strerror(rc));
        goto fail;
    }

    proto = gnutls_protocol_get_name(gnutls_protocol_get_version(session));
    sig = gnutls_sign_algorithm_get(session);
    alg = sig != GNUTLS_SIGN_UNKNOWN ? gnutls_sign_get_name(sig) : NULL;
    if (alg == NULL)
        alg = gnutls_kx_get_name(gnutls_kx_get(session));
    fprintf(stdout, "handshake %u: %s %s\n", n, proto ? proto : "?",
            alg ? alg : "?");
    fflush(stdout);

    for (off = 0; off < sizeof(serve_hello) - 1;) {
        ssize_t w = gnutls_record_send(session, serve_hello + off,
                                       sizeof(serve_hello) - 1 - off);
        if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
            continue;
        if (w < 0) {
            fprintf(stderr, "p11tls: connection %u: sending: %s\n", n,
                    gnutls_strerror((int)w));
            break;
        }
        off += (size_t)w;
    }
    do
        rc = gnutls_bye(session, GNUTLS_SHUT_WR);
    while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
    gnutls_deinit(session);
    close_gracefully(fd);
    return 0;

fail:
    if (session)
        gnutls_deinit(session);
    close(fd);
    return -1;
}

int cli_cmd_serve(cli_env *env)
{
    serve_state st;
    unsigned port = 0, i, failed = 0;
    unsigned count = env->args->count ? env->args->count : 1;
    int rc;

    memset(&st, 0, sizeof(st));
    st.listen_fd = -1;
    signal(SIGPIPE, SIG_IGN);

    if ((env->args->seen & CLI_OPT_REQUIRE_CLIENT_CERT) && !env->args->ca) {
        rc = cli_error(CLI_EXIT_USAGE, "--require-client-cert needs --ca FILE");
        goto out;
    }
    rc = setup_credentials(&st, env);
    if (rc)
        goto out;
    rc = listen_local(&st, env->args->port, &port);
    if (rc)
        goto out;

    /* Straight to stdout (not env->out, which --json buffers): scripts
     * read the port from this first line while we run. */
    fprintf(stdout, "listening on 127.0.0.1:%u\n", port);
    fflush(stdout);

    for (i = 1; i <= count; i++)
        if (serve_one(&st, env, i) != 0)
            failed++;
    rc = failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK;

out:
    if (st.listen_fd >= 0)
        close(st.listen_fd);
    if (st.cred)
        gnutls_certificate_free_credentials(st.cred);
    for (i = 0; i < st.n_pcert; i++)
        gnutls_pcert_deinit(&st.pcert[i]);
    if (st.pkey)
        gnutls_privkey_deinit(st.pkey);
    return rc;
}
