/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* commands.h - the subcommands of the p11tls tool.
 *
 * Every subcommand is one entry of cli_commands[]: its name, the function
 * that runs it, its usage line, which subcommand options it accepts and
 * requires, and how many positional arguments it takes. main.c parses the
 * options, checks them against the entry, builds the context and calls
 * the function. A new subcommand (serve, connect, ...) is a new function
 * and a new table entry, plus its options in args.c. */
#ifndef P11TLS_CLI_COMMANDS_H
#define P11TLS_CLI_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include <p11tls/p11tls.h>

#include "args.h"
#include "json.h"
#include "pin.h"

/* What a subcommand runs with. */
typedef struct cli_env {
    p11tls_ctx *ctx;          /* the tool's own context */
    const cli_args *args;
    cli_pin *pin;
    FILE *out;                /* text or JSON output (buffered for JSON) */
    int json;                 /* --json */
    int verdict;              /* the output is the answer even with a non-zero
                               * status (verify: not trusted, exit 1): written,
                               * and no --json error document follows */
} cli_env;

/* Returns CLI_EXIT_* (util.h); has printed its error line on failure. */
typedef int (*cli_command_fn)(cli_env *env);

typedef struct cli_command {
    const char *name;
    cli_command_fn fn;
    const char *usage;        /* arguments and options after the name */
    const char *summary;      /* one line for --help */
    unsigned options;         /* subcommand CLI_OPT_* bits it accepts */
    unsigned required;        /* CLI_OPT_* bits it requires */
    size_t min_args, max_args;
    int reports_bad_modules;  /* a --module that fails to load is listed, not fatal */
} cli_command;

extern const cli_command cli_commands[]; /* terminated by a NULL name */

/* serve: a small TLS server with a token key (serve.c). */
int cli_cmd_serve(cli_env *env);
/* connect: a TLS client with a token key (connect.c). */
int cli_cmd_connect(cli_env *env);

/* info on an object that is not a private key (info.c): returns 1 if it
 * handled the command (*status set), 0 if the URI names or may name a
 * private key, for the private key path. */
int cli_info_object(cli_env *env, int *status);

/* Label, ID, token and flags of the open private key at key_uri, as text
 * lines or (w not NULL) JSON members; left out if the listing cannot tell. */
void cli_info_key_fields(cli_env *env, const char *key_uri, json_writer *w);

/* Why the PIN function gave up, for a PIN error rc; NULL otherwise. */
static inline const char *cli_pin_extra(const cli_env *env, int rc)
{
    return cli_pin_problem(env->pin, rc);
}

/* Provisioning (provision.c, csr.c, chain.c). */
int cli_cmd_generate(cli_env *env);
int cli_cmd_csr(cli_env *env);
int cli_cmd_import_cert(cli_env *env);
int cli_cmd_delete(cli_env *env);
int cli_cmd_export_chain(cli_env *env);
int cli_cmd_mechanisms(cli_env *env);
int cli_cmd_set_pin(cli_env *env);

/* exec: runs COMMAND with the preload object (exec.c). cli_exec takes the
 * arguments after "exec" and returns only on failure; cli_cmd_exec is the
 * table's entry, reached only when exec is not the first argument. */
int cli_exec(int argc, char **argv);
int cli_cmd_exec(cli_env *env);

/* The entry named name, or NULL. */
const cli_command *cli_command_find(const char *name);

#endif
