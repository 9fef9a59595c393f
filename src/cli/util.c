/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* util.c - error reporting and I/O helpers of the p11tls tool. */
#define _DEFAULT_SOURCE 1
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <p11tls/p11tls.h>

int cli_fail(int rc, const char *extra, const char *what_fmt, ...)
{
    /* Fetch the detail first: nothing below calls p11tls. */
    const char *detail = p11tls_last_error_detail();
    char what[2048];
    va_list ap;

    va_start(ap, what_fmt);
    vsnprintf(what, sizeof(what), what_fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "p11tls: %s: %s%s%s", what, p11tls_strerror(rc),
            extra ? "; " : "", extra ? extra : "");
    if (detail && *detail)
        fprintf(stderr, " (%s)", detail);
    fputc('\n', stderr);
    return CLI_EXIT_FAILURE;
}

int cli_error(int status, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("p11tls: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
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
