/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * mapfile.c — read the system-wide mapping file (format in mapfile.h).
 */
#define _GNU_SOURCE 1

#include "mapfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE64_CHARS \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

static int map_fail(struct authorized_error *err, unsigned line, int code, const char *msg)
{
    err->line = line;
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
    return code;
}

/* One non-comment line: "user:" then blanks then a value, nothing after.
 * Entries for other users are checked for syntax only. */
static int map_line(const char *s, size_t n, unsigned lineno, const char *user,
                    uid_t user_uid, struct authorized_list *list,
                    struct authorized_error *err)
{
    const char *colon = memchr(s, ':', n);
    if (colon == NULL || colon == s)
        return map_fail(err, lineno, AUTHORIZED_E_SYNTAX, "expected 'user: entry'");
    size_t ulen = (size_t)(colon - s);
    for (size_t i = 0; i < ulen; i++)
        if (s[i] == ' ' || s[i] == '\t')
            return map_fail(err, lineno, AUTHORIZED_E_SYNTAX, "blank in the user name");
    const char *v = colon + 1, *end = s + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    if (v == end)
        return map_fail(err, lineno, AUTHORIZED_E_SYNTAX, "no entry after the user name");
    int blanks = 0;
    for (const char *p = v; p < end; p++)
        blanks = blanks || *p == ' ' || *p == '\t';
    if (blanks || (*v != '/' && strspn(v, BASE64_CHARS) < (size_t)(end - v))) {
        /* Not a path nor base64: an OpenSSH key line, checked for every
         * user's entry. */
        struct authorized_list scratch = {NULL, 0, 0};
        int own = strlen(user) == ulen && memcmp(s, user, ulen) == 0;
        struct authorized_error inner = {0, ""};
        int rc = authorized_add_ssh(v, (size_t)(end - v), lineno,
                                    "entry is neither an absolute path, base64 nor an SSH "
                                    "key line",
                                    own ? list : &scratch, &inner);
        authorized_free(&scratch);
        return rc < 0 ? map_fail(err, lineno, rc, inner.msg) : 0;
    }
    if (strlen(user) != ulen || memcmp(s, user, ulen) != 0)
        return 0;

    struct authorized_error inner = {0, ""};
    int rc;
    if (*v == '/') {
        char *path = strndup(v, (size_t)(end - v));
        if (path == NULL)
            return map_fail(err, lineno, AUTHORIZED_E_MEMORY, "out of memory");
        rc = authorized_load_file(path, user_uid, list, &inner);
        if (rc < 0) {
            err->line = lineno;
            if (inner.line)
                snprintf(err->msg, sizeof(err->msg), "%s line %u: %s", path,
                         inner.line, inner.msg);
            else
                snprintf(err->msg, sizeof(err->msg), "%s: %s", path, inner.msg);
        }
        free(path);
        return rc;
    }
    rc = authorized_add_base64(v, (size_t)(end - v), list, &inner);
    if (rc < 0)
        map_fail(err, lineno, rc, inner.msg);
    return rc;
}

int mapfile_load(const char *path, uid_t map_owner, const char *user, uid_t user_uid,
                 struct authorized_list *list, struct authorized_error *err)
{
    char *buf;
    size_t len;
    int rc = authorized_read_file(path, map_owner, &buf, &len, err);
    if (rc < 0)
        return rc;
    if (memchr(buf, '\0', len)) {
        free(buf);
        return map_fail(err, 0, AUTHORIZED_E_SYNTAX, "NUL byte");
    }
    unsigned lineno = 0;
    for (char *line = buf; rc == 0 && line < buf + len;) {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : buf + len;
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        lineno++;
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
            n--;
        while (n > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            n--;
        }
        if (n > 0 && *line != '#') {
            line[n] = '\0'; /* the value may be used as a path */
            rc = map_line(line, n, lineno, user, user_uid, list, err);
        }
        line = next;
    }
    free(buf);
    return rc;
}
