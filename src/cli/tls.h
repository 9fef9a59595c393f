/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* tls.h - what 'p11tls serve' and 'p11tls connect' share: the token
 * identity as GnuTLS credentials, the handshake, its one-line summary. */
#ifndef P11TLS_CLI_TLS_H
#define P11TLS_CLI_TLS_H

#include <netinet/in.h>

#include <gnutls/gnutls.h>

#include "commands.h"

/* Every wait on the peer is bounded by this. */
#define CLI_TLS_TIMEOUT_MS 10000

/* A TCP socket (close-on-exec) in *out_fd and 127.0.0.1:port in *sa, the
 * only address serve and connect use. Returns CLI_EXIT_*, error printed. */
int cli_tls_loopback_socket(unsigned port, int *out_fd, struct sockaddr_in *sa);

/* Adds the key named by key_uri and the certificate env->args->cert to cred.
 * A pkcs11: certificate comes with its chain from the token
 * (p11tls_gnutls_certificate_set_key); a PEM file is taken as the chain.
 * With --ca, also trusts that file's CAs. Returns CLI_EXIT_*, error printed. */
int cli_tls_load_identity(gnutls_certificate_credentials_t cred, cli_env *env,
                          const char *key_uri);

/* Trusts the CAs of the PEM file ca in cred. Returns CLI_EXIT_*. */
int cli_tls_trust(gnutls_certificate_credentials_t cred, const char *ca);

/* Runs the handshake to completion or failure (bounded by the session's
 * handshake timeout). Returns 0 or a GnuTLS error code; on a verification
 * failure, writes the reason into why (NUL-terminated). */
int cli_tls_handshake(gnutls_session_t session, char *why, size_t why_size);

/* "TLS1.3 ECDSA-SECP256R1-SHA256" (protocol, then signature algorithm, or
 * the key exchange when no signature was made) into buf. */
const char *cli_tls_summary(gnutls_session_t session, char *buf, size_t size);

/* Sends all of data; returns 0 or a GnuTLS error code. */
int cli_tls_send(gnutls_session_t session, const char *data, size_t len);

/* close_notify, then half-close and drain (bounded) so the peer reads all
 * we sent before the socket closes; closes fd. */
void cli_tls_close(gnutls_session_t session, int fd);

#endif
