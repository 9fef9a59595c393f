/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* commands.c - the subcommands of the p11tls tool. */
#define _DEFAULT_SOURCE 1
#include "commands.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classes.h"
#include "json.h"
#include "util.h"

static int cmd_list_tokens(cli_env *env);
static int cmd_list(cli_env *env);
static int cmd_info(cli_env *env);
static int cmd_export_cert(cli_env *env);
static int cmd_sign(cli_env *env);

const cli_command cli_commands[] = {
    {"list-tokens", cmd_list_tokens, "[URI]",
     "list tokens, and modules that failed to load", 0, 0, 0, 1, 1},
    {"list", cmd_list, "[URI] [--login]",
     "list objects (certificates, keys)", CLI_OPT_LOGIN, 0, 0, 1, 0},
    {"info", cmd_info, "URI",
     "show a private key: algorithm, size, schemes, public key", 0, 0, 1, 1, 0},
    {"export-cert", cmd_export_cert, "URI [--pem]",
     "write a certificate to stdout, DER or PEM", CLI_OPT_PEM, 0, 1, 1, 0},
    {"sign", cmd_sign, "URI --scheme NAME [--prehashed]",
     "sign stdin, write the signature to stdout",
     CLI_OPT_SCHEME | CLI_OPT_PREHASHED, CLI_OPT_SCHEME, 1, 1, 0},
    {"serve", cli_cmd_serve,
     "KEY_URI --cert CERT [--port N] [--count N] [--workers N] "
     "[--ca FILE [--require-client-cert]]",
     "serve TLS on 127.0.0.1 with the key, for --count connections (per worker)",
     CLI_OPT_CERT | CLI_OPT_PORT | CLI_OPT_COUNT | CLI_OPT_CA |
         CLI_OPT_REQUIRE_CLIENT_CERT | CLI_OPT_WORKERS,
     CLI_OPT_CERT, 1, 1, 0},
    {"connect", cli_cmd_connect,
     "[KEY_URI --cert CERT] --port N --ca FILE [--server-name NAME]",
     "connect to 127.0.0.1:N over TLS, presenting the key's certificate",
     CLI_OPT_CERT | CLI_OPT_PORT | CLI_OPT_CA | CLI_OPT_SERVER_NAME,
     CLI_OPT_PORT | CLI_OPT_CA, 0, 1, 0},
    /* Run by main() before any option is parsed (exec.c). */
    {"exec", cli_cmd_exec, "-- COMMAND [ARG]...",
     "run an unmodified GnuTLS program with p11tls serving its pkcs11: URLs",
     0, 0, 0, (size_t)-1, 0},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0},
};

const cli_command *cli_command_find(const char *name)
{
    const cli_command *c;
    for (c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* ---- helpers ----------------------------------------------------------- */

static const uint16_t all_schemes[] = {
    P11TLS_SIG_RSA_PKCS1_SHA256,       P11TLS_SIG_RSA_PKCS1_SHA384,
    P11TLS_SIG_RSA_PKCS1_SHA512,       P11TLS_SIG_ECDSA_SECP256R1_SHA256,
    P11TLS_SIG_ECDSA_SECP384R1_SHA384, P11TLS_SIG_ECDSA_SECP521R1_SHA512,
    P11TLS_SIG_RSA_PSS_RSAE_SHA256,    P11TLS_SIG_RSA_PSS_RSAE_SHA384,
    P11TLS_SIG_RSA_PSS_RSAE_SHA512,    P11TLS_SIG_ED25519,
    P11TLS_SIG_ED448,
};

static const char *scheme_name(uint16_t scheme, char *buf, size_t size)
{
    const char *n = p11tls_sig_scheme_name(scheme);
    if (n)
        return n;
    snprintf(buf, size, "0x%04x", scheme);
    return buf;
}

static const char *alg_name(int alg)
{
    switch (alg) {
    case P11TLS_ALG_RSA: return "RSA";
    case P11TLS_ALG_ECDSA: return "ECDSA";
    case P11TLS_ALG_ED25519: return "Ed25519";
    case P11TLS_ALG_ED448: return "Ed448";
    default: return NULL;
    }
}

static const char *str_or_empty(const char *s) { return s ? s : ""; }

/* Prints "\t<name>: <value>\n"; control characters in the value (token
 * strings come from devices) are shown as '?'. */
static void put_field(FILE *f, const char *name, const char *value)
{
    const unsigned char *p = (const unsigned char *)str_or_empty(value);
    fprintf(f, "\t%s: ", name);
    for (; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
    fputc('\n', f);
}

/* Why the PIN function gave up, for PIN errors. */
static const char *pin_extra(const cli_env *env, int rc)
{
    if (rc == P11TLS_E_PIN_CANCELLED || rc == P11TLS_E_PIN_REQUIRED ||
        rc == P11TLS_E_PIN_INCORRECT)
        return env->pin->problem;
    return NULL;
}

static const char *arg_uri(const cli_env *env)
{
    return env->args->n_pos > 0 ? env->args->pos[0] : NULL;
}

/* Opens the key named by the first argument; prints the error. */
static int open_key(cli_env *env, p11tls_key **key)
{
    char shown[CLI_URI_BUF];
    const char *uri = arg_uri(env);
    int rc = p11tls_key_open(env->ctx, uri, 0, key);
    if (rc < 0)
        return cli_fail(rc, pin_extra(env, rc), "key '%s'",
                        cli_redact_uri(uri, shown, sizeof(shown)));
    return CLI_EXIT_OK;
}

/* ---- list-tokens ------------------------------------------------------- */

typedef struct list_state {
    cli_env *env;
    json_writer *jw;
    int n;
} list_state;

static int token_cb(void *arg, const p11tls_token_info *t)
{
    list_state *st = arg;
    FILE *f = st->env->out;

    if (st->jw) {
        json_writer *w = st->jw;
        json_begin_object(w);
        json_key(w, "type"); json_string(w, "token");
        json_key(w, "uri"); json_string(w, t->uri);
        json_key(w, "label"); json_string(w, t->label);
        json_key(w, "manufacturer"); json_string(w, t->manufacturer);
        json_key(w, "model"); json_string(w, t->model);
        json_key(w, "serial"); json_string(w, t->serial);
        json_key(w, "module"); json_string(w, t->module_name);
        json_key(w, "slot_id"); json_uint(w, t->slot_id);
        json_key(w, "flags"); json_uint(w, t->flags);
        json_end_object(w);
    } else {
        fprintf(f, "Token %d:\n", st->n);
        put_field(f, "URI", t->uri);
        put_field(f, "Label", t->label);
        put_field(f, "Manufacturer", t->manufacturer);
        put_field(f, "Model", t->model);
        put_field(f, "Serial", t->serial);
        put_field(f, "Module", t->module_name);
        fprintf(f, "\tSlot: %lu\n\n", t->slot_id);
    }
    st->n++;
    return 0;
}

static int module_cb(void *arg, const p11tls_module_info *m)
{
    list_state *st = arg;
    FILE *f = st->env->out;

    if (m->status >= 0)
        return 0;
    if (st->jw) {
        json_writer *w = st->jw;
        json_begin_object(w);
        json_key(w, "type"); json_string(w, "module");
        json_key(w, "name"); json_string(w, m->name);
        json_key(w, "path"); json_string(w, m->path);
        json_key(w, "status"); json_int(w, m->status);
        json_key(w, "status_name"); json_string(w, p11tls_strerror_name(m->status));
        json_key(w, "message"); json_string(w, p11tls_strerror(m->status));
        json_key(w, "error"); json_string(w, m->error);
        json_end_object(w);
    } else {
        if (st->n++ == 0)
            fprintf(f, "Modules that failed:\n");
        fprintf(f, "\t%s%s%s%s: %s%s%s\n", str_or_empty(m->name),
                m->path && m->name && strcmp(m->path, m->name) ? " (" : "",
                m->path && m->name && strcmp(m->path, m->name) ? m->path : "",
                m->path && m->name && strcmp(m->path, m->name) ? ")" : "",
                p11tls_strerror(m->status), m->error && *m->error ? ": " : "",
                str_or_empty(m->error));
    }
    return 0;
}

static int cmd_list_tokens(cli_env *env)
{
    char shown[CLI_URI_BUF];
    json_writer jw;
    list_state st = {env, NULL, 0};
    const char *uri = arg_uri(env);
    int rc;

    if (env->json) {
        json_init(&jw, env->out);
        json_begin_array(&jw);
        st.jw = &jw;
    }
    rc = p11tls_list_tokens(env->ctx, uri, token_cb, &st);
    if (rc < 0) {
        if (uri)
            return cli_fail(rc, NULL, "listing tokens matching '%s'",
                            cli_redact_uri(uri, shown, sizeof(shown)));
        return cli_fail(rc, NULL, "listing tokens");
    }
    st.n = 0;
    rc = p11tls_list_modules(env->ctx, module_cb, &st);
    if (rc < 0)
        return cli_fail(rc, NULL, "listing modules");
    if (env->json) {
        json_end_array(&jw);
        json_finish(&jw);
    }
    return CLI_EXIT_OK;
}

/* ---- list -------------------------------------------------------------- */

static int object_cb(void *arg, const p11tls_object_info *o)
{
    list_state *st = arg;
    FILE *f = st->env->out;
    char *id = cli_hex(o->id, o->id ? o->id_len : 0);
    char cls_buf[32];
    const char *cls = cli_class_name(o->object_class, cls_buf, sizeof cls_buf);
    const char *alg = alg_name(o->algorithm);

    if (!id)
        return P11TLS_E_MEMORY;
    if (st->jw) {
        json_writer *w = st->jw;
        json_begin_object(w);
        json_key(w, "uri"); json_string(w, o->uri);
        json_key(w, "class"); json_string(w, cls);
        json_key(w, "algorithm"); json_string(w, alg);
        json_key(w, "label"); json_string(w, o->label);
        json_key(w, "id"); json_string(w, id);
        json_key(w, "token"); json_string(w, o->token_label);
        json_end_object(w);
    } else {
        fprintf(f, "Object %d:\n", st->n);
        put_field(f, "URI", o->uri);
        fprintf(f, "\tClass: %s\n", cls);
        if (alg)
            fprintf(f, "\tAlgorithm: %s\n", alg);
        put_field(f, "Label", o->label);
        fprintf(f, "\tID: %s\n", id);
        put_field(f, "Token", o->token_label);
        fputc('\n', f);
    }
    free(id);
    st->n++;
    return 0;
}

static int cmd_list(cli_env *env)
{
    char shown[CLI_URI_BUF];
    json_writer jw;
    list_state st = {env, NULL, 0};
    const char *uri = arg_uri(env);
    unsigned flags = (env->args->seen & CLI_OPT_LOGIN) ? P11TLS_LIST_LOGIN : 0;
    int rc;

    if (env->json) {
        json_init(&jw, env->out);
        json_begin_array(&jw);
        st.jw = &jw;
    }
    rc = p11tls_list_objects(env->ctx, uri, flags, object_cb, &st);
    if (rc < 0) {
        if (uri)
            return cli_fail(rc, pin_extra(env, rc), "listing objects matching '%s'",
                            cli_redact_uri(uri, shown, sizeof(shown)));
        return cli_fail(rc, pin_extra(env, rc), "listing objects");
    }
    if (env->json) {
        json_end_array(&jw);
        json_finish(&jw);
    }
    return CLI_EXIT_OK;
}

/* ---- info -------------------------------------------------------------- */

static int cmd_info(cli_env *env)
{
    char shown[CLI_URI_BUF], buf[16];
    p11tls_key *key = NULL;
    uint8_t *spki = NULL;
    size_t spki_len = 0, i;
    char *pem = NULL;
    const char *uri;
    int alg, bits, rc, status;
    json_writer jw;
    FILE *f = env->out;

    status = open_key(env, &key);
    if (status)
        return status;
    cli_redact_uri(arg_uri(env), shown, sizeof(shown));

    alg = p11tls_key_get_algorithm(key);
    if (alg < 0) {
        status = cli_fail(alg, NULL, "key '%s': algorithm", shown);
        goto out;
    }
    bits = p11tls_key_get_bits(key);
    if (bits < 0) {
        status = cli_fail(bits, NULL, "key '%s': size", shown);
        goto out;
    }
    rc = p11tls_key_get_spki(key, &spki, &spki_len);
    if (rc < 0) {
        status = cli_fail(rc, NULL, "key '%s': public key", shown);
        goto out;
    }
    pem = cli_pem("PUBLIC KEY", spki, spki_len);
    if (!pem) {
        status = cli_error(CLI_EXIT_FAILURE, "key '%s': cannot encode the public key as PEM",
                           shown);
        goto out;
    }
    uri = p11tls_key_get_uri(key);

    if (env->json) {
        json_init(&jw, f);
        json_begin_object(&jw);
        json_key(&jw, "uri"); json_string(&jw, uri);
        json_key(&jw, "algorithm"); json_string(&jw, alg_name(alg));
        json_key(&jw, "bits"); json_int(&jw, bits);
        json_key(&jw, "schemes");
        json_begin_array(&jw);
        for (i = 0; i < sizeof(all_schemes) / sizeof(all_schemes[0]); i++)
            if (p11tls_key_supports(key, all_schemes[i]) == 1)
                json_string(&jw, scheme_name(all_schemes[i], buf, sizeof(buf)));
        json_end_array(&jw);
        json_key(&jw, "spki_pem"); json_string(&jw, pem);
        json_end_object(&jw);
        json_finish(&jw);
    } else {
        const char *an = alg_name(alg);
        fprintf(f, "URI: %s\n", str_or_empty(uri));
        if (an)
            fprintf(f, "Algorithm: %s\n", an);
        else
            fprintf(f, "Algorithm: %d\n", alg);
        fprintf(f, "Bits: %d\n", bits);
        fprintf(f, "Schemes:");
        for (i = 0; i < sizeof(all_schemes) / sizeof(all_schemes[0]); i++)
            if (p11tls_key_supports(key, all_schemes[i]) == 1)
                fprintf(f, " %s", scheme_name(all_schemes[i], buf, sizeof(buf)));
        fprintf(f, "\nPublic key:\n%s", pem);
        if (pem[0] && pem[strlen(pem) - 1] != '\n')
            fputc('\n', f);
    }
    status = CLI_EXIT_OK;
out:
    free(pem);
    p11tls_free(spki);
    p11tls_key_free(key);
    return status;
}

/* ---- export-cert ------------------------------------------------------- */

static int cmd_export_cert(cli_env *env)
{
    char shown[CLI_URI_BUF];
    const char *uri = arg_uri(env);
    uint8_t *der = NULL;
    size_t len = 0;
    char *pem = NULL;
    int rc, status = CLI_EXIT_OK;

    cli_redact_uri(uri, shown, sizeof(shown));
    rc = p11tls_cert_get_der(env->ctx, uri, &der, &len);
    if (rc < 0)
        return cli_fail(rc, pin_extra(env, rc), "certificate '%s'", shown);

    if (env->json || (env->args->seen & CLI_OPT_PEM)) {
        pem = cli_pem("CERTIFICATE", der, len);
        if (!pem) {
            status = cli_error(CLI_EXIT_FAILURE,
                               "certificate '%s': cannot encode it as PEM", shown);
            goto out;
        }
    }
    if (env->json) {
        json_writer jw;
        json_init(&jw, env->out);
        json_begin_object(&jw);
        json_key(&jw, "uri"); json_string(&jw, shown);
        json_key(&jw, "pem"); json_string(&jw, pem);
        json_end_object(&jw);
        json_finish(&jw);
    } else if (pem) {
        fputs(pem, env->out);
        if (pem[0] && pem[strlen(pem) - 1] != '\n')
            fputc('\n', env->out);
    } else {
        fwrite(der, 1, len, env->out);
    }
out:
    free(pem);
    p11tls_free(der);
    return status;
}

/* ---- sign -------------------------------------------------------------- */

static int parse_scheme(const char *name, uint16_t *out)
{
    uint16_t s = p11tls_sig_scheme_from_name(name);
    if (s == 0 && name[0] == '0' && (name[1] == 'x' || name[1] == 'X')) {
        char *end;
        unsigned long v;
        errno = 0;
        v = strtoul(name + 2, &end, 16);
        if (!errno && end != name + 2 && *end == '\0' && v > 0 && v <= 0xffff)
            s = (uint16_t)v;
    }
    *out = s;
    return s ? 0 : -1;
}

static int cmd_sign(cli_env *env)
{
    char shown[CLI_URI_BUF], buf[16];
    const int prehashed = (env->args->seen & CLI_OPT_PREHASHED) != 0;
    p11tls_key *key = NULL;
    uint8_t *msg = NULL, *sig = NULL;
    size_t msg_len = 0, sig_len, sig_cap = 1024;
    uint16_t scheme;
    int rc, status, attempt;

    if (parse_scheme(env->args->scheme, &scheme) != 0)
        return cli_error(CLI_EXIT_USAGE,
                         "unknown signature scheme '%s' (use a TLS name such as "
                         "ecdsa_secp256r1_sha256 or rsa_pss_rsae_sha256)",
                         env->args->scheme);
    /* Read the input before asking for a PIN: stdin is the message. */
    if (cli_read_all(STDIN_FILENO, &msg, &msg_len) != 0)
        return cli_error(CLI_EXIT_FAILURE, "reading standard input: %s",
                         strerror(errno));

    status = open_key(env, &key);
    if (status)
        goto out;
    cli_redact_uri(arg_uri(env), shown, sizeof(shown));

    for (attempt = 0; attempt < 2; attempt++) {
        free(sig);
        sig = malloc(sig_cap);
        if (!sig) {
            status = cli_error(CLI_EXIT_FAILURE, "out of memory");
            goto out;
        }
        sig_len = sig_cap;
        if (prehashed)
            rc = p11tls_key_sign_hash(key, scheme, msg, msg_len, sig, &sig_len);
        else
            rc = p11tls_key_sign(key, scheme, msg, msg_len, sig, &sig_len);
        if (rc == P11TLS_E_BUFFER_TOO_SMALL && attempt == 0 && sig_len > sig_cap) {
            sig_cap = sig_len;
            continue;
        }
        break;
    }
    if (rc < 0) {
        status = cli_fail(rc, pin_extra(env, rc), "signing %s with '%s' (%s)",
                          prehashed ? "a hash" : "stdin", shown,
                          scheme_name(scheme, buf, sizeof(buf)));
        goto out;
    }

    if (env->json) {
        json_writer jw;
        char *hex = cli_hex(sig, sig_len);
        if (!hex) {
            status = cli_error(CLI_EXIT_FAILURE, "out of memory");
            goto out;
        }
        json_init(&jw, env->out);
        json_begin_object(&jw);
        json_key(&jw, "uri"); json_string(&jw, p11tls_key_get_uri(key));
        json_key(&jw, "scheme"); json_string(&jw, scheme_name(scheme, buf, sizeof(buf)));
        json_key(&jw, "signature"); json_string(&jw, hex);
        json_end_object(&jw);
        json_finish(&jw);
        free(hex);
    } else {
        fwrite(sig, 1, sig_len, env->out);
    }
    status = CLI_EXIT_OK;
out:
    free(sig);
    free(msg);
    p11tls_key_free(key);
    return status;
}
