/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * sshkey.h — OpenSSH public-key lines (authorized_keys(5)) as authorized
 * keys: "[options] keytype base64 [comment]".
 *
 * Key types turned into a public key: ecdsa-sha2-nistp256/384/521,
 * ssh-ed25519, ssh-rsa. Types a PKCS#11 token key can never be (ssh-dss,
 * security keys sk-*, OpenSSH certificates *-cert-v01@openssh.com) are
 * valid lines that authorize nothing here.
 *
 * Options are parsed as sshd parses them (comma-separated, values in double
 * quotes with \" inside); an unknown option is an error, as it makes sshd
 * refuse the line. What they mean for a login through PAM:
 *   cert-authority   the key signs certificates, it is not a user key:
 *                    the line authorizes nothing
 *   from="..."       a restriction PAM cannot check against the SSH
 *                    client's address: the line authorizes nothing (fails
 *                    closed)
 *   expiry-time="YYYYMMDD[HHMM[SS]]"  (local time) honoured: once past,
 *                    the line authorizes nothing
 *   the others (command, restrict, no-pty, environment, permitopen, ...)
 *                    shape an SSH session and do not apply.
 */
#ifndef PAM_P11TLS_SSHKEY_H
#define PAM_P11TLS_SSHKEY_H

#include <stddef.h>

#include <gnutls/gnutls.h>

#define SSHKEY_NOT_SSH 0 /* no key type where one must be: not an SSH line */
#define SSHKEY_KEY 1     /* *spki holds the key's DER SubjectPublicKeyInfo */
#define SSHKEY_SKIPPED 2 /* a valid line that authorizes nothing (see above) */
#define SSHKEY_BAD -1    /* an SSH line, malformed: msg says why */

/* Parses one line (no newline; leading/trailing blanks allowed). On
 * SSHKEY_KEY, *spki is set (release with gnutls_free); on SSHKEY_BAD and
 * SSHKEY_SKIPPED msg holds a one-line reason. now is the time expiry-time
 * is compared with. */
int sshkey_parse_line(const char *line, size_t len, long long now, gnutls_datum_t *spki,
                      char *msg, size_t msg_size);

#endif /* PAM_P11TLS_SSHKEY_H */
