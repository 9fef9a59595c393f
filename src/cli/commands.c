/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* commands.c - the subcommands of the p11tls tool. */
#define _DEFAULT_SOURCE 1
#include "commands.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "describe.h"
#include "json.h"
#include "trust_stores.h"
#include "util.h"
#include "verify.h"

static int cmd_list_tokens(cli_env *env);
static int cmd_list(cli_env *env);
static int cmd_info(cli_env *env);
static int cmd_export_cert(cli_env *env);
static int cmd_sign(cli_env *env);

const cli_command cli_commands[] = {
    {"list-tokens", cmd_list_tokens, "[URI]",
     "list tokens, and modules that failed to load", 0, 0, 0, 1, 1},
    {"list", cmd_list, "[URI] [--login] [--include-trust]",
     "list objects (certificates, keys); without a URI, not those of trust stores",
     CLI_OPT_LOGIN | CLI_OPT_INCLUDE_TRUST, 0, 0, 1, 0},
    {"info", cmd_info, "URI [--login]",
     "show an object: a key (size, schemes, public key), a certificate, ...",
     CLI_OPT_LOGIN, 0, 1, 1, 0},
    {"export-cert", cmd_export_cert, "URI [--pem]",
     "write a certificate to stdout, DER or PEM", CLI_OPT_PEM, 0, 1, 1, 0},
    {"sign", cmd_sign, "URI --scheme NAME [--prehashed]",
     "sign stdin, write the signature to stdout",
     CLI_OPT_SCHEME | CLI_OPT_PREHASHED, CLI_OPT_SCHEME, 1, 1, 0},
    {"serve", cli_cmd_serve,
     "KEY_URI --cert CERT [--port N] [--count N] [--workers N] "
     "[--ca FILE] [--trust URI]... [--require-client-cert]",
     "serve TLS on 127.0.0.1 with the key, for --count connections (per worker)",
     CLI_OPT_CERT | CLI_OPT_PORT | CLI_OPT_COUNT | CLI_OPT_CA |
         CLI_OPT_REQUIRE_CLIENT_CERT | CLI_OPT_WORKERS | CLI_OPT_TRUST,
     CLI_OPT_CERT, 1, 1, 0},
    {"connect", cli_cmd_connect,
     "[KEY_URI --cert CERT] --port N (--ca FILE | --trust URI)... [--server-name NAME]",
     "connect to 127.0.0.1:N over TLS, presenting the key's certificate",
     CLI_OPT_CERT | CLI_OPT_PORT | CLI_OPT_CA | CLI_OPT_SERVER_NAME | CLI_OPT_TRUST,
     CLI_OPT_PORT, 0, 1, 0},
    {"verify", cli_cmd_verify, "CERT-FILE --trust URI [--trust URI]... [--chain FILE]",
     "verify a certificate against the anchors found through the URIs "
     "(exit 0 trusted, 1 not trusted, 2 error, 3 no token)",
     CLI_OPT_TRUST | CLI_OPT_CHAIN, CLI_OPT_TRUST, 1, 1, 0},
    /* provisioning (provision.c, csr.c, chain.c) */
    {"generate", cli_cmd_generate, "TOKEN-URI --type TYPE --label LABEL [--id HEX]",
     "generate a key pair on the token; prints its URI",
     CLI_OPT_TYPE | CLI_OPT_LABEL | CLI_OPT_ID, CLI_OPT_TYPE | CLI_OPT_LABEL, 1, 1, 0},
    {"csr", cli_cmd_csr, "KEY-URI --subject DN [--dns NAME]...",
     "write a PKCS#10 request signed on the token (PEM)", CLI_OPT_SUBJECT | CLI_OPT_DNS,
     CLI_OPT_SUBJECT, 1, 1, 0},
    {"import-cert", cli_cmd_import_cert,
     "TOKEN-URI FILE --label LABEL [--id HEX] [--trusted [--ca] [--so-pin-fd N] | --distrust]",
     "write a certificate (PEM or DER; issuers after it too) to the token",
     CLI_OPT_LABEL | CLI_OPT_ID | CLI_OPT_TRUSTED | CLI_OPT_MARK_CA | CLI_OPT_DISTRUST |
         CLI_OPT_SO_PIN_FD,
     CLI_OPT_LABEL, 2, 2, 0},
    {"delete", cli_cmd_delete, "URI [--yes] [--all]",
     "delete the one object URI names (asks first unless --yes)", CLI_OPT_YES | CLI_OPT_ALL, 0,
     1, 1, 0},
    {"export-chain", cli_cmd_export_chain, "CERT-URI [--pem]",
     "write the certificate and its issuers on the token", CLI_OPT_PEM, 0, 1, 1, 0},
    {"mechanisms", cli_cmd_mechanisms, "TOKEN-URI", "list the token's mechanisms, by name", 0, 0,
     1, 1, 0},
    {"set-pin", cli_cmd_set_pin, "TOKEN-URI", "change the user PIN (current and new asked)", 0,
     0, 1, 1, 0},
    /* Run by main() itself, before any context is made. */
    {"help", NULL, "[COMMAND]", "show the commands, or one command's usage and options", 0, 0,
     0, 1, 0},
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

/* Whether key makes scheme as TLS 1.3 names it: an ECDSA scheme names its
 * curve (ecdsa_secp384r1_sha384 is no scheme of a P-256 key, although
 * p11tls_key_supports() says yes: it selects the hash only, as TLS 1.2's
 * ECDSA code points do). */
static int key_makes(p11tls_key *key, uint16_t scheme)
{
    int bits = 0;
    switch (scheme) {
    case P11TLS_SIG_ECDSA_SECP256R1_SHA256: bits = 256; break;
    case P11TLS_SIG_ECDSA_SECP384R1_SHA384: bits = 384; break;
    case P11TLS_SIG_ECDSA_SECP521R1_SHA512: bits = 521; break;
    }
    if (bits && p11tls_key_get_bits(key) != bits)
        return 0;
    return p11tls_key_supports(key, scheme) == 1;
}

static const char *scheme_name(uint16_t scheme, char *buf, size_t size)
{
    const char *n = p11tls_sig_scheme_name(scheme);
    if (n)
        return n;
    snprintf(buf, size, "0x%04x", scheme);
    return buf;
}

static const char *str_or_empty(const char *s) { return s ? s : ""; }

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
        return cli_fail(rc, cli_pin_extra(env, rc), "key '%s'",
                        cli_redact_uri(uri, shown, sizeof(shown)));
    return CLI_EXIT_OK;
}

/* ---- list-tokens ------------------------------------------------------- */

typedef struct list_state {
    cli_env *env;
    json_writer *jw;
    int n;
    int n_tokens; /* initialized ones: "Token N" */
} list_state;

static int token_cb(void *arg, const p11tls_token_info *t)
{
    list_state *st = arg;
    FILE *f = st->env->out;
    /* An empty slot (SoftHSM keeps one for the next token) is no token
     * named "": said for what it is, with what it can tell. */
    const int initialized = (t->flags & CKF_TOKEN_INITIALIZED) != 0;

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
        json_key(w, "initialized"); json_bool(w, initialized);
        json_key(w, "flag_names"); cli_token_flags_json(w, t->flags);
        json_end_object(w);
    } else if (!initialized) {
        fprintf(f, "Uninitialized token in slot %lu:\n", t->slot_id);
        cli_field(f, "\t", "Manufacturer", t->manufacturer);
        cli_field(f, "\t", "Model", t->model);
        cli_field(f, "\t", "Module", t->module_name);
        fprintf(f, "\tSlot: %lu\n", t->slot_id);
        cli_token_flags_text(f, "\t", t->flags);
        fputc('\n', f);
    } else {
        fprintf(f, "Token %d:\n", st->n_tokens++);
        cli_field(f, "\t", "URI", t->uri);
        cli_field(f, "\t", "Label", t->label);
        cli_field(f, "\t", "Manufacturer", t->manufacturer);
        cli_field(f, "\t", "Model", t->model);
        cli_field(f, "\t", "Serial", t->serial);
        cli_field(f, "\t", "Module", t->module_name);
        fprintf(f, "\tSlot: %lu\n", t->slot_id);
        cli_token_flags_text(f, "\t", t->flags);
        fputc('\n', f);
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
    list_state st = {env, NULL, 0, 0};
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
    if (uri && st.n == 0)
        return cli_error(CLI_EXIT_NOT_FOUND, "no token matches '%s'",
                         cli_redact_uri(uri, shown, sizeof(shown)));
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

    if (st->jw) {
        int rc;
        json_begin_object(st->jw);
        rc = cli_object_json(st->jw, o);
        json_end_object(st->jw);
        if (rc)
            return rc;
    } else {
        fprintf(st->env->out, "Object %d:\n", st->n);
        cli_object_text(st->env->out, "\t", o);
        fputc('\n', st->env->out);
    }
    st->n++;
    return 0;
}

static int cmd_list(cli_env *env)
{
    char shown[CLI_URI_BUF];
    json_writer jw;
    list_state st = {env, NULL, 0, 0};
    const char *uri = arg_uri(env);
    unsigned flags = (env->args->seen & CLI_OPT_LOGIN) ? P11TLS_LIST_LOGIN : 0;
    /* Without a URI the trust stores are left out (trust_stores.h). */
    const int all = uri || (env->args->seen & CLI_OPT_INCLUDE_TRUST);
    cli_skipped skipped;
    size_t i;
    int rc;

    if (env->json) {
        json_init(&jw, env->out);
        json_begin_array(&jw);
        st.jw = &jw;
    }
    memset(&skipped, 0, sizeof(skipped));
    rc = all ? p11tls_list_objects(env->ctx, uri, flags, object_cb, &st)
             : cli_list_without_trust_stores(env->ctx, flags, object_cb, &st, &skipped);
    for (i = 0; rc >= 0 && i < skipped.n; i++)
        fprintf(stderr, "p11tls: note: the trust store '%s' is not listed (%s); name it in the "
                        "URI, or give --include-trust\n", skipped.labels[i], skipped.uris[i]);
    cli_skipped_free(&skipped);
    if (rc < 0) {
        if (uri)
            return cli_fail(rc, cli_pin_extra(env, rc), "listing objects matching '%s'",
                            cli_redact_uri(uri, shown, sizeof(shown)));
        return cli_fail(rc, cli_pin_extra(env, rc), "listing objects");
    }
    /* A filter that keeps nothing is what a mistyped URI looks like. */
    if (uri && st.n == 0)
        return cli_error(CLI_EXIT_NOT_FOUND, "no object matches '%s'%s",
                         cli_redact_uri(uri, shown, sizeof(shown)),
                         flags & P11TLS_LIST_LOGIN
                             ? ""
                             : " (private objects are listed with --login)");
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

    if (cli_info_object(env, &status))
        return status;
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
    /* P11TLS_E_UNSUPPORTED: an EdDSA key stored without its public key
     * (p11tls(1), "Key identity"): shown without one. */
    if (rc < 0 && rc != P11TLS_E_UNSUPPORTED) {
        status = cli_fail(rc, NULL, "key '%s': public key", shown);
        goto out;
    }
    pem = rc < 0 ? NULL : cli_pem("PUBLIC KEY", spki, spki_len);
    if (!pem && rc == 0) {
        status = cli_error(CLI_EXIT_FAILURE, "key '%s': cannot encode the public key as PEM",
                           shown);
        goto out;
    }
    uri = p11tls_key_get_uri(key);

    if (env->json) {
        json_init(&jw, f);
        json_begin_object(&jw);
        json_key(&jw, "uri"); json_string(&jw, uri);
        json_key(&jw, "class"); json_string(&jw, "private key");
        json_key(&jw, "algorithm"); json_string(&jw, cli_alg_name(alg));
        json_key(&jw, "bits"); json_int(&jw, bits);
        cli_info_key_fields(env, uri, &jw);
        json_key(&jw, "schemes");
        json_begin_array(&jw);
        for (i = 0; i < sizeof(all_schemes) / sizeof(all_schemes[0]); i++)
            if (key_makes(key, all_schemes[i]))
                json_string(&jw, scheme_name(all_schemes[i], buf, sizeof(buf)));
        json_end_array(&jw);
        json_key(&jw, "spki_pem");
        if (pem)
            json_string(&jw, pem);
        else
            json_null(&jw);
        json_end_object(&jw);
        json_finish(&jw);
    } else {
        const char *an = cli_alg_name(alg);
        fprintf(f, "URI: %s\nClass: private key\n", str_or_empty(uri));
        if (an)
            fprintf(f, "Algorithm: %s\n", an);
        else
            fprintf(f, "Algorithm: %d\n", alg);
        fprintf(f, "Bits: %d\n", bits);
        cli_info_key_fields(env, uri, NULL);
        fprintf(f, "Schemes:");
        for (i = 0; i < sizeof(all_schemes) / sizeof(all_schemes[0]); i++)
            if (key_makes(key, all_schemes[i]))
                fprintf(f, " %s", scheme_name(all_schemes[i], buf, sizeof(buf)));
        if (pem) {
            fprintf(f, "\nPublic key:\n%s", pem);
            if (pem[0] && pem[strlen(pem) - 1] != '\n')
                fputc('\n', f);
        } else {
            fprintf(f, "\nPublic key: unknown (not on the token)\n");
        }
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
        return cli_fail(rc, cli_pin_extra(env, rc), "certificate '%s'", shown);

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
        status = cli_fail(rc, cli_pin_extra(env, rc), "signing %s with '%s' (%s)",
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
