/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/tls.c: full TLS handshakes per second with the server key on the
 * token (p11tls, GnuTLS built-in) or in software (the same key as PEM).
 *
 *   bench_tls --impl p11tls|gnutls|pem --alg rsa|ecdsa --vers 1.2|1.3 [--seconds S]
 *
 * Keys: BENCH_TLS_DIR/bench-<alg>-key.pem and bench-<alg>-cert.pem; the
 * same private key is on the token labelled bench-<alg> (bench/run.sh
 * imports it). Prints tls,<alg>-tls<vers>,<impl>,,<handshakes/s>,hs/s.
 *
 * Client and server run in this one thread over a non-blocking socketpair,
 * taking turns: no scheduler or lock noise, and the client's share of the
 * time is the same for every server configuration (it does not verify the
 * certificate, so its cost is mostly the key exchange). Each handshake is
 * a new full handshake (no tickets, no resumption). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <p11tls/gnutls.h>

#include "common.h"

static gnutls_certificate_credentials_t server_creds(const char *impl, const char *alg)
{
    const char *dir = getenv("BENCH_TLS_DIR");
    if (!dir)
        die("BENCH_TLS_DIR is not set (run bench/run.sh)");
    char cert[1024], keyfile[1024], label[64], uri[512];
    snprintf(cert, sizeof cert, "%s/bench-%s-cert.pem", dir, alg);
    snprintf(keyfile, sizeof keyfile, "%s/bench-%s-key.pem", dir, alg);
    snprintf(label, sizeof label, "bench-%s", alg);
    bench_key_uri(label, uri, sizeof uri);

    gnutls_privkey_t pkey;
    gnutls_privkey_init(&pkey);
    int rc;
    if (strcmp(impl, "p11tls") == 0) {
        rc = p11tls_gnutls_privkey_import(pkey, bench_p11tls_ctx(), uri, 0);
    } else if (strcmp(impl, "gnutls") == 0) {
        bench_gnutls_pkcs11_init();
        rc = gnutls_privkey_import_url(pkey, uri, 0);
    } else if (strcmp(impl, "pem") == 0) {
        gnutls_datum_t d;
        rc = gnutls_load_file(keyfile, &d);
        if (rc >= 0) {
            rc = gnutls_privkey_import_x509_raw(pkey, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
            gnutls_free(d.data);
        }
    } else {
        die("unknown --impl %s", impl);
    }
    if (rc < 0)
        die("%s key: %s", impl, gnutls_strerror(rc));

    static gnutls_pcert_st pcerts[4];
    unsigned n = 4;
    rc = gnutls_pcert_list_import_x509_file(pcerts, &n, cert, GNUTLS_X509_FMT_PEM, NULL, NULL, 0);
    if (rc < 0)
        die("%s: %s", cert, gnutls_strerror(rc));
    gnutls_certificate_credentials_t c;
    gnutls_certificate_allocate_credentials(&c);
    rc = gnutls_certificate_set_key(c, NULL, 0, pcerts, n, pkey);
    if (rc < 0)
        die("gnutls_certificate_set_key: %s", gnutls_strerror(rc));
    return c;
}

static gnutls_session_t new_session(unsigned flags, gnutls_certificate_credentials_t c,
                                    const char *prio, int fd)
{
    gnutls_session_t s;
    gnutls_init(&s, flags | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS);
    const char *err = NULL;
    if (gnutls_priority_set_direct(s, prio, &err) < 0)
        die("priority %s at %s", prio, err ? err : "?");
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, c);
    gnutls_transport_set_int(s, fd);
    return s;
}

/* Advances a handshake that is not finished; returns 1 once done. */
static int step(gnutls_session_t s, int *done)
{
    if (*done)
        return 1;
    int rc = gnutls_handshake(s);
    if (rc == 0)
        *done = 1;
    else if (gnutls_error_is_fatal(rc))
        die("handshake: %s", gnutls_strerror(rc));
    return *done;
}

static void handshake(gnutls_certificate_credentials_t sc, gnutls_certificate_credentials_t cc,
                      const char *prio)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        die("socketpair: %s", strerror(errno));
    gnutls_session_t server = new_session(GNUTLS_SERVER, sc, prio, sv[0]);
    gnutls_session_t client = new_session(GNUTLS_CLIENT, cc, prio, sv[1]);
    int sdone = 0, cdone = 0;
    for (int turns = 0; !(step(client, &cdone) & step(server, &sdone)); ++turns)
        if (turns > 1000)
            die("handshake does not progress");
    gnutls_deinit(client);
    gnutls_deinit(server);
    close(sv[0]);
    close(sv[1]);
}

int main(int argc, char **argv)
{
    const char *impl = arg_str(argc, argv, "--impl", "p11tls");
    const char *alg = arg_str(argc, argv, "--alg", "ecdsa");
    const char *vers = arg_str(argc, argv, "--vers", "1.3");
    double seconds = arg_double(argc, argv, "--seconds", 1.0);
    const char *prio;
    if (strcmp(vers, "1.3") == 0)
        prio = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
    else if (strcmp(vers, "1.2") == 0)
        prio = "NORMAL:-VERS-ALL:+VERS-TLS1.2";
    else
        die("--vers must be 1.2 or 1.3");
    if (strcmp(alg, "rsa") != 0 && strcmp(alg, "ecdsa") != 0)
        die("--alg must be rsa or ecdsa");

    gnutls_certificate_credentials_t sc = server_creds(impl, alg), cc;
    gnutls_certificate_allocate_credentials(&cc);
    for (int i = 0; i < 3; ++i) /* warm-up: sessions, caches */
        handshake(sc, cc, prio);
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(seconds * 1e9), t = t0;
    long n = 0;
    while (t < deadline) {
        handshake(sc, cc, prio);
        ++n;
        t = now_ns();
    }
    char cas[32];
    snprintf(cas, sizeof cas, "%s-tls%s", alg, vers);
    emit("tls", cas, impl, "", (double)n * 1e9 / (double)(t - t0), "hs/s");
    gnutls_certificate_free_credentials(cc);
    gnutls_certificate_free_credentials(sc);
    return 0;
}
