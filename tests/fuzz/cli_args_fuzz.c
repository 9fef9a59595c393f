/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* Fuzz target "cli_args": the p11tls tool's command line (src/cli/args.c)
 * and the redaction of URIs it echoes in messages (cli_redact_uri in
 * src/cli/util.c). A command line may come from a script that pastes in
 * values from elsewhere; parsing must not crash or read out of bounds,
 * every recorded value must be one of the arguments (or the part of one
 * after "="), and a redacted URI must fit its buffer and never show what
 * followed "pin-value=".
 *
 * Input: the arguments after argv[0], separated by NUL bytes. */
#define _GNU_SOURCE 1 /* strcasestr */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../src/cli/args.h"
#include "../../src/cli/util.h"

#define MAX_ARGS 256

static void broken(const char *what)
{
    fprintf(stderr, "cli_args_fuzz: %s\n", what);
    abort();
}

/* v points into one of the arguments (as parse stores them, no copies). */
static int in_argv(const char *v, char **argv, int argc)
{
    int i;
    for (i = 1; i < argc; i++)
        if (v >= argv[i] && v <= argv[i] + strlen(argv[i]))
            return 1;
    return 0;
}

static void check_args(const cli_args *a, char **argv, int argc)
{
    size_t i;
    if (a->n_modules >= (size_t)argc || a->n_pos >= (size_t)argc)
        broken("more values than arguments");
    for (i = 0; i < a->n_modules; i++)
        if (!in_argv(a->modules[i], argv, argc) || a->modules[i][0] == '\0')
            broken("bad --module value");
    for (i = 0; i < a->n_pos; i++)
        if (!in_argv(a->pos[i], argv, argc))
            broken("positional argument not from argv");
    if ((a->command && !in_argv(a->command, argv, argc)) ||
        (a->scheme && !in_argv(a->scheme, argv, argc)) ||
        (a->cert && !in_argv(a->cert, argv, argc)) ||
        (a->ca && !in_argv(a->ca, argv, argc)))
        broken("value not from argv");
    if (a->port > 65535 || a->count == 0 || a->count > 1000000)
        broken("number out of range");
    if ((a->seen & CLI_OPT_PIN_FD) ? a->pin_fd < 0 : a->pin_fd != -1)
        broken("bad --pin-fd");
}

/* The redacted copy fits and shows no character of a pin-value. Checked
 * with a canary after the buffer and by looking for the PIN's first
 * characters right after "pin-value=" in the output. */
static void check_redact(const char *uri)
{
    char buf[64 + 1];
    const char *p;
    size_t size = (size_t)(strlen(uri) % 64) + 1; /* every size, tiny included */
    buf[size] = 'Z';
    p = cli_redact_uri(uri, buf, size);
    if (buf[size] != 'Z')
        broken("cli_redact_uri wrote past its buffer");
    if (p == buf && strlen(buf) >= size)
        broken("cli_redact_uri result longer than its buffer");
    for (p = buf; (p = strcasestr(p, "pin-value=")) != NULL; p++) {
        char c = p[10];
        if (c != '\0' && c != '*' && c != '.' && c != ';' && c != '&' && c != '?')
            broken("cli_redact_uri shows a pin-value");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    char *argv[MAX_ARGS + 2];
    int argc = 1;
    size_t i, start = 0;
    cli_args a;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[0] = (char *)"p11tls";
    for (i = 0; i <= size && argc <= MAX_ARGS; i++) {
        if (copy[i] == '\0') {
            argv[argc++] = copy + start;
            start = i + 1;
        }
    }
    argv[argc] = NULL;

    if (cli_args_parse(&a, argc, argv) == 0)
        check_args(&a, argv, argc);
    cli_args_free(&a);
    for (i = 1; i < (size_t)argc; i++)
        check_redact(argv[i]);
    free(copy);
    return 0;
}
