/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* verify.h - trust through PKCS#11 for the p11tls tool: 'p11tls verify',
 * and the --trust URIs of connect and serve. */
#ifndef P11TLS_CLI_VERIFY_H
#define P11TLS_CLI_VERIFY_H

#include <stddef.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "commands.h"

/* Adds the anchors of every --trust URI to list (p11tls_gnutls_trust_list_add
 * through env->ctx, with flags: P11TLS_TRUST_FOR_CLIENTS where the list
 * verifies TLS clients). Returns CLI_EXIT_OK, or CLI_EXIT_FAILURE with the
 * error printed (the URI, redacted, and p11tls's detail). */
int cli_trust_add(gnutls_x509_trust_list_t list, cli_env *env, unsigned flags);

/* The same for the trust list of cred (gnutls_certificate_get_trust_list). */
int cli_trust_add_to_cred(gnutls_certificate_credentials_t cred, cli_env *env, unsigned flags);

/* Why a verification status is not trusted, in words ("unknown issuer",
 * "distrusted", "expired", ...; comma-separated) into buf. */
const char *cli_trust_reasons(unsigned status, char *buf, size_t size);

/* verify: exit 0 trusted, 1 not trusted, 2 error. */
int cli_cmd_verify(cli_env *env);

#endif
