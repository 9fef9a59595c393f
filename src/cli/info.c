/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* info.c - 'info' on an object that is not a private key: a certificate, a
 * public key, a data object. What the URI names is found with a listing
 * (no PIN needed for public objects); a private key, and a URI that could
 * name one (no type=, nothing public matching, or a key pair's objects),
 * goes on to the private key path in commands.c, as before. */
#define _DEFAULT_SOURCE 1
#include "commands.h"

#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "describe.h"
#include "json.h"
#include "uriattr.h"
#include "util.h"

/* An object copied out of a listing callback (its pointers die with the
 * callback). */
typedef struct copied {
    int have;
    p11tls_object_info o;
    char *uri, *label, *token;
    uint8_t *id, *spki, *value;
} copied;

/* What a URI matches: how many objects, how many private keys, the first
 * of each kind, and what tells the first few apart (for an ambiguity). */
#define BRIEF_MAX 8
typedef struct found {
    int n, n_private_keys;
    copied other, key;
    char briefs[BRIEF_MAX * 256];
} found;

static void *dup_bytes(const void *p, size_t len)
{
    void *d;
    if (!p)
        return NULL;
    d = malloc(len ? len : 1);
    if (d)
        memcpy(d, p, len);
    return d;
}

static char *dup_str(const char *s) { return s ? dup_bytes(s, strlen(s) + 1) : NULL; }

static int copy(copied *c, const p11tls_object_info *o)
{
    c->have = 1;
    c->o = *o;
    c->o.uri = c->uri = dup_str(o->uri);
    c->o.label = c->label = dup_str(o->label);
    c->o.token_label = c->token = dup_str(o->token_label);
    c->o.id = c->id = dup_bytes(o->id, o->id_len);
    c->o.spki = c->spki = dup_bytes(o->spki, o->spki_len);
    c->o.value = c->value = dup_bytes(o->value, o->value_len);
    if ((o->uri && !c->uri) || (o->label && !c->label) || (o->token_label && !c->token) ||
        (o->id && !c->id) || (o->spki && !c->spki) || (o->value && !c->value))
        return P11TLS_E_MEMORY;
    return 0;
}

static void copied_free(copied *c)
{
    free(c->uri);
    free(c->label);
    free(c->token);
    free(c->id);
    free(c->spki);
    free(c->value);
}

static int collect(void *arg, const p11tls_object_info *o)
{
    found *fd = arg;
    const int key = o->object_class == CKO_PRIVATE_KEY;
    copied *c = key ? &fd->key : &fd->other;

    if (fd->n < BRIEF_MAX) {
        size_t used = strlen(fd->briefs);
        char brief[256];
        cli_object_brief(brief, sizeof brief, o);
        snprintf(fd->briefs + used, sizeof fd->briefs - used, "%s%s", used ? "; " : "", brief);
    }
    fd->n++;
    fd->n_private_keys += key;
    return c->have ? 0 : copy(c, o);
}

static void found_free(found *fd)
{
    copied_free(&fd->other);
    copied_free(&fd->key);
}

/* Writes the one object: its fields, then the certificate or public key as
 * PEM. */
static int show(cli_env *env, const p11tls_object_info *o)
{
    const int cert = o->object_class == CKO_CERTIFICATE && o->value;
    char *pem = NULL;
    int rc;

    if (cert || o->spki) {
        pem = cert ? cli_pem("CERTIFICATE", o->value, o->value_len)
                   : cli_pem("PUBLIC KEY", o->spki, o->spki_len);
        if (!pem)
            return cli_error(CLI_EXIT_FAILURE, "object '%s': cannot encode it as PEM", o->uri);
    }
    if (env->json) {
        json_writer w;
        json_init(&w, env->out);
        json_begin_object(&w);
        rc = cli_object_json(&w, o);
        if (pem) {
            json_key(&w, cert ? "pem" : "spki_pem");
            json_string(&w, pem);
        }
        json_end_object(&w);
        json_finish(&w);
        if (rc < 0) {
            free(pem);
            return cli_fail(rc, NULL, "object '%s'", o->uri);
        }
    } else {
        cli_object_text(env->out, "", o);
        if (pem)
            fprintf(env->out, "%s:\n%s%s", cert ? "Certificate" : "Public key", pem,
                    pem[0] && pem[strlen(pem) - 1] != '\n' ? "\n" : "");
    }
    free(pem);
    return CLI_EXIT_OK;
}

int cli_info_object(cli_env *env, int *status)
{
    char shown[CLI_URI_BUF], type_buf[32];
    const char *uri = env->args->pos[0];
    const char *type = cli_uri_attr(uri, "type", type_buf, sizeof type_buf);
    const int login = (env->args->seen & CLI_OPT_LOGIN) != 0;
    found fd;
    int rc, handled = 1;

    if (type && strcmp(type, "private") == 0)
        return 0;
    memset(&fd, 0, sizeof fd);
    cli_redact_uri(uri, shown, sizeof shown);
    rc = p11tls_list_objects(env->ctx, uri, login ? P11TLS_LIST_LOGIN : 0, collect, &fd);
    if (rc < 0)
        *status = cli_fail(rc, cli_pin_problem(env->pin, rc), "object '%s'", shown);
    else if (fd.n == 1 && fd.other.have)
        *status = show(env, &fd.other.o);
    else if ((fd.n > 0 && fd.n == fd.n_private_keys) || !type)
        handled = 0; /* a private key, or perhaps one (a key pair's URI): the key path */
    else if (fd.n == 0)
        *status = cli_error(CLI_EXIT_NOT_FOUND, "no object matches '%s'%s", shown,
                            login ? "" : " (private objects are seen with --login)");
    else
        *status = cli_error(CLI_EXIT_AMBIGUOUS,
                            "%d objects match '%s'; info shows one (add object=, id= or type= where they differ): %s%s",
                            fd.n, shown, fd.briefs, fd.n > BRIEF_MAX ? "; ..." : "");
    found_free(&fd);
    return handled;
}

void cli_info_key_fields(cli_env *env, const char *key_uri, json_writer *w)
{
    found fd;
    const p11tls_object_info *o = &fd.key.o;
    char *id;

    memset(&fd, 0, sizeof fd);
    /* The key is open, so its token is logged in if it needs to be: no
     * PIN is asked. What cannot be read is left out, not an error. */
    if (p11tls_list_objects(env->ctx, key_uri, 0, collect, &fd) < 0 || !fd.key.have)
        goto out;
    id = cli_hex(o->id, o->id ? o->id_len : 0);
    if (w) {
        json_key(w, "label"); json_string(w, o->label);
        json_key(w, "id"); json_string(w, id);
        json_key(w, "token"); json_string(w, o->token_label);
        json_key(w, "attributes"); cli_object_flags_json(w, o->attributes);
    } else {
        cli_field(env->out, "", "Label", o->label);
        cli_field(env->out, "", "ID", id);
        cli_field(env->out, "", "Token", o->token_label);
        cli_object_flags_text(env->out, "", o->attributes);
    }
    free(id);
out:
    found_free(&fd);
}
