/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * mapfile.h — the optional system-wide mapping file (option mapfile=).
 *
 * One entry per line, blank lines and '#' comment lines ignored:
 *
 *     user: /absolute/path/to/an/authorized/file
 *     user: BASE64
 *     user: [options] ssh-ed25519 AAAA... [comment]
 *
 * where BASE64 is the body of a PEM CERTIFICATE or PUBLIC KEY on one line,
 * and the third form an OpenSSH public-key line (sshkey.h).
 * A user may have several lines; a user with none has no key. Any malformed
 * line makes the whole file invalid, for every user: a typo must not
 * silently drop or grant access.
 */
#ifndef PAM_P11TLS_MAPFILE_H
#define PAM_P11TLS_MAPFILE_H

#include <sys/types.h>

#include "authorized.h"

/* Reads the mapping file at path (owned by root or map_owner, not writable
 * by group or others) and appends to list the keys of user: inline ones,
 * and those of the files named for the user (owned by root or user_uid).
 * On failure err->msg names the file and err->line the line at fault. */
int mapfile_load(const char *path, uid_t map_owner, const char *user, uid_t user_uid,
                 struct authorized_list *list, struct authorized_error *err);

#endif /* PAM_P11TLS_MAPFILE_H */
