/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* uriattr.c - see uriattr.h. */
#include "uriattr.h"

#include <string.h>

/* Calls fn on each name=value element of the URI's path (the part before
 * '?', elements separated by ';'), with the name and value lengths; stops
 * when fn returns non-zero and returns that. */
typedef int (*attr_fn)(void *arg, const char *name, size_t name_len, const char *value,
                       size_t value_len);

static int each_attr(const char *uri, attr_fn fn, void *arg)
{
    const char *p, *end;

    if (!uri)
        return 0;
    p = strncmp(uri, "pkcs11:", 7) == 0 ? uri + 7 : uri;
    end = p + strcspn(p, "?");
    while (p < end) {
        size_t n = strcspn(p, ";?");
        const char *eq = memchr(p, '=', n);
        int rc;
        if (eq) {
            rc = fn(arg, p, (size_t)(eq - p), eq + 1, n - (size_t)(eq - p) - 1);
            if (rc)
                return rc;
        }
        p += n + 1;
    }
    return 0;
}

typedef struct want {
    const char *name;
    char *buf;
    size_t size;
    const char *found;
} want;

static int match_one(void *arg, const char *name, size_t name_len, const char *value,
                     size_t value_len)
{
    want *w = arg;
    if (strlen(w->name) != name_len || strncmp(name, w->name, name_len) != 0)
        return 0;
    if (value_len < w->size) {
        memcpy(w->buf, value, value_len);
        w->buf[value_len] = '\0';
        w->found = w->buf;
    }
    return 1;
}

const char *cli_uri_attr(const char *uri, const char *name, char *buf, size_t size)
{
    want w = {name, buf, size, NULL};
    each_attr(uri, match_one, &w);
    return w.found;
}

/* 1 if the name is one of the NULL-terminated names. */
static int in(const char *name, size_t len, const char *const *names)
{
    for (; *names; names++)
        if (len == strlen(*names) && strncmp(name, *names, len) == 0)
            return 1;
    return 0;
}

static int object_attr(void *arg, const char *name, size_t name_len, const char *value,
                       size_t value_len)
{
    static const char *const names[] = {"object", "id", "type", NULL};
    (void)arg, (void)value, (void)value_len;
    return in(name, name_len, names);
}

int cli_uri_names_object(const char *uri) { return each_attr(uri, object_attr, NULL); }
