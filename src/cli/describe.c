/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* describe.c - what the tool shows of tokens and objects (describe.h). */
#define _DEFAULT_SOURCE 1 /* gmtime_r */
#include "describe.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <p11-kit/pkcs11.h>

#include "classes.h"
#include "util.h"

typedef struct flag_name {
    unsigned long bit;
    const char *text; /* for people */
    const char *json; /* for scripts: stable */
} flag_name;

/* The order pkcs11-tool prints them in, where it prints them. */
static const flag_name object_flags[] = {
    {P11TLS_OBJECT_PRIVATE, "private", "private"},
    {P11TLS_OBJECT_SENSITIVE, "sensitive", "sensitive"},
    {P11TLS_OBJECT_ALWAYS_SENSITIVE, "always sensitive", "always_sensitive"},
    {P11TLS_OBJECT_EXTRACTABLE, "extractable", "extractable"},
    {P11TLS_OBJECT_NEVER_EXTRACTABLE, "never extractable", "never_extractable"},
    {P11TLS_OBJECT_ALWAYS_AUTHENTICATE, "always authenticate", "always_authenticate"},
    {P11TLS_OBJECT_LOCAL, "local", "local"},
    {P11TLS_OBJECT_MODIFIABLE, "modifiable", "modifiable"},
    {0, NULL, NULL},
};

static const flag_name token_flags[] = {
    {CKF_TOKEN_INITIALIZED, "token initialized", "token_initialized"},
    {CKF_RNG, "RNG", "rng"},
    {CKF_LOGIN_REQUIRED, "login required", "login_required"},
    {CKF_USER_PIN_INITIALIZED, "user PIN initialized", "user_pin_initialized"},
    {CKF_WRITE_PROTECTED, "write-protected", "write_protected"},
    {CKF_PROTECTED_AUTHENTICATION_PATH, "PIN pad", "protected_authentication_path"},
    {CKF_CLOCK_ON_TOKEN, "clock", "clock_on_token"},
    {CKF_USER_PIN_COUNT_LOW, "user PIN count low", "user_pin_count_low"},
    {CKF_USER_PIN_FINAL_TRY, "user PIN final try", "user_pin_final_try"},
    {CKF_USER_PIN_LOCKED, "user PIN locked", "user_pin_locked"},
    {CKF_USER_PIN_TO_BE_CHANGED, "user PIN to be changed", "user_pin_to_be_changed"},
    {CKF_SO_PIN_COUNT_LOW, "SO PIN count low", "so_pin_count_low"},
    {CKF_SO_PIN_FINAL_TRY, "SO PIN final try", "so_pin_final_try"},
    {CKF_SO_PIN_LOCKED, "SO PIN locked", "so_pin_locked"},
    {CKF_SO_PIN_TO_BE_CHANGED, "SO PIN to be changed", "so_pin_to_be_changed"},
    {0, NULL, NULL},
};

static void flags_text(FILE *f, const char *indent, const char *name, const flag_name *t,
                       unsigned long flags)
{
    const char *sep = "";
    fprintf(f, "%s%s: ", indent, name);
    for (; t->text; t++)
        if (flags & t->bit) {
            fprintf(f, "%s%s", sep, t->text);
            sep = ", ";
        }
    fprintf(f, "%s\n", *sep ? "" : "none");
}

static void flags_json(json_writer *w, const flag_name *t, unsigned long flags)
{
    json_begin_array(w);
    for (; t->json; t++)
        if (flags & t->bit)
            json_string(w, t->json);
    json_end_array(w);
}

void cli_object_flags_text(FILE *f, const char *indent, unsigned long attributes)
{
    flags_text(f, indent, "Flags", object_flags, attributes);
}

void cli_object_flags_json(json_writer *w, unsigned long attributes)
{
    flags_json(w, object_flags, attributes);
}

void cli_token_flags_text(FILE *f, const char *indent, unsigned long flags)
{
    flags_text(f, indent, "Flags", token_flags, flags);
}

void cli_token_flags_json(json_writer *w, unsigned long flags)
{
    flags_json(w, token_flags, flags);
}

void cli_field(FILE *f, const char *indent, const char *name, const char *value)
{
    const unsigned char *p = (const unsigned char *)(value ? value : "");
    fprintf(f, "%s%s: ", indent, name);
    for (; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
    fputc('\n', f);
}

const char *cli_alg_name(int alg)
{
    switch (alg) {
    case P11TLS_ALG_RSA: return "RSA";
    case P11TLS_ALG_ECDSA: return "ECDSA";
    case P11TLS_ALG_ED25519: return "Ed25519";
    case P11TLS_ALG_ED448: return "Ed448";
    default: return NULL;
    }
}

/* ---- certificates, as GnuTLS reads them ----------------------------------- */

typedef struct cert_facts {
    gnutls_datum_t subject, issuer; /* RFC 4514 strings, gnutls_free */
    char serial[2 * 64 + 1];        /* hexadecimal */
    time_t not_before, not_after;   /* (time_t)-1 if unreadable */
    const char *key_alg;
    unsigned bits;
} cert_facts;

static const char *pk_name(gnutls_pk_algorithm_t pk)
{
    switch (pk) {
    case GNUTLS_PK_RSA: return "RSA";
    case GNUTLS_PK_RSA_PSS: return "RSA-PSS";
    case GNUTLS_PK_ECDSA: return "ECDSA";
    case GNUTLS_PK_EDDSA_ED25519: return "Ed25519";
    case GNUTLS_PK_EDDSA_ED448: return "Ed448";
    default: return gnutls_pk_algorithm_get_name(pk);
    }
}

/* 0, or -1 if GnuTLS cannot parse the DER (then nothing to free). */
static int cert_facts_read(cert_facts *c, const uint8_t *der, size_t len)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t d;
    unsigned char serial[64];
    size_t serial_len = sizeof(serial), i;
    int pk;

    memset(c, 0, sizeof(*c));
    if (len > 0x7fffffff || gnutls_x509_crt_init(&crt) < 0)
        return -1;
    d.data = (unsigned char *)der;
    d.size = (unsigned)len;
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crt_deinit(crt);
        return -1;
    }
    if (gnutls_x509_crt_get_dn3(crt, &c->subject, 0) < 0)
        c->subject.data = NULL;
    if (gnutls_x509_crt_get_issuer_dn3(crt, &c->issuer, 0) < 0)
        c->issuer.data = NULL;
    if (gnutls_x509_crt_get_serial(crt, serial, &serial_len) >= 0)
        for (i = 0; i < serial_len; i++)
            snprintf(c->serial + 2 * i, 3, "%02x", serial[i]);
    c->not_before = gnutls_x509_crt_get_activation_time(crt);
    c->not_after = gnutls_x509_crt_get_expiration_time(crt);
    pk = gnutls_x509_crt_get_pk_algorithm(crt, &c->bits);
    c->key_alg = pk > 0 ? pk_name((gnutls_pk_algorithm_t)pk) : NULL;
    gnutls_x509_crt_deinit(crt);
    return 0;
}

static void cert_facts_free(cert_facts *c)
{
    gnutls_free(c->subject.data);
    gnutls_free(c->issuer.data);
}

static const char *datum_str(const gnutls_datum_t *d) { return d->data ? (const char *)d->data : NULL; }

/* fmt is strftime's; "" if t is unreadable. */
static const char *time_str(time_t t, const char *fmt, char *buf, size_t size)
{
    struct tm tm;
    if (t == (time_t)-1 || !gmtime_r(&t, &tm) || strftime(buf, size, fmt, &tm) == 0)
        buf[0] = '\0';
    return buf;
}

static int expired(const cert_facts *c)
{
    return c->not_after != (time_t)-1 && c->not_after < time(NULL);
}

static void cert_text(FILE *f, const char *indent, const cert_facts *c)
{
    char t[64];

    cli_field(f, indent, "Subject", datum_str(&c->subject));
    cli_field(f, indent, "Issuer", datum_str(&c->issuer));
    cli_field(f, indent, "Serial", c->serial);
    cli_field(f, indent, "Not before",
              time_str(c->not_before, "%Y-%m-%d %H:%M:%S UTC", t, sizeof t));
    fprintf(f, "%sNot after: %s%s\n", indent,
            time_str(c->not_after, "%Y-%m-%d %H:%M:%S UTC", t, sizeof t),
            expired(c) ? " (expired)" : "");
    if (c->key_alg)
        fprintf(f, "%sKey: %s, %u bits\n", indent, c->key_alg, c->bits);
}

static void cert_json(json_writer *w, const cert_facts *c)
{
    char t[64];
    const char *fmt = "%Y-%m-%dT%H:%M:%SZ";

    json_key(w, "key_algorithm"); json_string(w, c->key_alg);
    json_key(w, "bits"); json_uint(w, c->bits);
    json_key(w, "subject"); json_string(w, datum_str(&c->subject));
    json_key(w, "issuer"); json_string(w, datum_str(&c->issuer));
    json_key(w, "serial"); json_string(w, c->serial);
    json_key(w, "not_before");
    json_string(w, c->not_before == (time_t)-1 ? NULL : time_str(c->not_before, fmt, t, sizeof t));
    json_key(w, "not_after");
    json_string(w, c->not_after == (time_t)-1 ? NULL : time_str(c->not_after, fmt, t, sizeof t));
    json_key(w, "expired"); json_bool(w, expired(c));
}

/* ---- objects ------------------------------------------------------------ */

void cli_object_brief(char *buf, size_t size, const p11tls_object_info *o)
{
    char cls_buf[32], nb[16], na[16];
    const char *cls = cli_class_name(o->object_class, cls_buf, sizeof cls_buf);
    unsigned char *p;
    cert_facts c;

    if (size == 0)
        return;
    if (o->object_class == CKO_CERTIFICATE && o->value &&
        cert_facts_read(&c, o->value, o->value_len) == 0) {
        const time_t now = time(NULL);
        snprintf(buf, size, "%s '%s' serial %s, valid %s to %s%s on token %s", cls,
                 c.subject.data ? (const char *)c.subject.data : "?", c.serial,
                 time_str(c.not_before, "%Y-%m-%d", nb, sizeof nb),
                 time_str(c.not_after, "%Y-%m-%d", na, sizeof na),
                 expired(&c) ? " (expired)"
                 : c.not_before != (time_t)-1 && c.not_before > now ? " (not yet valid)"
                                                                    : "",
                 o->token_label ? o->token_label : "?");
        cert_facts_free(&c);
    } else {
        snprintf(buf, size, "%s %s", cls, o->uri ? o->uri : "?");
    }
    /* Subjects and labels come from the token: no line breaks from them. */
    for (p = (unsigned char *)buf; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}


static int is_key(const p11tls_object_info *o)
{
    return o->object_class == CKO_PRIVATE_KEY || o->object_class == CKO_PUBLIC_KEY ||
           o->object_class == CKO_SECRET_KEY;
}

void cli_object_text(FILE *f, const char *indent, const p11tls_object_info *o)
{
    char cls_buf[32];
    char *id = cli_hex(o->id, o->id ? o->id_len : 0);
    const char *alg = cli_alg_name(o->algorithm);
    cert_facts c;

    cli_field(f, indent, "URI", o->uri);
    fprintf(f, "%sClass: %s\n", indent, cli_class_name(o->object_class, cls_buf, sizeof cls_buf));
    if (alg)
        fprintf(f, "%sAlgorithm: %s\n", indent, alg);
    cli_field(f, indent, "Label", o->label);
    fprintf(f, "%sID: %s\n", indent, id ? id : "?");
    cli_field(f, indent, "Token", o->token_label);
    if (o->bits > 0)
        fprintf(f, "%sBits: %d\n", indent, o->bits);
    if (is_key(o))
        cli_object_flags_text(f, indent, o->attributes);
    if (o->object_class == CKO_CERTIFICATE && o->value &&
        cert_facts_read(&c, o->value, o->value_len) == 0) {
        cert_text(f, indent, &c);
        cert_facts_free(&c);
    }
    free(id);
}

int cli_object_json(json_writer *w, const p11tls_object_info *o)
{
    char cls_buf[32];
    char *id = cli_hex(o->id, o->id ? o->id_len : 0);
    cert_facts c;

    if (!id)
        return P11TLS_E_MEMORY;
    json_key(w, "uri"); json_string(w, o->uri);
    json_key(w, "class");
    json_string(w, cli_class_name(o->object_class, cls_buf, sizeof cls_buf));
    json_key(w, "algorithm"); json_string(w, cli_alg_name(o->algorithm));
    json_key(w, "label"); json_string(w, o->label);
    json_key(w, "id"); json_string(w, id);
    json_key(w, "token"); json_string(w, o->token_label);
    json_key(w, "attributes"); cli_object_flags_json(w, o->attributes);
    if (is_key(o)) {
        json_key(w, "key_algorithm"); json_string(w, cli_alg_name(o->algorithm));
        json_key(w, "bits");
        if (o->bits > 0)
            json_int(w, o->bits);
        else
            json_null(w);
    }
    if (o->object_class == CKO_CERTIFICATE && o->value &&
        cert_facts_read(&c, o->value, o->value_len) == 0) {
        cert_json(w, &c);
        cert_facts_free(&c);
    }
    free(id);
    return 0;
}
