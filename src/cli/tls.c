/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* tls.c - see tls.h. */
#define _GNU_SOURCE 1
#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <p11tls/gnutls.h>

#include "util.h"
#include "verify.h"

int cli_tls_loopback_socket(unsigned port, int *out_fd, struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return cli_error(CLI_EXIT_FAILURE, "socket: %s", strerror(errno));
    *out_fd = fd;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return CLI_EXIT_OK;
}

#define CLI_TLS_MAX_CHAIN 16

/* The one error line for an identity p11tls could not load: what (the key,
 * or certificate and key), GnuTLS's code, the PIN problem the tool saw (if
 * any) and p11tls's detail. Must follow the failing call at once. */
static int identity_error(cli_env *env, const char *what, int rc)
{
    const char *detail = p11tls_last_error_detail();
    const char *problem = env->pin->problem;

    return cli_error(CLI_EXIT_FAILURE, "%s: %s%s%s%s%s%s", what,
                     gnutls_strerror(rc), problem ? "; " : "",
                     problem ? problem : "", detail && *detail ? " (" : "",
                     detail && *detail ? detail : "",
                     detail && *detail ? ")" : "");
}

/* A PEM chain file and the token key, as one credentials entry. */
static int load_pem_chain(gnutls_certificate_credentials_t cred, cli_env *env,
                          const char *key_uri, const char *file)
{
    gnutls_pcert_st pcert[CLI_TLS_MAX_CHAIN];
    gnutls_datum_t data = {NULL, 0};
    gnutls_privkey_t pkey = NULL;
    unsigned n = CLI_TLS_MAX_CHAIN, i;
    int rc;

    rc = cli_read_file(file, "certificate file", &data);
    if (rc)
        return rc;
    rc = gnutls_pcert_list_import_x509_raw(pcert, &n, &data, GNUTLS_X509_FMT_PEM, 0);
    free(data.data);
    if (rc < 0)
        return cli_error(CLI_EXIT_FAILURE, "certificate file '%s': %s", file,
                         gnutls_strerror(rc));
    if (n == 0)
        return cli_error(CLI_EXIT_FAILURE, "certificate file '%s': no certificate",
                         file);
    rc = gnutls_privkey_init(&pkey);
    if (rc >= 0) {
        rc = p11tls_gnutls_privkey_import(pkey, env->ctx, key_uri, 0);
        if (rc < 0) {
            char shown[CLI_URI_BUF], what[CLI_URI_BUF + 8];
            snprintf(what, sizeof(what), "key '%s'",
                     cli_redact_uri(key_uri, shown, sizeof(shown)));
            identity_error(env, what, rc);
            goto fail;
        }
        rc = gnutls_certificate_set_key(cred, NULL, 0, pcert, (int)n, pkey);
    }
    if (rc < 0) {
        cli_error(CLI_EXIT_FAILURE, "using the key with '%s': %s", file,
                  gnutls_strerror(rc));
        goto fail;
    }
    return CLI_EXIT_OK; /* cred owns the certificates and the key */
fail:
    for (i = 0; i < n; i++)
        gnutls_pcert_deinit(&pcert[i]);
    if (pkey)
        gnutls_privkey_deinit(pkey);
    return CLI_EXIT_FAILURE;
}

int cli_tls_trust(gnutls_certificate_credentials_t cred, const char *ca)
{
    gnutls_datum_t data = {NULL, 0};
    int rc = cli_read_file(ca, "CA file", &data);

    if (rc)
        return rc;
    rc = gnutls_certificate_set_x509_trust_mem(cred, &data, GNUTLS_X509_FMT_PEM);
    free(data.data);
    if (rc < 0)
        return cli_error(CLI_EXIT_FAILURE, "CA file '%s': %s", ca, gnutls_strerror(rc));
    if (rc == 0)
        return cli_error(CLI_EXIT_FAILURE, "CA file '%s': no certificate", ca);
    return CLI_EXIT_OK;
}

/* The key, and a pkcs11: certificate, looked up first with p11tls's own
 * calls: their codes tell what GnuTLS's do not, a URI that matches nothing
 * (exit 3) or several objects (exit 4), as for the other commands. Several
 * certificates of one key (a renewal) are not ambiguous: the one valid
 * now and newest is used, as p11tls_gnutls_certificate_set_key() does. The
 * token stays logged in for the import that follows (no second PIN). */
static int look_up_identity(cli_env *env, const char *key_uri, const char *cert)
{
    char shown[CLI_URI_BUF];
    p11tls_key *key = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    int rc = p11tls_key_open(env->ctx, key_uri, 0, &key);

    if (rc < 0)
        return cli_fail(rc, cli_pin_extra(env, rc), "key '%s'",
                        cli_redact_uri(key_uri, shown, sizeof(shown)));
    p11tls_key_free(key);
    if (strncmp(cert, "pkcs11:", 7) != 0)
        return CLI_EXIT_OK;
    rc = p11tls_cert_get_der2(env->ctx, cert, P11TLS_CERT_NEWEST, &der, &len);
    if (rc < 0)
        return cli_fail(rc, NULL, "certificate '%s'", cli_redact_uri(cert, shown, sizeof(shown)));
    p11tls_free(der);
    return CLI_EXIT_OK;
}

int cli_tls_load_identity(gnutls_certificate_credentials_t cred, cli_env *env,
                          const char *key_uri)
{
    const char *cert = env->args->cert;
    const char *detail;
    char shown[CLI_URI_BUF];
    int rc = look_up_identity(env, key_uri, cert);

    if (rc != CLI_EXIT_OK)
        return rc;
    if (strncmp(cert, "pkcs11:", 7) != 0) {
        rc = load_pem_chain(cred, env, key_uri, cert);
    } else {
        char shown_key[CLI_URI_BUF], what[2 * CLI_URI_BUF + 32];
        rc = p11tls_gnutls_certificate_set_key(cred, env->ctx, cert, key_uri);
        detail = p11tls_last_error_detail();
        snprintf(what, sizeof(what), "certificate '%s' with key '%s'",
                 cli_redact_uri(cert, shown, sizeof(shown)),
                 cli_redact_uri(key_uri, shown_key, sizeof(shown_key)));
        if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
            rc = cli_error(CLI_EXIT_FAILURE, "%s: %s", what,
                           *detail ? detail : "the key does not belong to the certificate");
        else if (rc < 0)
            rc = identity_error(env, what, rc);
        else
            rc = CLI_EXIT_OK;
    }
    if (rc == CLI_EXIT_OK && env->args->ca)
        rc = cli_tls_trust(cred, env->args->ca);
    return rc;
}

int cli_tls_handshake(gnutls_session_t session, char *why, size_t why_size)
{
    int rc;

    if (why_size)
        why[0] = '\0';
    do
        rc = gnutls_handshake(session);
    while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR && why_size)
        cli_trust_reasons(gnutls_session_get_verify_cert_status(session), why, why_size);
    return rc;
}

const char *cli_tls_summary(gnutls_session_t session, char *buf, size_t size)
{
    const char *proto = gnutls_protocol_get_name(gnutls_protocol_get_version(session));
    gnutls_sign_algorithm_t sig = gnutls_sign_algorithm_get(session);
    const char *alg = sig != GNUTLS_SIGN_UNKNOWN ? gnutls_sign_get_name(sig) : NULL;

    if (alg == NULL)
        alg = gnutls_kx_get_name(gnutls_kx_get(session));
    snprintf(buf, size, "%s %s", proto ? proto : "?", alg ? alg : "?");
    return buf;
}

int cli_tls_send(gnutls_session_t session, const char *data, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t w = gnutls_record_send(session, data + off, len - off);
        if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
            continue;
        if (w < 0)
            return (int)w;
        off += (size_t)w;
    }
    return 0;
}

void cli_tls_close(gnutls_session_t session, int fd)
{
    struct timeval tv = {2, 0};
    char buf[4096];
    int rc, i;

    do
        rc = gnutls_bye(session, GNUTLS_SHUT_WR);
    while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
    (void)shutdown(fd, SHUT_WR);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (i = 0; i < 256; i++) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
    }
    close(fd);
}
