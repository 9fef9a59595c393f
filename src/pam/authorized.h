/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * authorized.h — the list of public keys a user may log in with.
 *
 * An authorized file holds PEM blocks, "CERTIFICATE" or "PUBLIC KEY", and
 * OpenSSH public-key lines as in ~/.ssh/authorized_keys (sshkey.h), with
 * blank lines and '#' comment lines between them; nothing else. Every entry
 * is reduced to its DER SubjectPublicKeyInfo: a token certificate is
 * authorized when its public key is in the list, so re-issued certificates
 * for the same key keep working and a PUBLIC KEY entry needs no certificate.
 *
 * The parser works on memory (authorized_parse) so that it can be fuzzed
 * (tests/fuzz/authorized_fuzz.c); authorized_load_file adds the checks that
 * only make sense for a file a PAM module reads as root.
 *
 * Not thread-safe per list; no global state.
 */
#ifndef PAM_P11TLS_AUTHORIZED_H
#define PAM_P11TLS_AUTHORIZED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest authorized file or mapping file read, in bytes: these files hold
 * a few keys, and a bound keeps a hostile file from exhausting memory. */
#define AUTHORIZED_MAX_FILE (256 * 1024)

struct authorized_key {
    uint8_t *spki; /* DER SubjectPublicKeyInfo, malloc'd */
    size_t len;
};

struct authorized_list {
    struct authorized_key *keys;
    size_t n, cap;
};

/* Why parsing or loading failed: a line number (0 if none applies) and a
 * one-line message without the file name. Never holds secret data. */
struct authorized_error {
    unsigned line;
    char msg[160];
};

/* Result codes (0 is success). */
#define AUTHORIZED_E_SYNTAX -1 /* malformed text, bad PEM, bad DER */
#define AUTHORIZED_E_IO -2     /* open/read failed, or not a regular file */
#define AUTHORIZED_E_UNSAFE -3 /* wrong owner or writable by others */
#define AUTHORIZED_E_MEMORY -4

/* Empties the list and releases its memory; the list may be reused. */
void authorized_free(struct authorized_list *list);

/* Parses len bytes of authorized-file text and appends its keys to list.
 * On failure list keeps the keys appended before the call (and possibly
 * some of this text's), err says what and where; the caller discards the
 * list. data need not be NUL-terminated; a NUL byte is a syntax error. */
int authorized_parse(const char *data, size_t len, struct authorized_list *list,
                     struct authorized_error *err);

/* Parses one OpenSSH public-key line (sshkey.h) and appends its key.
 * Returns 1 if a key was added, 0 for a valid line that authorizes nothing
 * (cert-authority, from=, expired, a key type no token has), or
 * AUTHORIZED_E_SYNTAX with err->line set to lineno; for a line that is not
 * an SSH key line at all, err->msg is not_ssh. */
int authorized_add_ssh(const char *line, size_t len, unsigned lineno, const char *not_ssh,
                       struct authorized_list *list, struct authorized_error *err);

/* Decodes one base64 DER certificate or SubjectPublicKeyInfo (a PEM body
 * on a single line, as in the mapping file) and appends its key. */
int authorized_add_base64(const char *b64, size_t len, struct authorized_list *list,
                          struct authorized_error *err);

/* Reads path and parses it into list. The file must be a regular file of
 * at most AUTHORIZED_MAX_FILE bytes, owned by root or by owner, and not
 * writable by group or others (as sshd's StrictModes): a key another user
 * could write into would let that user log in. */
int authorized_load_file(const char *path, uid_t owner, struct authorized_list *list,
                         struct authorized_error *err);

/* Reads a whole file under the same rules as authorized_load_file into a
 * malloc'd, NUL-terminated buffer (for the mapping file). */
int authorized_read_file(const char *path, uid_t owner, char **out, size_t *out_len,
                         struct authorized_error *err);

/* Returns 1 if the DER certificate's public key is in the list, 0 if not,
 * negative if the certificate cannot be read. */
int authorized_match_cert(const struct authorized_list *list, const uint8_t *der,
                          size_t der_len);

#endif /* PAM_P11TLS_AUTHORIZED_H */
