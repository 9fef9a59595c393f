/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * authorized.c — parse authorized files into a list of public keys (see
 * authorized.h for the format and the rules).
 *
 * The text is scanned line by line here: a line outside a PEM block is an
 * OpenSSH public-key line (sshkey.c) or an error; only the content of each
 * PEM block is handed to GnuTLS, so that anything else in the file (a stray
 * private key, a truncated block, garbage) is an error with a line number
 * instead of being skipped silently, as gnutls_x509_crt_list_import2 would.
 */
#define _GNU_SOURCE 1

#include "authorized.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "sshkey.h"

/* More keys than any user needs; bounds the work a hostile file causes. */
#define AUTHORIZED_MAX_KEYS 1024

static int fail(struct authorized_error *err, unsigned line, int code,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct authorized_error *err, unsigned line, int code,
                const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->line = line;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void authorized_free(struct authorized_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++)
        free(list->keys[i].spki);
    free(list->keys);
    memset(list, 0, sizeof(*list));
}

static int append_key(struct authorized_list *list, const gnutls_datum_t *spki)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 4;
        struct authorized_key *k = realloc(list->keys, cap * sizeof(*k));
        if (k == NULL)
            return AUTHORIZED_E_MEMORY;
        list->keys = k;
        list->cap = cap;
    }
    uint8_t *copy = malloc(spki->size ? spki->size : 1);
    if (copy == NULL)
        return AUTHORIZED_E_MEMORY;
    memcpy(copy, spki->data, spki->size);
    list->keys[list->n].spki = copy;
    list->keys[list->n].len = spki->size;
    list->n++;
    return 0;
}

/* DER certificate or SubjectPublicKeyInfo -> normalized DER SPKI (GnuTLS
 * re-encodes it, so equal keys compare equal byte for byte). */
static int spki_from_der(const gnutls_datum_t *der, int is_cert, gnutls_datum_t *spki)
{
    gnutls_pubkey_t pk = NULL;
    gnutls_x509_crt_t crt = NULL;
    int rc = gnutls_pubkey_init(&pk);
    if (rc < 0)
        return rc;
    if (is_cert) {
        rc = gnutls_x509_crt_init(&crt);
        if (rc >= 0)
            rc = gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER);
        if (rc >= 0)
            rc = gnutls_pubkey_import_x509(pk, crt, 0);
    } else {
        rc = gnutls_pubkey_import(pk, der, GNUTLS_X509_FMT_DER);
    }
    if (rc >= 0)
        rc = gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, spki);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    gnutls_pubkey_deinit(pk);
    return rc < 0 ? rc : 0;
}

static int add_der(struct authorized_list *list, const gnutls_datum_t *der,
                   int is_cert, unsigned line, struct authorized_error *err)
{
    gnutls_datum_t spki = {NULL, 0};
    if (list->n >= AUTHORIZED_MAX_KEYS)
        return fail(err, line, AUTHORIZED_E_SYNTAX, "more than %d keys",
                    AUTHORIZED_MAX_KEYS);
    int rc = spki_from_der(der, is_cert, &spki);
    if (rc < 0)
        return fail(err, line, AUTHORIZED_E_SYNTAX, "invalid %s: %s",
                    is_cert ? "certificate" : "public key", gnutls_strerror(rc));
    rc = append_key(list, &spki);
    gnutls_free(spki.data);
    return rc < 0 ? fail(err, line, rc, "out of memory") : 0;
}

int authorized_add_ssh(const char *line, size_t len, unsigned lineno, const char *not_ssh,
                       struct authorized_list *list, struct authorized_error *err)
{
    char msg[sizeof(err->msg)];
    gnutls_datum_t spki = {NULL, 0};
    if (list->n >= AUTHORIZED_MAX_KEYS)
        return fail(err, lineno, AUTHORIZED_E_SYNTAX, "more than %d keys",
                    AUTHORIZED_MAX_KEYS);
    switch (sshkey_parse_line(line, len, (long long)time(NULL), &spki, msg, sizeof(msg))) {
    case SSHKEY_NOT_SSH:
        return fail(err, lineno, AUTHORIZED_E_SYNTAX, "%s", not_ssh);
    case SSHKEY_SKIPPED:
        return 0;
    case SSHKEY_KEY: {
        int rc = append_key(list, &spki);
        gnutls_free(spki.data);
        return rc < 0 ? fail(err, lineno, rc, "out of memory") : 1;
    }
    default:
        return fail(err, lineno, AUTHORIZED_E_SYNTAX, "%s", msg);
    }
}

/* The two PEM block types accepted, as they appear after "-----BEGIN ". */
static const char *const block_types[] = {"CERTIFICATE", "PUBLIC KEY"};

static int starts_with(const char *s, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    return n >= p && memcmp(s, prefix, p) == 0;
}

/* A PEM armor line "-----<word> TYPE-----": returns the index in
 * block_types, -2 for an armor line of another type, -1 if not armor. */
static int armor_type(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    if (!starts_with(s, n, "-----") || n < 10 + w + 1 ||
        memcmp(s + 5, word, w) != 0 || s[5 + w] != ' ' ||
        memcmp(s + n - 5, "-----", 5) != 0)
        return -1;
    const char *type = s + 5 + w + 1;
    size_t tlen = n - 5 - w - 1 - 5;
    for (size_t i = 0; i < sizeof(block_types) / sizeof(block_types[0]); i++)
        if (strlen(block_types[i]) == tlen && memcmp(type, block_types[i], tlen) == 0)
            return (int)i;
    return -2;
}

/* Decodes the PEM block data[off, end) of the given type and adds its key.
 * The block is copied so GnuTLS sees a NUL-terminated string. */
static int add_block(const char *data, size_t off, size_t end, int type,
                     unsigned line, struct authorized_list *list,
                     struct authorized_error *err)
{
    char *copy = malloc(end - off + 1);
    if (copy == NULL)
        return fail(err, line, AUTHORIZED_E_MEMORY, "out of memory");
    memcpy(copy, data + off, end - off);
    copy[end - off] = '\0';
    gnutls_datum_t pem = {(unsigned char *)copy, (unsigned)(end - off)};
    gnutls_datum_t der = {NULL, 0};
    int rc = gnutls_pem_base64_decode2(block_types[type], &pem, &der);
    free(copy);
    if (rc < 0)
        return fail(err, line, AUTHORIZED_E_SYNTAX, "bad base64 in the %s block: %s",
                    block_types[type], gnutls_strerror(rc));
    rc = add_der(list, &der, type == 0, line, err);
    gnutls_free(der.data);
    return rc;
}

int authorized_parse(const char *data, size_t len, struct authorized_list *list,
                     struct authorized_error *err)
{
    size_t pos = 0, block_off = 0;
    unsigned lineno = 0, block_line = 0;
    int block = -1; /* type of the open PEM block, -1 outside */

    if (data == NULL && len > 0)
        return fail(err, 0, AUTHORIZED_E_SYNTAX, "no data");
    if (len > AUTHORIZED_MAX_FILE)
        return fail(err, 0, AUTHORIZED_E_SYNTAX, "larger than %d bytes",
                    AUTHORIZED_MAX_FILE);
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        size_t next = pos + llen + (nl ? 1 : 0);
        size_t s = 0, t = llen;

        lineno++;
        if (memchr(line, '\0', llen))
            return fail(err, lineno, AUTHORIZED_E_SYNTAX, "NUL byte");
        while (t > 0 && (line[t - 1] == ' ' || line[t - 1] == '\t' || line[t - 1] == '\r'))
            t--;
        while (s < t && (line[s] == ' ' || line[s] == '\t'))
            s++;

        if (block < 0) {
            if (s == t || line[s] == '#') {
                pos = next;
                continue;
            }
            int ty = armor_type(line + s, t - s, "BEGIN");
            if (ty == -2)
                return fail(err, lineno, AUTHORIZED_E_SYNTAX,
                            "unsupported PEM block %.*s (only CERTIFICATE and PUBLIC KEY)",
                            (int)(t - s > 60 ? 60 : t - s), line + s);
            if (ty < 0) {
                int rc = authorized_add_ssh(
                    line + s, t - s, lineno,
                    "text outside a PEM block (not a comment, not an SSH key line)", list,
                    err);
                if (rc < 0)
                    return rc;
                pos = next;
                continue;
            }
            block = ty;
            block_off = pos + s;
            block_line = lineno;
        } else {
            int ty = armor_type(line + s, t - s, "END");
            if (ty == block) {
                int rc = add_block(data, block_off, pos + t, block, block_line, list, err);
                if (rc < 0)
                    return rc;
                block = -1;
            } else if (ty != -1 || armor_type(line + s, t - s, "BEGIN") != -1) {
                return fail(err, lineno, AUTHORIZED_E_SYNTAX,
                            "unexpected armor line inside the %s block of line %u",
                            block_types[block], block_line);
            }
        }
        pos = next;
    }
    if (block >= 0)
        return fail(err, block_line, AUTHORIZED_E_SYNTAX, "%s block not terminated",
                    block_types[block]);
    return 0;
}

int authorized_add_base64(const char *b64, size_t len, struct authorized_list *list,
                          struct authorized_error *err)
{
    gnutls_datum_t in = {(unsigned char *)b64, (unsigned)len};
    gnutls_datum_t der = {NULL, 0};
    if (len == 0 || len > AUTHORIZED_MAX_FILE)
        return fail(err, 0, AUTHORIZED_E_SYNTAX, "empty or oversized base64 entry");
    int rc = gnutls_base64_decode2(&in, &der);
    if (rc < 0)
        return fail(err, 0, AUTHORIZED_E_SYNTAX, "bad base64: %s", gnutls_strerror(rc));
    /* A certificate is tried first: an SPKI never parses as one. */
    gnutls_datum_t spki = {NULL, 0};
    int is_cert = spki_from_der(&der, 1, &spki) == 0;
    gnutls_free(spki.data);
    rc = add_der(list, &der, is_cert, 0, err);
    gnutls_free(der.data);
    return rc;
}

int authorized_read_file(const char *path, uid_t owner, char **out, size_t *out_len,
                         struct authorized_error *err)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    *out = NULL;
    *out_len = 0;

    /* O_NONBLOCK: opening a FIFO planted at the path must not hang login. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return fail(err, 0, AUTHORIZED_E_IO, "cannot open: %s", strerror(errno));
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return fail(err, 0, AUTHORIZED_E_IO, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, 0, AUTHORIZED_E_IO, "not a regular file");
    }
    if (st.st_uid != 0 && st.st_uid != owner) {
        close(fd);
        return fail(err, 0, AUTHORIZED_E_UNSAFE, "owned by uid %lu, not by root or uid %lu",
                    (unsigned long)st.st_uid, (unsigned long)owner);
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        close(fd);
        return fail(err, 0, AUTHORIZED_E_UNSAFE, "writable by group or others (mode %03o)",
                    (unsigned)(st.st_mode & 0777));
    }
    if (st.st_size > AUTHORIZED_MAX_FILE) {
        close(fd);
        return fail(err, 0, AUTHORIZED_E_IO, "larger than %d bytes", AUTHORIZED_MAX_FILE);
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return fail(err, 0, AUTHORIZED_E_MEMORY, "out of memory");
    }
    /* Read what fstat announced; a file that grows meanwhile is cut there. */
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return fail(err, 0, AUTHORIZED_E_IO, "cannot read: %s", strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
    return 0;
}

int authorized_load_file(const char *path, uid_t owner, struct authorized_list *list,
                         struct authorized_error *err)
{
    char *buf;
    size_t len;
    int rc = authorized_read_file(path, owner, &buf, &len, err);
    if (rc < 0)
        return rc;
    rc = authorized_parse(buf, len, list, err);
    free(buf);
    return rc;
}

int authorized_match_cert(const struct authorized_list *list, const uint8_t *der,
                          size_t der_len)
{
    gnutls_datum_t d = {(unsigned char *)der, (unsigned)der_len};
    gnutls_datum_t spki = {NULL, 0};
    if (spki_from_der(&d, 1, &spki) < 0)
        return -1;
    int found = 0;
    for (size_t i = 0; i < list->n && !found; i++)
        found = list->keys[i].len == spki.size &&
                memcmp(list->keys[i].spki, spki.data, spki.size) == 0;
    gnutls_free(spki.data);
    return found;
}
