/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * authorized_fuzz.c — libFuzzer target for the pam_p11tls authorized-file
 * parser (src/pam/authorized.c): the file is read by a root process from a
 * user's home directory, so its parser sees attacker-controlled bytes.
 *
 * Feeds the input to authorized_parse() as a whole file (PEM blocks and
 * OpenSSH public-key lines, src/pam/sshkey.c), and to
 * authorized_add_base64() as an inline mapping-file entry. Seeds:
 * tests/fuzz/corpus/authorized/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../src/pam/authorized.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct authorized_list list = {NULL, 0, 0};
    struct authorized_error err = {0, ""};

    if (authorized_parse((const char *)data, size, &list, &err) < 0) {
        /* The message must be a terminated string whatever the input. */
        if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
            __builtin_trap();
    }
    authorized_free(&list);

    authorized_add_base64((const char *)data, size, &list, &err);
    authorized_free(&list);
    return 0;
}
