/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* args.h - command-line parsing for the p11tls tool.
 *
 * Options may appear anywhere: before the subcommand, after it, between
 * its arguments. "--" ends the options. Long options take their value as
 * "--opt VALUE" or "--opt=VALUE". Which subcommand-specific options a
 * subcommand accepts is declared in its entry of the command table
 * (commands.c); the parser only records what was seen. */
#ifndef P11TLS_CLI_ARGS_H
#define P11TLS_CLI_ARGS_H

#include <stddef.h>
#include <stdio.h>

/* Option bits, each its own: all 32 are taken (a new option needs a wider
 * type). Global options are accepted with every subcommand. */
enum {
    CLI_OPT_MODULE = 1u << 0,
    CLI_OPT_NO_REGISTERED = 1u << 1,
    CLI_OPT_ALLOW_MODULE_PATH = 1u << 2,
    CLI_OPT_JSON = 1u << 3,
    CLI_OPT_PIN_FD = 1u << 4,
    CLI_OPT_HELP = 1u << 5,
    CLI_OPT_VERSION = 1u << 6,
    /* import-cert's trust marks (src/cli/provision.c) */
    CLI_OPT_TRUSTED = 1u << 7,
    CLI_OPT_MARK_CA = 1u << 8, /* import-cert's --ca: no value (else --ca FILE) */
    CLI_OPT_DISTRUST = 1u << 9,
    CLI_OPT_SO_PIN_FD = 1u << 23,
    /* subcommand options */
    CLI_OPT_LOGIN = 1u << 10,
    CLI_OPT_PEM = 1u << 11,
    CLI_OPT_SCHEME = 1u << 12,
    CLI_OPT_PREHASHED = 1u << 13,
    CLI_OPT_CERT = 1u << 14,
    CLI_OPT_PORT = 1u << 15,
    CLI_OPT_COUNT = 1u << 16,
    CLI_OPT_CA = 1u << 17,
    CLI_OPT_REQUIRE_CLIENT_CERT = 1u << 18,
    CLI_OPT_WORKERS = 1u << 19,
    CLI_OPT_SERVER_NAME = 1u << 20,
    CLI_OPT_TRUST = 1u << 21,
    CLI_OPT_CHAIN = 1u << 22,
    /* provisioning (src/cli/provision.c, csr.c) */
    CLI_OPT_TYPE = 1u << 24,
    CLI_OPT_LABEL = 1u << 25,
    CLI_OPT_ID = 1u << 26,
    CLI_OPT_SUBJECT = 1u << 27,
    CLI_OPT_DNS = 1u << 28,
    CLI_OPT_YES = 1u << 29,
    CLI_OPT_ALL = 1u << 30,
    CLI_OPT_INCLUDE_TRUST = 1u << 31, /* list: trust stores too */
};

#define CLI_OPT_GLOBAL                                                      \
    (CLI_OPT_MODULE | CLI_OPT_NO_REGISTERED | CLI_OPT_ALLOW_MODULE_PATH |   \
     CLI_OPT_JSON | CLI_OPT_PIN_FD | CLI_OPT_HELP | CLI_OPT_VERSION)

/* One entry of the option table. */
typedef struct cli_option {
    const char *name;      /* long name without "--" */
    char short_name;       /* 0 if none */
    const char *arg_name;  /* NULL if the option takes no value */
    unsigned bit;          /* CLI_OPT_* */
    const char *help;
} cli_option;

extern const cli_option cli_options[];

typedef struct cli_args {
    unsigned seen;            /* CLI_OPT_* bits given */
    const char **modules;     /* --module values, in order */
    size_t n_modules;
    int pin_fd;               /* -1 if not given */
    int so_pin_fd;            /* --so-pin-fd, -1 if not given */
    const char *scheme;       /* --scheme value */
    const char *cert;         /* --cert value (URI or PEM file) */
    const char *ca;           /* --ca value (PEM file) */
    unsigned port;            /* --port value, 0 if not given */
    unsigned count;           /* --count value, 1 if not given */
    unsigned workers;         /* --workers value, 0 if not given */
    const char *server_name;  /* --server-name value */
    const char **trust;       /* --trust values (pkcs11: URIs), in order */
    size_t n_trust;
    const char *chain;        /* --chain value (PEM or DER file) */
    const char *type;         /* --type value (generate) */
    const char *label;        /* --label value */
    const char *id;           /* --id value (hex) */
    const char *subject;      /* --subject value (csr) */
    const char **dns;         /* --dns values, in order */
    size_t n_dns;
    const char *command;      /* first non-option argument, or NULL */
    const char **pos;         /* arguments after the subcommand */
    size_t n_pos;
} cli_args;

/* Parses argv into a (arrays are allocated; free with cli_args_free).
 * Returns 0, or 2 after printing one usage error line to stderr. */
int cli_args_parse(cli_args *a, int argc, char **argv);
void cli_args_free(cli_args *a);

/* "--name" of an option bit (the lowest bit set), for messages. */
const char *cli_option_name(unsigned bit);

/* Prints the options whose bits are in mask, one per line. */
void cli_options_print(FILE *f, unsigned mask);

#endif
