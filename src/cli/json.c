/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* json.c - a tiny streaming JSON writer for the p11tls command-line tool. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

void json_init(json_writer *w, FILE *f)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
}

/* Called before every value and every key. */
static void json_sep(json_writer *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->count[w->depth]++ > 0)
        fputc(',', w->f);
}

static void json_push(json_writer *w, char c)
{
    json_sep(w);
    if (w->depth + 1 >= JSON_MAX_DEPTH)
        abort();
    fputc(c, w->f);
    w->depth++;
    w->count[w->depth] = 0;
}

static void json_pop(json_writer *w, char c)
{
    if (w->depth <= 0)
        abort();
    w->depth--;
    fputc(c, w->f);
}

void json_begin_object(json_writer *w) { json_push(w, '{'); }
void json_end_object(json_writer *w) { json_pop(w, '}'); }
void json_begin_array(json_writer *w) { json_push(w, '['); }
void json_end_array(json_writer *w) { json_pop(w, ']'); }

void json_key(json_writer *w, const char *key)
{
    json_sep(w);
    json_write_escaped(w->f, key, strlen(key));
    fputc(':', w->f);
    w->after_key = 1;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n, i;
    unsigned long cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void json_write_escaped(FILE *f, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n;

    fputc('"', f);
    while (i < len) {
        unsigned char c = s[i];
        switch (c) {
        case '"': fputs("\\\"", f); i++; continue;
        case '\\': fputs("\\\\", f); i++; continue;
        case '\b': fputs("\\b", f); i++; continue;
        case '\f': fputs("\\f", f); i++; continue;
        case '\n': fputs("\\n", f); i++; continue;
        case '\r': fputs("\\r", f); i++; continue;
        case '\t': fputs("\\t", f); i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
            i++;
            continue;
        }
        n = utf8_len(s + i, len - i);
        if (n == 0) {
            fputs("\\ufffd", f);
            i++;
            continue;
        }
        fwrite(s + i, 1, n, f);
        i += n;
    }
    fputc('"', f);
}

void json_string_n(json_writer *w, const char *s, size_t len)
{
    json_sep(w);
    if (s == NULL)
        fputs("null", w->f);
    else
        json_write_escaped(w->f, s, len);
}

void json_string(json_writer *w, const char *s)
{
    json_string_n(w, s, s ? strlen(s) : 0);
}

void json_int(json_writer *w, long long v)
{
    json_sep(w);
    fprintf(w->f, "%lld", v);
}

void json_uint(json_writer *w, unsigned long long v)
{
    json_sep(w);
    fprintf(w->f, "%llu", v);
}

void json_bool(json_writer *w, int v)
{
    json_sep(w);
    fputs(v ? "true" : "false", w->f);
}

void json_null(json_writer *w)
{
    json_sep(w);
    fputs("null", w->f);
}

void json_finish(json_writer *w)
{
    fputc('\n', w->f);
}
