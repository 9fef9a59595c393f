/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* util.h - error reporting and I/O helpers of the p11tls tool. */
#ifndef P11TLS_CLI_UTIL_H
#define P11TLS_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* Prints the one error line for a failed p11tls call:
 *   p11tls: <what>: <p11tls_strerror(rc)> (<p11tls_last_error_detail()>)
 * and, if extra is not NULL, "; <extra>" before the detail. Must be called
 * right after the failing call (the detail is per-thread and short-lived).
 * Returns CLI_EXIT_FAILURE. */
int cli_fail(int rc, const char *extra, const char *what_fmt, ...)
    CLI_PRINTF(3, 4);

/* Prints "p11tls: <message>" and returns status. */
int cli_error(int status, const char *fmt, ...) CLI_PRINTF(2, 3);

/* Copies uri to buf for messages: any pin-value replaced by "***",
 * control characters by '?', truncated with "..." if too long. */
const char *cli_redact_uri(const char *uri, char *buf, size_t size);
#define CLI_URI_BUF 1024

/* Lower-case hex of data into a new string (free()), "" for empty. */
char *cli_hex(const uint8_t *data, size_t len);

/* Reads all of fd; *out is malloc'ed (free with free()). -1 on error. */
int cli_read_all(int fd, uint8_t **out, size_t *out_len);

/* Encodes DER as PEM with the given header ("CERTIFICATE") into a new
 * NUL-terminated string (free()). NULL on failure. */
char *cli_pem(const char *header, const uint8_t *der, size_t len);

#endif
