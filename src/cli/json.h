/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* json.h - a tiny streaming JSON writer for the p11tls command-line tool. */
#ifndef P11TLS_CLI_JSON_H
#define P11TLS_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

/* Writes one JSON document to f. Commas are inserted automatically: call
 * json_key() before each value inside an object, nothing inside an array.
 * Nesting deeper than JSON_MAX_DEPTH is a programming error (abort). */
typedef struct json_writer {
    FILE *f;
    int depth;
    int count[JSON_MAX_DEPTH]; /* values written so far at each level */
    int after_key;             /* a key was written; the value comes next */
} json_writer;

void json_init(json_writer *w, FILE *f);
void json_begin_object(json_writer *w);
void json_end_object(json_writer *w);
void json_begin_array(json_writer *w);
void json_end_array(json_writer *w);
void json_key(json_writer *w, const char *key);
/* NULL is written as null. Invalid UTF-8 bytes become U+FFFD. */
void json_string(json_writer *w, const char *s);
void json_string_n(json_writer *w, const char *s, size_t len);
void json_int(json_writer *w, long long v);
void json_uint(json_writer *w, unsigned long long v);
void json_bool(json_writer *w, int v);
void json_null(json_writer *w);
/* Ends the document with a newline. */
void json_finish(json_writer *w);

/* Writes s to f as a JSON string literal (with quotes). */
void json_write_escaped(FILE *f, const char *s, size_t len);

#endif
