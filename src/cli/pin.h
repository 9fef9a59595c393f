/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* pin.h - the PIN function of the p11tls tool.
 *
 * With --pin-fd N the PIN is read once from file descriptor N (up to the
 * first newline or end of file) and handed to every request that is not a
 * retry after a refused PIN; a PIN change (set-pin) reads the new PIN from
 * the next line. Otherwise it is asked for on /dev/tty with
 * echo off; without a terminal the request is cancelled. A line longer
 * than CLI_PIN_MAX - 1 bytes or holding a NUL byte is refused, never cut,
 * and --pin-fd is not read past CLI_PIN_MAX bytes of one line. The Security
 * Officer's PIN (import-cert --trusted) comes from --so-pin-fd, read once
 * when asked, or the terminal; never from --pin-fd. PINs are never
 * printed and are wiped (explicit_bzero) when no longer needed. */
#ifndef P11TLS_CLI_PIN_H
#define P11TLS_CLI_PIN_H

#include <stddef.h>

#define CLI_PIN_MAX 256

typedef struct cli_pin {
    int fd;                 /* --pin-fd, or -1 for /dev/tty */
    int so_fd;              /* --so-pin-fd (the SO PIN, P11TLS_PIN_SO), or -1 for /dev/tty */
    int fd_read;            /* the fd has been read */
    int fd_ok;              /* ... and gave a usable PIN */
    const char *fd_problem; /* ... or why it did not */
    char cached[CLI_PIN_MAX];
    const char *problem;    /* why the last request was cancelled, or NULL */
} cli_pin;

void cli_pin_init(cli_pin *p, int fd);

/* A p11tls_pin_fn; arg is a cli_pin. */
int cli_pin_fn(void *arg, const char *token_uri, const char *token_label,
               unsigned flags, char *pin, size_t pin_size);

/* Why the PIN function gave up, for a PIN error rc (P11TLS_E_PIN_*) of a
 * call that used it; NULL otherwise. */
const char *cli_pin_problem(const cli_pin *p, int rc);

/* With --pin-fd, reads the PIN now (once, as the PIN function would):
 * for processes forked later, which each inherit it instead of finding
 * the descriptor read. */
void cli_pin_read_now(cli_pin *p);

/* Wipes the cached PIN. */
void cli_pin_wipe(cli_pin *p);

#endif
