/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* args.c - command-line parsing for the p11tls tool. */
#include "args.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const cli_option cli_options[] = {
    {"module", 0, "PATH", CLI_OPT_MODULE,
     "load the PKCS#11 module at PATH (repeatable)"},
    {"no-registered", 0, NULL, CLI_OPT_NO_REGISTERED,
     "ignore the modules registered in the p11-kit configuration"},
    {"allow-module-path", 0, NULL, CLI_OPT_ALLOW_MODULE_PATH,
     "let the module-path attribute of a URI load a module"},
    {"json", 0, NULL, CLI_OPT_JSON, "write one JSON document to stdout"},
    {"pin-fd", 0, "N", CLI_OPT_PIN_FD,
     "read the PIN once from file descriptor N instead of /dev/tty"},
    {"login", 0, NULL, CLI_OPT_LOGIN, "log in first, to list private objects"},
    {"include-trust", 0, NULL, CLI_OPT_INCLUDE_TRUST,
     "list without a URI: the trust stores' objects too (System Trust)"},
    {"pem", 0, NULL, CLI_OPT_PEM, "write PEM instead of DER"},
    {"scheme", 0, "NAME", CLI_OPT_SCHEME,
     "TLS signature scheme, e.g. ecdsa_secp256r1_sha256"},
    {"prehashed", 0, NULL, CLI_OPT_PREHASHED,
     "standard input is the hash, not the message"},
    {"cert", 0, "CERT", CLI_OPT_CERT,
     "certificate: a pkcs11: URI or a PEM file"},
    {"port", 0, "N", CLI_OPT_PORT, "TCP port on 127.0.0.1 (0: any free port)"},
    {"count", 0, "N", CLI_OPT_COUNT, "number of connections to serve (default 1)"},
    {"ca", 0, "FILE", CLI_OPT_CA, "PEM file of CAs trusted for client certificates"},
    {"require-client-cert", 0, NULL, CLI_OPT_REQUIRE_CLIENT_CERT,
     "require and verify a client certificate (needs --ca or --trust)"},
    {"workers", 0, "N", CLI_OPT_WORKERS,
     "fork N worker processes after opening the key (prefork)"},
    {"server-name", 0, "NAME", CLI_OPT_SERVER_NAME,
     "name the server certificate must carry (default localhost)"},
    {"trust", 0, "URI", CLI_OPT_TRUST,
     "trust the anchors found through the pkcs11: URI (repeatable)"},
    {"chain", 0, "FILE", CLI_OPT_CHAIN, "intermediate certificates sent with it"},
    {"type", 0, "TYPE", CLI_OPT_TYPE,
     "key type: rsa:2048|rsa:3072|rsa:4096 (rsa: rsa:2048), ec:p256|ec:p384|ec:p521 "
     "(ec: ec:p256), ed25519, ed448"},
    {"label", 0, "LABEL", CLI_OPT_LABEL, "label (CKA_LABEL) of the new object"},
    {"id", 0, "HEX", CLI_OPT_ID, "ID (CKA_ID) of the new object, in hex"},
    {"subject", 0, "DN", CLI_OPT_SUBJECT, "subject of the request, e.g. CN=www.example.com"},
    {"dns", 0, "NAME", CLI_OPT_DNS, "DNS name for the request (repeatable)"},
    {"yes", 'y', NULL, CLI_OPT_YES, "do not ask for confirmation"},
    {"all", 0, NULL, CLI_OPT_ALL, "delete every object the URI matches"},
    {"trusted", 0, NULL, CLI_OPT_TRUSTED,
     "import-cert: mark the certificate trusted (an anchor; needs the SO PIN)"},
    {"ca", 0, NULL, CLI_OPT_MARK_CA, "import-cert: mark the certificate a CA (category authority)"},
    {"distrust", 0, NULL, CLI_OPT_DISTRUST,
     "import-cert: mark the certificate distrusted (p11-kit's trust module)"},
    {"so-pin-fd", 0, "N", CLI_OPT_SO_PIN_FD,
     "read the Security Officer's PIN once from file descriptor N instead of /dev/tty"},
    {"help", 'h', NULL, CLI_OPT_HELP, "show help and exit"},
    {"version", 0, NULL, CLI_OPT_VERSION, "show the version and exit"},
    {NULL, 0, NULL, 0, NULL},
};

static const cli_option *find_long(const char *name, size_t len)
{
    const cli_option *o;
    for (o = cli_options; o->name; o++)
        if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* The entry of import-cert's --ca, a flag, where other commands' --ca
 * takes a FILE (the first entry of that name). */
static const cli_option *mark_ca_option(void)
{
    const cli_option *o;
    for (o = cli_options; o->name; o++)
        if (o->bit == CLI_OPT_MARK_CA)
            return o;
    return NULL;
}

static const cli_option *find_short(char c)
{
    const cli_option *o;
    for (o = cli_options; o->name; o++)
        if (o->short_name && o->short_name == c)
            return o;
    return NULL;
}

const char *cli_option_name(unsigned bit)
{
    const cli_option *o;
    for (o = cli_options; o->name; o++)
        if (o->bit & bit & (~bit + 1u)) /* lowest bit of bit */
            return o->name;
    return "?";
}

void cli_options_print(FILE *f, unsigned mask)
{
    const cli_option *o;
    for (o = cli_options; o->name; o++) {
        char head[64];
        char shortopt[8] = "    ";
        if (!(o->bit & mask))
            continue;
        if (o->short_name)
            snprintf(shortopt, sizeof(shortopt), "-%c, ", o->short_name);
        snprintf(head, sizeof(head), "%s--%s%s%s", shortopt, o->name,
                 o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
        fprintf(f, "  %-24s %s\n", head, o->help);
    }
}

static int usage_error(const char *msg, const char *what)
{
    return cli_error(CLI_EXIT_USAGE, "%s%s%s (try 'p11tls help')", msg,
                     what ? " " : "", what ? what : "");
}

static int parse_uint(const char *s, unsigned long max, unsigned *out)
{
    char *end;
    unsigned long v;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_fd(const char *s, int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

/* Stores the value of option o. Returns 0 or 2 (usage error printed). */
static int set_option(cli_args *a, const cli_option *o, const char *value)
{
    a->seen |= o->bit;
    switch (o->bit) {
    case CLI_OPT_MODULE:
        if (*value == '\0')
            return usage_error("empty value for", "--module");
        a->modules[a->n_modules++] = value;
        break;
    case CLI_OPT_TRUST:
        if (*value == '\0')
            return usage_error("empty value for", "--trust");
        a->trust[a->n_trust++] = value;
        break;
    case CLI_OPT_CHAIN:
        if (*value == '\0')
            return usage_error("empty value for", "--chain");
        a->chain = value;
        break;
    case CLI_OPT_PIN_FD:
        if (parse_fd(value, &a->pin_fd) != 0)
            return usage_error("--pin-fd needs a file descriptor number:",
                               value);
        break;
    case CLI_OPT_SO_PIN_FD:
        if (parse_fd(value, &a->so_pin_fd) != 0)
            return usage_error("--so-pin-fd needs a file descriptor number:", value);
        break;
    case CLI_OPT_SCHEME:
        a->scheme = value;
        break;
    case CLI_OPT_CERT:
        if (*value == '\0')
            return usage_error("empty value for", "--cert");
        a->cert = value;
        break;
    case CLI_OPT_CA:
        if (*value == '\0')
            return usage_error("empty value for", "--ca");
        a->ca = value;
        break;
    case CLI_OPT_PORT:
        if (parse_uint(value, 65535, &a->port) != 0)
            return usage_error("--port needs a port number 0-65535:", value);
        break;
    case CLI_OPT_COUNT:
        if (parse_uint(value, 1000000, &a->count) != 0 || a->count == 0)
            return usage_error("--count needs a positive number:", value);
        break;
    case CLI_OPT_WORKERS:
        if (parse_uint(value, 64, &a->workers) != 0 || a->workers == 0)
            return usage_error("--workers needs a number 1-64:", value);
        break;
    case CLI_OPT_SERVER_NAME:
        if (*value == '\0')
            return usage_error("empty value for", "--server-name");
        a->server_name = value;
        break;
    case CLI_OPT_TYPE:
        a->type = value;
        break;
    case CLI_OPT_LABEL:
        if (*value == '\0')
            return usage_error("empty value for", "--label");
        a->label = value;
        break;
    case CLI_OPT_ID:
        a->id = value;
        break;
    case CLI_OPT_SUBJECT:
        a->subject = value;
        break;
    case CLI_OPT_DNS:
        if (*value == '\0')
            return usage_error("empty value for", "--dns");
        a->dns[a->n_dns++] = value;
        break;
    default:
        break;
    }
    return 0;
}

int cli_args_parse(cli_args *a, int argc, char **argv)
{
    int i, only_pos = 0, rc;

    memset(a, 0, sizeof(*a));
    a->pin_fd = -1;
    a->so_pin_fd = -1;
    a->count = 1;
    a->modules = calloc((size_t)argc + 1, sizeof(*a->modules));
    a->pos = calloc((size_t)argc + 1, sizeof(*a->pos));
    a->trust = calloc((size_t)argc + 1, sizeof(*a->trust));
    a->dns = calloc((size_t)argc + 1, sizeof(*a->dns));
    if (!a->modules || !a->pos || !a->trust || !a->dns) {
        return cli_error(CLI_EXIT_FAILURE, "out of memory");
    }
    /* --json anywhere makes a usage error a JSON document too. */
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            a->seen |= CLI_OPT_JSON;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const cli_option *o = NULL;
        const char *value = NULL;

        if (only_pos || arg[0] != '-' || arg[1] == '\0') {
            /* positional ("-" alone is positional too) */
            if (a->command == NULL)
                a->command = arg;
            else
                a->pos[a->n_pos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(name, len);
            if (o == NULL)
                return usage_error("unknown option", arg);
            if (o->bit == CLI_OPT_CA && a->command && strcmp(a->command, "import-cert") == 0)
                o = mark_ca_option();
            if (eq) {
                if (o->arg_name == NULL)
                    return usage_error("option takes no value:", arg);
                value = eq + 1;
            }
        } else {
            if (arg[2] != '\0' || (o = find_short(arg[1])) == NULL)
                return usage_error("unknown option", arg);
        }
        if (o->arg_name && value == NULL) {
            if (i + 1 >= argc) {
                return cli_error(CLI_EXIT_USAGE, "option --%s needs a value %s",
                                 o->name, o->arg_name);
            }
            value = argv[++i];
        }
        rc = set_option(a, o, value);
        if (rc)
            return rc;
    }
    return 0;
}

void cli_args_free(cli_args *a)
{
    free(a->modules);
    free(a->pos);
    free(a->trust);
    a->trust = NULL;
    free(a->dns);
    a->modules = NULL;
    a->pos = NULL;
    a->dns = NULL;
}
