/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * objuri.c — object URIs for pam_p11tls (see objuri.h). Plain string work
 * on RFC 7512 attributes, which are separated by ';' in the path and '&'
 * in the query and never contain those characters unescaped.
 */
#define _GNU_SOURCE 1

#include "objuri.h"

#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t n, cap;
    int oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* Calls keep(attr, len) for each attribute of s[0, n) split at sep, and
 * appends those it accepts, separated by sep, to b. *first tracks whether
 * a separator is needed. */
static void copy_attrs(struct buf *b, const char *s, size_t n, char sep,
                       int (*keep)(const char *, size_t, const void *), const void *arg,
                       int *first)
{
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *q = memchr(p, sep, (size_t)(end - p));
        const char *aend = q ? q : end;
        size_t alen = (size_t)(aend - p);
        if (alen > 0 && keep(p, alen, arg)) {
            if (!*first)
                put(b, &sep, 1);
            put(b, p, alen);
            *first = 0;
        }
        p = q ? q + 1 : end;
    }
}

static int has_prefix(const char *a, size_t n, const char *prefix)
{
    size_t l = strlen(prefix);
    return n >= l && memcmp(a, prefix, l) == 0;
}

static int not_type(const char *a, size_t n, const void *arg)
{
    (void)arg;
    return !has_prefix(a, n, "type=");
}

static int library_attr(const char *a, size_t n, const void *arg)
{
    (void)arg;
    return has_prefix(a, n, "library-");
}

static int module_attr(const char *a, size_t n, const void *arg)
{
    (void)arg;
    return has_prefix(a, n, "module-name=") || has_prefix(a, n, "module-path=");
}

char *object_uri_for(const char *listed_uri, const char *type, const char *config_uri)
{
    struct buf b = {NULL, 0, 0, 0};
    int first = 1;
    if (strncmp(listed_uri, "pkcs11:", 7) != 0)
        return NULL;
    const char *lpath = listed_uri + 7;
    put(&b, "pkcs11:", 7);
    copy_attrs(&b, lpath, strcspn(lpath, "?"), ';', not_type, NULL, &first);

    const char *cpath = NULL, *cquery = NULL;
    if (config_uri && strncmp(config_uri, "pkcs11:", 7) == 0) {
        cpath = config_uri + 7;
        cquery = strchr(cpath, '?');
        copy_attrs(&b, cpath, cquery ? (size_t)(cquery - cpath) : strlen(cpath), ';',
                   library_attr, NULL, &first);
    }
    if (!first)
        put(&b, ";", 1);
    put(&b, "type=", 5);
    put(&b, type, strlen(type));
    if (cquery) {
        int qfirst = 1;
        size_t mark = b.n;
        put(&b, "?", 1);
        copy_attrs(&b, cquery + 1, strlen(cquery + 1), '&', module_attr, NULL, &qfirst);
        if (qfirst && !b.oom) { /* nothing copied: drop the '?' */
            b.n = mark;
            b.p[mark] = '\0';
        }
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
