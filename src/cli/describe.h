/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* describe.h - what list, list-tokens and info show of a token or an
 * object, as text fields or JSON members: one place, so that a listing and
 * info say the same thing the same way. */
#ifndef P11TLS_CLI_DESCRIBE_H
#define P11TLS_CLI_DESCRIBE_H

#include <stdio.h>

#include <p11tls/p11tls.h>

#include "json.h"

/* Prints "<indent><name>: <value>\n"; control characters in the value
 * (token strings come from devices) are shown as '?'. NULL is "". */
void cli_field(FILE *f, const char *indent, const char *name, const char *value);

/* "RSA", "ECDSA", "Ed25519", "Ed448" for a P11TLS_ALG_*, else NULL. */
const char *cli_alg_name(int alg);

/* The fields of an object: URI, Class, Algorithm (keys), Label, ID, Token
 * (in that order, as before), then Bits and Flags for keys and, for a
 * certificate GnuTLS can parse, Subject, Issuer, Serial, Not before,
 * Not after (with "(expired)" when it is past) and Key. */
void cli_object_text(FILE *f, const char *indent, const p11tls_object_info *o);

/* The same as members of a JSON object the caller has begun: uri, class,
 * algorithm, label, id, token (as before), then attributes (names of the
 * P11TLS_OBJECT_* bits set), bits and key_algorithm (keys and
 * certificates), and for certificates subject, issuer, serial, not_before,
 * not_after (RFC 3339, UTC) and expired. 0 or P11TLS_E_MEMORY. */
int cli_object_json(json_writer *w, const p11tls_object_info *o);

/* One line that tells an object from others a URI also matches, for an
 * error message: a certificate's subject, serial, validity and token,
 * else its class and URI; control characters shown as '?'. */
void cli_object_brief(char *buf, size_t size, const p11tls_object_info *o);

/* Object flags (P11TLS_OBJECT_* bits) by name: a "Flags" text field, or a
 * JSON array of snake_case names. */
void cli_object_flags_text(FILE *f, const char *indent, unsigned long attributes);
void cli_object_flags_json(json_writer *w, unsigned long attributes);

/* Token flags (CK_TOKEN_INFO) by name: "RNG, login required, ..." as a
 * text field, or a JSON array of snake_case names. */
void cli_token_flags_text(FILE *f, const char *indent, unsigned long flags);
void cli_token_flags_json(json_writer *w, unsigned long flags);

#endif
