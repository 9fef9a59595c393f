/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* main.c - p11tls, the command-line tool of libp11tls.
 *
 * Parses the command line (args.c), finds the subcommand in the command
 * table (commands.c), creates the tool's own p11tls context with its PIN
 * function (pin.c) and runs the subcommand. Exit statuses: CLI_EXIT_*
 * (util.h). With --json a failure also writes one error document to
 * stdout (json_error below), whatever the command. */
#define _DEFAULT_SOURCE 1 /* open_memstream */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11tls/p11tls.h>

#include "args.h"
#include "commands.h"
#include "json.h"
#include "pin.h"
#include "util.h"

static void usage(FILE *f)
{
    const cli_command *c;

    fprintf(f, "Usage: p11tls [OPTIONS] COMMAND [ARGUMENTS]\n\n"
               "Use certificates and keys on PKCS#11 tokens, named by pkcs11: "
               "URIs (RFC 7512).\n\nCommands:\n");
    for (c = cli_commands; c->name; c++) {
        char head[160];
        snprintf(head, sizeof(head), "%s %s", c->name, c->usage);
        if (strlen(head) <= 44)
            fprintf(f, "  %-44s %s\n", head, c->summary);
        else /* a long usage line gets its summary on the next line */
            fprintf(f, "  %s\n  %-44s %s\n", head, "", c->summary);
    }
    fprintf(f, "\nGlobal options (anywhere on the command line):\n");
    cli_options_print(f, CLI_OPT_GLOBAL);
    fprintf(f, "\nCommand options:\n");
    cli_options_print(f, ~(unsigned)CLI_OPT_GLOBAL);
    fprintf(f, "\n'p11tls help COMMAND' or 'p11tls COMMAND --help' shows one command.\n"
               "See p11tls(1).\n");
}

static void command_usage(FILE *f, const cli_command *c)
{
    /* exec takes no option of the tool: its arguments are the program's. */
    const int exec = strcmp(c->name, "exec") == 0;

    fprintf(f, "Usage: p11tls %s%s %s\n\n%s\n", exec ? "" : "[OPTIONS] ", c->name, c->usage,
            c->summary);
    if (c->options) {
        fprintf(f, "\nOptions:\n");
        cli_options_print(f, c->options);
    }
    if (!exec) {
        fprintf(f, "\nGlobal options:\n");
        cli_options_print(f, CLI_OPT_GLOBAL);
    }
    fprintf(f, "\nSee p11tls(1).\n");
}

/* p11tls help [COMMAND]: the usage of all commands or of one. */
static int help(const cli_args *a)
{
    const cli_command *topic;

    if (a->n_pos == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (a->n_pos > 1)
        return cli_error(CLI_EXIT_USAGE, "too many arguments for 'help': p11tls help [COMMAND]");
    topic = cli_command_find(a->pos[0]);
    if (topic == NULL)
        return cli_error(CLI_EXIT_USAGE, "unknown command '%s' (try 'p11tls help' for the list)",
                         a->pos[0]);
    command_usage(stdout, topic);
    return CLI_EXIT_OK;
}

/* Appends ", " or " and " and what to the list in buf. */
static void list_add(char *buf, size_t size, int *n, int last, const char *what)
{
    size_t used = strlen(buf);
    snprintf(buf + used, size - used, "%s%s", *n == 0 ? "" : last ? " and " : ", ", what);
    (*n)++;
}

/* The positional arguments' names: the first words of the usage line, up
 * to the first option or optional part ("TOKEN-URI FILE --label ..."). */
static size_t positional_names(const cli_command *c, char names[][32], size_t max)
{
    const char *p = c->usage;
    size_t n = 0;

    while (n < max && *p && *p != '-' && *p != '[') {
        size_t len = strcspn(p, " ");
        snprintf(names[n++], sizeof(names[0]), "%.*s", (int)len, p);
        p += len;
        p += strspn(p, " ");
    }
    return n;
}

/* Checks the parsed options and arguments against the command's entry.
 * What is missing is said at once: arguments, then options. */
static int check_command(const cli_command *c, const cli_args *a)
{
    unsigned bad = a->seen & ~(CLI_OPT_GLOBAL | c->options);
    unsigned missing = c->required & ~a->seen, bit;
    char names[4][32], list[512] = "";
    size_t n_names = positional_names(c, names, 4), i;
    int n = 0, total = 0;

    if (bad)
        return cli_error(CLI_EXIT_USAGE, "option --%s is not valid for '%s'",
                         cli_option_name(bad), c->name);
    total = a->n_pos < c->min_args ? (int)(c->min_args - a->n_pos) : 0;
    for (bit = 1; bit; bit <<= 1)
        total += (missing & bit) != 0;
    for (i = a->n_pos; i < c->min_args; i++)
        list_add(list, sizeof(list), &n, n == total - 1,
                 i < n_names ? names[i] : "an argument");
    for (bit = 1; bit; bit <<= 1) {
        char opt[64];
        if (!(missing & bit))
            continue;
        snprintf(opt, sizeof(opt), "--%s", cli_option_name(bit));
        list_add(list, sizeof(list), &n, n == total - 1, opt);
    }
    if (total)
        return cli_error(CLI_EXIT_USAGE, "'%s' needs %s: p11tls %s %s", c->name, list,
                         c->name, c->usage);
    if (a->n_pos > c->max_args)
        return cli_error(CLI_EXIT_USAGE, "too many arguments for '%s': p11tls %s %s",
                         c->name, c->name, c->usage);
    return CLI_EXIT_OK;
}

/* The library's warnings (a listing URI that matches no
 * token, with the tokens there are) go to the user; P11TLS_DEBUG adds the
 * rest. */
static void log_to_stderr(void *arg, int level, const char *message)
{
    (void)arg;
    if (level != P11TLS_LOG_WARNING)
        return; /* errors: the command prints its own, with the detail */
    fflush(stdout);
    fprintf(stderr, "p11tls: warning: %s\n", message);
}

/* The first --module (in args) that failed to initialize, for
 * p11tls_list_modules. */
typedef struct failed_module {
    const cli_args *args;
    char what[1024];
} failed_module;

static int find_failed(void *arg, const p11tls_module_info *m)
{
    failed_module *f = arg;
    size_t i;

    if (m->status >= 0)
        return 0;
    for (i = 0; i < f->args->n_modules; i++) {
        const char *given = f->args->modules[i];
        if ((m->path && strcmp(m->path, given) == 0) || (m->name && strcmp(m->name, given) == 0)) {
            snprintf(f->what, sizeof(f->what), "module '%s': %s (%s)", given,
                     p11tls_strerror(m->status), m->error ? m->error : "");
            return 1;
        }
    }
    return 0;
}

/* Creates the tool's context from the global options. A --module that
 * cannot be loaded or initialized is an error (the user named it; without
 * it the command would only say that no token matches), except for a
 * command that reports such modules itself (list-tokens: the library
 * remembers the failure and p11tls_list_modules lists it). */
static int make_context(const cli_args *a, const cli_command *c, cli_pin *pin,
                        p11tls_ctx **out)
{
    p11tls_ctx *ctx = NULL;
    unsigned flags = 0;
    size_t i;
    int rc;

    rc = p11tls_ctx_new(&ctx);
    if (rc < 0)
        return cli_fail(rc, NULL, "creating a context");
    if (a->seen & CLI_OPT_NO_REGISTERED)
        flags |= P11TLS_CTX_NO_REGISTERED_MODULES;
    if (a->seen & CLI_OPT_ALLOW_MODULE_PATH)
        flags |= P11TLS_CTX_ALLOW_MODULE_PATH;
    rc = p11tls_ctx_set_flags(ctx, flags);
    if (rc < 0) {
        rc = cli_fail(rc, NULL, "setting context flags");
        goto fail;
    }
    for (i = 0; i < a->n_modules; i++) {
        rc = p11tls_ctx_add_module(ctx, a->modules[i]);
        if (rc == P11TLS_E_MODULE && c->reports_bad_modules)
            continue;
        if (rc < 0) {
            rc = cli_fail(rc, NULL, "module '%s'", a->modules[i]);
            goto fail;
        }
    }
    rc = p11tls_ctx_set_log_fn(ctx, log_to_stderr, NULL, P11TLS_LOG_WARNING);
    if (rc >= 0)
        rc = p11tls_ctx_set_pin_fn(ctx, cli_pin_fn, pin);
    if (rc < 0) {
        rc = cli_fail(rc, NULL, "setting the log and PIN functions");
        goto fail;
    }
    /* After the log function: other modules' warnings are not lost. */
    if (a->n_modules && !c->reports_bad_modules) {
        failed_module f;
        memset(&f, 0, sizeof(f));
        f.args = a;
        if (p11tls_list_modules(ctx, find_failed, &f) == 1) {
            rc = cli_error(CLI_EXIT_FAILURE, "%s", f.what);
            goto fail;
        }
    }
    *out = ctx;
    return CLI_EXIT_OK;
fail:
    p11tls_ctx_free(ctx);
    return rc;
}

/* Runs c with output buffered in memory for --json, so that a failure
 * never leaves half a JSON document on stdout. */
static int run(const cli_command *c, cli_env *env)
{
    char *buf = NULL;
    size_t size = 0;
    int status;

    if (!env->json) {
        env->out = stdout;
        return c->fn(env);
    }
    env->out = open_memstream(&buf, &size);
    if (!env->out)
        return cli_error(CLI_EXIT_FAILURE, "open_memstream: %s", strerror(errno));
    status = c->fn(env);
    if (fclose(env->out) != 0 && status == CLI_EXIT_OK)
        status = cli_error(CLI_EXIT_FAILURE, "buffering output: %s", strerror(errno));
    env->out = NULL;
    if ((status == CLI_EXIT_OK || env->verdict) && buf)
        fwrite(buf, 1, size, stdout);
    free(buf);
    return status;
}

/* The --json error document, the same for every command and documented in
 * p11tls(1), JSON OUTPUT: only additions, never changes. */
static void json_error(int status)
{
    const cli_error_record *e = cli_last_error();
    json_writer w;

    json_init(&w, stdout);
    json_begin_object(&w);
    json_key(&w, "error");
    json_string(&w, e->status ? e->name : CLI_ERROR_FAILURE);
    json_key(&w, "code");
    if (e->status && e->code)
        json_int(&w, e->code);
    else
        json_null(&w);
    json_key(&w, "detail");
    json_string(&w, e->status ? e->detail : "");
    json_key(&w, "exit_status");
    json_int(&w, status);
    json_end_object(&w);
    json_finish(&w);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    cli_args args;
    cli_pin pin;
    cli_env env;
    const cli_command *c;
    int status;

    memset(&env, 0, sizeof(env));
    /* exec's arguments are the program's own: none is parsed here, but
     * "exec --help" is help (a program named --help is "exec -- --help"). */
    if (argc >= 2 && strcmp(argv[1], "exec") == 0) {
        if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            command_usage(stdout, cli_command_find("exec"));
            return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
        }
        return cli_exec(argc - 2, argv + 2);
    }
    cli_pin_init(&pin, -1);
    status = cli_args_parse(&args, argc, argv);
    if (status)
        goto out;

    if (args.seen & CLI_OPT_VERSION) {
        printf("p11tls %s\n", P11TLS_VERSION_STRING);
        goto flush;
    }
    if (args.command == NULL) {
        if (args.seen & CLI_OPT_HELP) {
            usage(stdout);
            goto flush;
        }
        usage(stderr);
        status = cli_error(CLI_EXIT_USAGE, "no command given (try 'p11tls help')");
        goto out;
    }
    c = cli_command_find(args.command);
    if (c == NULL) {
        status = cli_error(CLI_EXIT_USAGE, "unknown command '%s' (try 'p11tls help')",
                           args.command);
        goto out;
    }
    /* help [COMMAND], and COMMAND --help: no context, no module loaded. */
    if (strcmp(c->name, "help") == 0 && !(args.seen & CLI_OPT_HELP)) {
        status = help(&args);
        if (status)
            goto out;
        goto flush;
    }
    if (args.seen & CLI_OPT_HELP) {
        command_usage(stdout, c);
        goto flush;
    }
    status = check_command(c, &args);
    if (status)
        goto out;

    cli_pin_init(&pin, args.pin_fd);
    env.args = &args;
    env.pin = &pin;
    env.json = (args.seen & CLI_OPT_JSON) != 0;
    status = make_context(&args, c, &pin, &env.ctx);
    if (status)
        goto out;
    status = run(c, &env);
    p11tls_ctx_free(env.ctx);
    cli_pin_wipe(&pin);
    if (status)
        goto out;

flush:
    if (fflush(stdout) != 0 || ferror(stdout))
        status = cli_error(CLI_EXIT_FAILURE, "writing to standard output: %s",
                           strerror(errno));
out:
    /* status is what the process exits with: the document says the same. */
    if (status != CLI_EXIT_OK && (args.seen & CLI_OPT_JSON) && !env.verdict)
        json_error(status);
    cli_pin_wipe(&pin);
    cli_args_free(&args);
    return status;
}
