/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* provision.c - the commands that change a token: generate, import-cert,
 * delete, set-pin, and mechanisms (what generate can use). Each is a thin
 * shell over <p11tls/provision.h>. */
#define _DEFAULT_SOURCE 1
#include "commands.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <p11tls/provision.h>

#include "json.h"
#include "uriattr.h"
#include "util.h"

static const char *pos(const cli_env *env, size_t i)
{
    return env->args->n_pos > i ? env->args->pos[i] : NULL;
}

/* --id HEX into a new buffer; NULL *out when not given. Returns 0 or a
 * usage error. */
static int parse_id(const cli_env *env, uint8_t **out, size_t *out_len)
{
    const char *hex = env->args->id;
    size_t n, i;

    *out = NULL;
    *out_len = 0;
    if (!hex)
        return CLI_EXIT_OK;
    n = strlen(hex);
    if (n == 0 || n % 2 || n > 512)
        return cli_error(CLI_EXIT_USAGE, "--id needs an even number of hex digits (up to 512)");
    *out = malloc(n / 2);
    if (!*out)
        return cli_error(CLI_EXIT_FAILURE, "out of memory");
    for (i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
            !strchr("0123456789abcdefABCDEF", hex[2 * i + 1])) {
            free(*out);
            *out = NULL;
            return cli_error(CLI_EXIT_USAGE, "--id '%s' is not hex", hex);
        }
        (*out)[i] = (uint8_t)v;
    }
    *out_len = n / 2;
    return CLI_EXIT_OK;
}

/* ---- generate ------------------------------------------------------------ */

/* The --type names p11tls_key_generate() takes, and the two a p11tool user
 * types (its defaults: RSA 2048, ECDSA P-256). NULL for another name. */
static const char *key_type(const char *name)
{
    static const char *const types[] = {"rsa:2048", "rsa:3072", "rsa:4096", "ec:p256",
                                        "ec:p384",  "ec:p521",  "ed25519",  "ed448"};
    size_t i;

    if (strcmp(name, "rsa") == 0)
        return "rsa:2048";
    if (strcmp(name, "ec") == 0)
        return "ec:p256";
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(name, types[i]) == 0)
            return types[i];
    return NULL;
}

int cli_cmd_generate(cli_env *env)
{
    char shown[CLI_URI_BUF];
    const char *uri = pos(env, 0), *type = key_type(env->args->type);
    p11tls_key *key = NULL;
    uint8_t *id = NULL;
    size_t id_len;
    int rc, status;

    if (!type)
        return cli_error(CLI_EXIT_USAGE,
                         "unknown key type '%s' for --type (rsa:2048, rsa:3072, rsa:4096, "
                         "ec:p256, ec:p384, ec:p521, ed25519, ed448; rsa alone is rsa:2048, ec "
                         "alone ec:p256)", env->args->type);
    status = parse_id(env, &id, &id_len);
    if (status)
        return status;
    cli_redact_uri(uri, shown, sizeof(shown));
    /* RSA-4096 takes seconds on a software token, minutes on some cards. */
    fprintf(stderr, "generating %s on token %s...\n", type, shown);
    rc = p11tls_key_generate(env->ctx, uri, type, env->args->label, id, id_len, 0, &key);
    free(id);
    if (rc < 0)
        return cli_fail(rc, cli_pin_problem(env->pin, rc), "generating %s on '%s'", type, shown);
    if (env->json) {
        json_writer jw;
        json_init(&jw, env->out);
        json_begin_object(&jw);
        json_key(&jw, "uri"); json_string(&jw, p11tls_key_get_uri(key));
        json_key(&jw, "type"); json_string(&jw, type);
        json_key(&jw, "bits"); json_int(&jw, p11tls_key_get_bits(key));
        json_end_object(&jw);
        json_finish(&jw);
    } else {
        fprintf(env->out, "%s\n", p11tls_key_get_uri(key));
    }
    p11tls_key_free(key);
    return CLI_EXIT_OK;
}

/* ---- import-cert ----------------------------------------------------------- */

/* The certificates of a PEM file (all of them, in order) or a DER file. */
static int read_certs(const char *path, gnutls_x509_crt_t **crts, unsigned *n)
{
    gnutls_datum_t data = {NULL, 0};
    int rc = cli_read_file(path, "certificate file", &data);

    if (rc)
        return rc;
    rc = gnutls_x509_crt_list_import2(crts, n, &data, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0)
        rc = gnutls_x509_crt_list_import2(crts, n, &data, GNUTLS_X509_FMT_DER, 0);
    free(data.data);
    if (rc < 0 || *n == 0)
        return cli_error(CLI_EXIT_FAILURE, "'%s' holds no certificate (PEM or DER): %s", path,
                         gnutls_strerror(rc < 0 ? rc : GNUTLS_E_NO_CERTIFICATE_FOUND));
    return CLI_EXIT_OK;
}

int cli_cmd_import_cert(cli_env *env)
{
    char shown[CLI_URI_BUF];
    const char *uri = pos(env, 0), *file = pos(env, 1);
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0, i;
    uint8_t *id = NULL;
    size_t id_len;
    json_writer jw;
    int status;

    const unsigned seen = env->args->seen;
    unsigned trust = 0;

    if ((seen & CLI_OPT_TRUSTED) && (seen & CLI_OPT_DISTRUST))
        return cli_error(CLI_EXIT_USAGE, "import-cert: --trusted or --distrust, not both");
    if ((seen & CLI_OPT_SO_PIN_FD) && !(seen & CLI_OPT_TRUSTED))
        return cli_error(CLI_EXIT_USAGE, "import-cert: --so-pin-fd is for --trusted (the SO PIN)");
    if (seen & CLI_OPT_TRUSTED)
        trust |= P11TLS_CERT_WRITE_TRUSTED;
    if (seen & CLI_OPT_MARK_CA)
        trust |= P11TLS_CERT_WRITE_CA;
    if (seen & CLI_OPT_DISTRUST)
        trust |= P11TLS_CERT_WRITE_DISTRUSTED;
    env->pin->so_fd = env->args->so_pin_fd;
    status = parse_id(env, &id, &id_len);
    if (status)
        return status;
    status = read_certs(file, &crts, &n);
    if (status) {
        free(id);
        return status;
    }
    cli_redact_uri(uri, shown, sizeof(shown));
    if (env->json) {
        json_init(&jw, env->out);
        json_begin_object(&jw);
        json_key(&jw, "written");
        json_begin_array(&jw);
    }
    /* The first certificate is the one named, marked as asked; the others
     * its issuers, written plainly, labelled by their common names, and
     * skipped where already there. */
    for (i = 0; i < n && !status; i++) {
        gnutls_datum_t der = {NULL, 0};
        char *written = NULL;
        int rc = gnutls_x509_crt_export2(crts[i], GNUTLS_X509_FMT_DER, &der);
        if (rc < 0) {
            status = cli_error(CLI_EXIT_FAILURE, "'%s': certificate %u: %s", file, i + 1,
                               gnutls_strerror(rc));
            break;
        }
        rc = p11tls_cert_write(env->ctx, uri, der.data, der.size, i ? NULL : env->args->label,
                               i ? NULL : id, i ? 0 : id_len,
                               i ? P11TLS_CERT_WRITE_SKIP_EXISTING : trust, &written);
        gnutls_free(der.data);
        if (rc < 0) {
            status = cli_fail(rc, cli_pin_problem(env->pin, rc),
                              "writing certificate %u of '%s' to '%s'", i + 1, file, shown);
            break;
        }
        if (written && env->json)
            json_string(&jw, written);
        else if (written)
            fprintf(env->out, "%s\n", written);
        else if (!env->json)
            fprintf(stderr, "p11tls: certificate %u of '%s' is on the token already\n", i + 1,
                    file);
        p11tls_free(written);
    }
    if (env->json && !status) {
        json_end_array(&jw);
        json_end_object(&jw);
        json_finish(&jw);
    }
    for (i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    free(id);
    return status;
}

/* ---- delete ------------------------------------------------------------------ */

typedef struct found {
    char **uris;
    size_t n, cap;
} found;

static int collect(void *arg, const p11tls_object_info *o)
{
    found *f = arg;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        char **u = realloc(f->uris, cap * sizeof(*u));
        if (!u)
            return P11TLS_E_MEMORY;
        f->uris = u;
        f->cap = cap;
    }
    f->uris[f->n] = strdup(o->uri);
    if (!f->uris[f->n])
        return P11TLS_E_MEMORY;
    f->n++;
    return 0;
}

/* Asks on the terminal; only when stdin is one (else --yes is needed). */
static int confirmed(size_t n)
{
    char answer[16];
    if (!isatty(STDIN_FILENO))
        return 0;
    fprintf(stderr, "Delete %zu object%s? [y/N] ", n, n == 1 ? "" : "s");
    fflush(stderr);
    if (!fgets(answer, sizeof(answer), stdin))
        return 0;
    return answer[0] == 'y' || answer[0] == 'Y';
}

int cli_cmd_delete(cli_env *env)
{
    char shown[CLI_URI_BUF];
    const char *uri = pos(env, 0);
    const int all = (env->args->seen & CLI_OPT_ALL) != 0;
    found f = {NULL, 0, 0};
    size_t i;
    int rc, status = CLI_EXIT_OK;

    cli_redact_uri(uri, shown, sizeof(shown));
    /* The library refuses it too, but only after the listing below would
     * have shown every object of the token "to delete". */
    if (!cli_uri_names_object(uri))
        return cli_error(CLI_EXIT_USAGE,
                         "'%s' names no object (no object=, id= or type=); delete takes the URI "
                         "of one object, or of several with --all; nothing deleted", shown);
    rc = p11tls_list_objects(env->ctx, uri, P11TLS_LIST_LOGIN, collect, &f);
    if (rc < 0) {
        status = cli_fail(rc, cli_pin_problem(env->pin, rc), "finding objects matching '%s'", shown);
        goto out;
    }
    if (f.n == 0) {
        status = cli_error(CLI_EXIT_NOT_FOUND, "no object matches '%s'; nothing deleted", shown);
        goto out;
    }
    fprintf(stderr, "%s:\n", f.n > 1 && !all ? "the URI matches several objects" : "to delete");
    for (i = 0; i < f.n; i++)
        fprintf(stderr, "  %s\n", f.uris[i]);
    if (f.n > 1 && !all) {
        status = cli_error(CLI_EXIT_AMBIGUOUS,
                           "'%s' matches %zu objects; nothing deleted (name one, e.g. with "
                           "type=, or give --all)", shown, f.n);
        goto out;
    }
    if (!(env->args->seen & CLI_OPT_YES) && !confirmed(f.n)) {
        status = cli_error(CLI_EXIT_FAILURE, isatty(STDIN_FILENO)
                                                 ? "not confirmed; nothing deleted"
                                                 : "not deleting without --yes (standard input "
                                                   "is not a terminal to ask on)");
        goto out;
    }
    rc = p11tls_object_delete(env->ctx, uri, all ? P11TLS_DELETE_MULTIPLE : 0);
    if (rc < 0) {
        status = cli_fail(rc, cli_pin_problem(env->pin, rc), "deleting '%s'", shown);
        goto out;
    }
    if (env->json) {
        json_writer jw;
        json_init(&jw, env->out);
        json_begin_object(&jw);
        json_key(&jw, "deleted"); json_int(&jw, rc);
        json_key(&jw, "objects");
        json_begin_array(&jw);
        for (i = 0; i < f.n; i++)
            json_string(&jw, f.uris[i]);
        json_end_array(&jw);
        json_end_object(&jw);
        json_finish(&jw);
    } else {
        fprintf(env->out, "deleted %d object%s\n", rc, rc == 1 ? "" : "s");
    }
out:
    for (i = 0; i < f.n; i++)
        free(f.uris[i]);
    free(f.uris);
    return status;
}

/* ---- set-pin ------------------------------------------------------------------ */

int cli_cmd_set_pin(cli_env *env)
{
    char shown[CLI_URI_BUF];
    const char *uri = pos(env, 0);
    int rc;

    cli_redact_uri(uri, shown, sizeof(shown));
    rc = p11tls_token_set_pin(env->ctx, uri, 0);
    if (rc < 0)
        return cli_fail(rc, cli_pin_problem(env->pin, rc), "changing the user PIN of '%s'", shown);
    if (env->json) {
        json_writer jw;
        json_init(&jw, env->out);
        json_begin_object(&jw);
        json_key(&jw, "token"); json_string(&jw, shown);
        json_key(&jw, "changed"); json_bool(&jw, 1);
        json_end_object(&jw);
        json_finish(&jw);
    } else {
        fprintf(env->out, "user PIN changed\n");
    }
    return CLI_EXIT_OK;
}

/* ---- mechanisms ------------------------------------------------------------------ */

static const struct {
    unsigned long flag;
    const char *name;
} mech_flags[] = {
    {0x100, "encrypt"}, {0x200, "decrypt"}, {0x400, "digest"}, {0x800, "sign"},
    {0x2000, "verify"}, {0x8000, "generate"}, {0x10000, "generate-key-pair"},
    {0x20000, "wrap"}, {0x40000, "unwrap"}, {0x80000, "derive"}, {0x1, "hw"},
};

typedef struct mech_state {
    FILE *out;
    json_writer *jw; /* NULL: text */
    size_t n;        /* mechanisms listed */
} mech_state;

static int mech_cb(void *arg, const p11tls_mechanism_info *m)
{
    mech_state *st = arg;
    json_writer *jw = st->jw;
    size_t i;

    st->n++;
    if (jw) {
        json_begin_object(jw);
        json_key(jw, "name"); json_string(jw, m->name);
        json_key(jw, "type"); json_uint(jw, m->type);
        json_key(jw, "min_key_size"); json_uint(jw, m->min_key_size);
        json_key(jw, "max_key_size"); json_uint(jw, m->max_key_size);
        json_key(jw, "flags");
        json_begin_array(jw);
        for (i = 0; i < sizeof(mech_flags) / sizeof(mech_flags[0]); i++)
            if (m->flags & mech_flags[i].flag)
                json_string(jw, mech_flags[i].name);
        json_end_array(jw);
        json_end_object(jw);
        return 0;
    }
    fprintf(st->out, "%-32s", m->name);
    if (m->max_key_size)
        fprintf(st->out, " keys %lu-%lu", m->min_key_size, m->max_key_size);
    for (i = 0; i < sizeof(mech_flags) / sizeof(mech_flags[0]); i++)
        if (m->flags & mech_flags[i].flag)
            fprintf(st->out, " %s", mech_flags[i].name);
    fputc('\n', st->out);
    return 0;
}

/* The label of the token uri names (the one the listing used). */
static int copy_label(void *arg, const p11tls_token_info *t)
{
    snprintf(arg, 64, "%s", t->label);
    return 1;
}

int cli_cmd_mechanisms(cli_env *env)
{
    char shown[CLI_URI_BUF];
    const char *uri = pos(env, 0);
    json_writer jw;
    mech_state st = {env->out, NULL, 0};
    int rc;

    cli_redact_uri(uri, shown, sizeof(shown));
    if (env->json) {
        json_init(&jw, env->out);
        json_begin_array(&jw);
        st.jw = &jw;
    }
    rc = p11tls_token_list_mechanisms(env->ctx, uri, mech_cb, &st);
    if (rc < 0)
        return cli_fail(rc, NULL, "mechanisms of '%s'", shown);
    if (!env->json && st.n == 0) {
        char label[64] = "";
        p11tls_list_tokens(env->ctx, uri, copy_label, label);
        fprintf(env->out, "no mechanisms: token %s lists none\n", label);
    }
    if (env->json) {
        json_end_array(&jw);
        json_finish(&jw);
    }
    return CLI_EXIT_OK;
}
