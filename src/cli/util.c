/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* util.c - error reporting and I/O helpers of the p11tls tool. */
#define _DEFAULT_SOURCE 1
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <p11tls/p11tls.h>

/* The tool runs one thread (serve's workers are processes). */
static cli_error_record last_error;

const cli_error_record *cli_last_error(void) { return &last_error; }

int cli_exit_status(int rc)
{
    switch (rc) {
    /* No token matching the URI is as much "nothing matches" as no object
     * on it: a misspelt token= exits 3 from every command. */
    case P11TLS_E_TOKEN_NOT_PRESENT:
    case P11TLS_E_NOT_FOUND: return CLI_EXIT_NOT_FOUND;
    case P11TLS_E_AMBIGUOUS: return CLI_EXIT_AMBIGUOUS;
    default: return CLI_EXIT_FAILURE;
    }
}

/* Prints "p11tls: <line>" and records the first error. */
static int report(int status, const char *name, int code, const char *line)
{
    fflush(stdout);
    fprintf(stderr, "p11tls: %s\n", line);
    if (last_error.status == CLI_EXIT_OK && status != CLI_EXIT_OK) {
        last_error.status = status;
        last_error.name = name;
        last_error.code = code;
        snprintf(last_error.detail, sizeof(last_error.detail), "%s", line);
    }
    return status;
}

int cli_fail(int rc, const char *extra, const char *what_fmt, ...)
{
    /* Fetch the detail first: nothing below calls p11tls. */
    const char *detail = p11tls_last_error_detail();
    const char *name = p11tls_strerror_name(rc);
    char what[2048], line[4096];
    va_list ap;

    va_start(ap, what_fmt);
    vsnprintf(what, sizeof(what), what_fmt, ap);
    va_end(ap);
    snprintf(line, sizeof(line), "%s: %s%s%s%s%s%s", what, p11tls_strerror(rc),
             extra ? "; " : "", extra ? extra : "", detail && *detail ? " (" : "",
             detail && *detail ? detail : "", detail && *detail ? ")" : "");
    return report(cli_exit_status(rc), name ? name : CLI_ERROR_FAILURE, rc, line);
}

int cli_error(int status, const char *fmt, ...)
{
    char line[4096];
    const char *name = CLI_ERROR_FAILURE;
    int code = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (status == CLI_EXIT_USAGE) {
        name = CLI_ERROR_USAGE;
    } else if (status == CLI_EXIT_NOT_FOUND) {
        code = P11TLS_E_NOT_FOUND;
        name = p11tls_strerror_name(code);
    } else if (status == CLI_EXIT_AMBIGUOUS) {
        code = P11TLS_E_AMBIGUOUS;
        name = p11tls_strerror_name(code);
    }
    return report(status, name, code, line);
}

const char *cli_redact_uri(const char *uri, char *buf, size_t size)
{
    static const char key[] = "pin-value=";
    size_t o = 0;
    const char *s = uri;

    if (size == 0)
        return "";
    if (uri == NULL) {
        snprintf(buf, size, "(none)");
        return buf;
    }
    while (*s && o + 1 < size) {
        if (strncasecmp(s, key, sizeof(key) - 1) == 0) {
            const char *r = "pin-value=***";
            while (*r && o + 1 < size)
                buf[o++] = *r++;
            s += sizeof(key) - 1;
            while (*s && *s != ';' && *s != '&' && *s != '?')
                s++;
            continue;
        }
        /* keep the error on one line */
        buf[o++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
        s++;
    }
    buf[o] = '\0';
    if (*s && size > 4) /* truncated */
        memcpy(buf + size - 4, "...", 4);
    return buf;
}

char *cli_hex(const uint8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * len + 1);
    size_t i;
    if (!s)
        return NULL;
    for (i = 0; i < len; i++) {
        s[2 * i] = digits[data[i] >> 4];
        s[2 * i + 1] = digits[data[i] & 15];
    }
    s[2 * len] = '\0';
    return s;
}

int cli_read_all(int fd, uint8_t **out, size_t *out_len)
{
    size_t cap = 65536, len = 0;
    uint8_t *buf = malloc(cap), *nb;

    if (!buf)
        return -1;
    for (;;) {
        ssize_t r;
        if (len == cap) {
            if (cap > ((size_t)-1) / 2 || (nb = realloc(buf, cap * 2)) == NULL) {
                free(buf);
                errno = ENOMEM;
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            free(buf);
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int cli_read_file(const char *path, const char *what, gnutls_datum_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc, err;
    uint8_t *data = NULL;
    size_t len = 0;

    out->data = NULL;
    out->size = 0;
    if (fd < 0)
        return cli_error(CLI_EXIT_FAILURE, "%s '%s': %s", what, path, strerror(errno));
    rc = cli_read_all(fd, &data, &len);
    err = errno;
    close(fd);
    if (rc != 0)
        return cli_error(CLI_EXIT_FAILURE, "%s '%s': %s", what, path, strerror(err));
    if (len > 0x7fffffff) {
        free(data);
        return cli_error(CLI_EXIT_FAILURE, "%s '%s': too large", what, path);
    }
    out->data = data;
    out->size = (unsigned)len;
    return CLI_EXIT_OK;
}

char *cli_pem(const char *header, const uint8_t *der, size_t len)
{
    gnutls_datum_t in, pem = {NULL, 0};
    char *s;

    in.data = (unsigned char *)der;
    in.size = (unsigned int)len;
    if (len > 0x7fffffff || gnutls_pem_base64_encode2(header, &in, &pem) < 0)
        return NULL;
    s = malloc(pem.size + 1);
    if (s) {
        memcpy(s, pem.data, pem.size);
        s[pem.size] = '\0';
    }
    gnutls_free(pem.data);
    return s;
}
