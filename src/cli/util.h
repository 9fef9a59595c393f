/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* util.h - error reporting and I/O helpers of the p11tls tool. */
#ifndef P11TLS_CLI_UTIL_H
#define P11TLS_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <gnutls/gnutls.h>

/* Exit statuses: the one table, documented in p11tls(1), EXIT STATUS.
 * Commands return them; cli_fail() picks one from the P11TLS_E_* code. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1   /* any other failure */
#define CLI_EXIT_USAGE 2     /* bad command line */
#define CLI_EXIT_NOT_FOUND 3 /* the URI matches nothing: no token, no object */
#define CLI_EXIT_AMBIGUOUS 4 /* it matches more than the one object needed */

/* Stable names of the tool's own errors in --json error documents; library
 * failures are named by p11tls_strerror_name(). */
#define CLI_ERROR_USAGE "P11TLS_CLI_E_USAGE"
#define CLI_ERROR_FAILURE "P11TLS_CLI_E_FAILURE"

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* Prints the one error line for a failed p11tls call:
 *   p11tls: <what>: <p11tls_strerror(rc)> (<p11tls_last_error_detail()>)
 * and, if extra is not NULL, "; <extra>" before the detail. Must be called
 * right after the failing call (the detail is per-thread and short-lived).
 * Records the error (cli_last_error) and returns cli_exit_status(rc). */
int cli_fail(int rc, const char *extra, const char *what_fmt, ...)
    CLI_PRINTF(3, 4);

/* Prints "p11tls: <message>", records it and returns status. */
int cli_error(int status, const char *fmt, ...) CLI_PRINTF(2, 3);

/* The exit status for a P11TLS_E_* code (CLI_EXIT_FAILURE for most). */
int cli_exit_status(int rc);

/* The first error of the run, for the --json error document main.c writes
 * (one place, so every command gets it by failing through cli_fail() or
 * cli_error()). Later errors are only printed: the first is the cause. */
typedef struct cli_error_record {
    int status;        /* CLI_EXIT_*; CLI_EXIT_OK: nothing recorded */
    const char *name;  /* P11TLS_E_* name, or CLI_ERROR_* */
    int code;          /* the P11TLS_E_* code; 0 for the tool's own errors */
    char detail[2048]; /* the line printed, without "p11tls: " */
} cli_error_record;
const cli_error_record *cli_last_error(void);

/* Copies uri to buf for messages: any pin-value replaced by "***",
 * control characters by '?', truncated with "..." if too long. */
const char *cli_redact_uri(const char *uri, char *buf, size_t size);
#define CLI_URI_BUF 1024

/* Lower-case hex of data into a new string (free()), "" for empty. */
char *cli_hex(const uint8_t *data, size_t len);

/* Reads all of fd; *out is malloc'ed (free with free()). -1 on error. */
int cli_read_all(int fd, uint8_t **out, size_t *out_len);

/* Reads the file at path into *out, for GnuTLS (free out->data with
 * free()). On failure prints "p11tls: <what> '<path>': <strerror>" (such
 * as "No such file or directory") and returns CLI_EXIT_FAILURE; else
 * CLI_EXIT_OK. */
int cli_read_file(const char *path, const char *what, gnutls_datum_t *out);

/* Encodes DER as PEM with the given header ("CERTIFICATE") into a new
 * NUL-terminated string (free()). NULL on failure. */
char *cli_pem(const char *header, const uint8_t *der, size_t len);

#endif
