/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * sshkey.c — OpenSSH public-key lines to SubjectPublicKeyInfo (see
 * sshkey.h). The key blob is the SSH wire format (RFC 4253 6.6, RFC 5656
 * 3.1, RFC 8709 4): length-prefixed strings; GnuTLS builds the public key
 * from its raw parts and exports it as DER, so it compares byte for byte
 * with a token certificate's key exported the same way.
 */
#define _GNU_SOURCE 1 /* timegm */

#include "sshkey.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/abstract.h>

enum kind { K_RSA, K_P256, K_P384, K_P521, K_ED25519, K_SKIP };

static const struct {
    const char *name;
    enum kind kind;
    const char *curve;     /* the curve name inside an ECDSA blob */
    gnutls_ecc_curve_t gc;
    size_t coord;          /* bytes per coordinate */
} types[] = {
    {"ssh-rsa", K_RSA, NULL, GNUTLS_ECC_CURVE_INVALID, 0},
    {"ecdsa-sha2-nistp256", K_P256, "nistp256", GNUTLS_ECC_CURVE_SECP256R1, 32},
    {"ecdsa-sha2-nistp384", K_P384, "nistp384", GNUTLS_ECC_CURVE_SECP384R1, 48},
    {"ecdsa-sha2-nistp521", K_P521, "nistp521", GNUTLS_ECC_CURVE_SECP521R1, 66},
    {"ssh-ed25519", K_ED25519, NULL, GNUTLS_ECC_CURVE_ED25519, 32},
    /* No PKCS#11 token key is one of these. */
    {"ssh-dss", K_SKIP, NULL, GNUTLS_ECC_CURVE_INVALID, 0},
    {"sk-ecdsa-sha2-nistp256@openssh.com", K_SKIP, NULL, GNUTLS_ECC_CURVE_INVALID, 0},
    {"sk-ssh-ed25519@openssh.com", K_SKIP, NULL, GNUTLS_ECC_CURVE_INVALID, 0},
};
#define NTYPES (sizeof(types) / sizeof(types[0]))
#define CERT_SUFFIX "-cert-v01@openssh.com"

static int say(char *msg, size_t size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int say(char *msg, size_t size, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    return rc;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* The index in types of the word [s, s+n), -1 if unknown. OpenSSH
 * certificates count as skipped types. */
static int type_index(const char *s, size_t n, int *cert)
{
    size_t sl = strlen(CERT_SUFFIX);
    *cert = n > sl && memcmp(s + n - sl, CERT_SUFFIX, sl) == 0;
    for (size_t i = 0; i < NTYPES; i++)
        if (strlen(types[i].name) == n && memcmp(types[i].name, s, n) == 0)
            return (int)i;
    return -1;
}

/* ---- options ------------------------------------------------------------ */

static const char *const flag_opts[] = {
    "agent-forwarding", "cert-authority", "no-agent-forwarding", "no-port-forwarding",
    "no-pty", "no-user-rc", "no-X11-forwarding", "no-touch-required", "port-forwarding",
    "pty", "restrict", "user-rc", "verify-required", "X11-forwarding",
};
static const char *const value_opts[] = {
    "command", "environment", "expiry-time", "from", "permitlisten", "permitopen",
    "principals", "tunnel",
};

struct line_opts {
    int cert_authority;
    int from;
    int has_expiry;
    char expiry[32];
};

static int opt_in(const char *const *list, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && strncasecmp(list[i], s, len) == 0)
            return 1;
    return 0;
}

/* Where the options end, as sshd's sshkey_advance_past_options: at the
 * first blank outside double quotes; NULL if a quote is left open. */
static const char *past_options(const char *s, const char *end)
{
    int quoted = 0;
    for (; s < end && (quoted || !is_blank(*s)); s++) {
        if (*s == '\\' && s + 1 < end && s[1] == '"')
            s++;
        else if (*s == '"')
            quoted = !quoted;
    }
    return quoted ? NULL : s;
}

static int parse_options(const char *s, const char *end, struct line_opts *o, char *msg,
                         size_t size)
{
    while (s < end) {
        const char *name = s;
        while (s < end && *s != '=' && *s != ',')
            s++;
        size_t nlen = (size_t)(s - name);
        if (s < end && *s == '=') {
            if (!opt_in(value_opts, sizeof(value_opts) / sizeof(value_opts[0]), name, nlen))
                return say(msg, size, SSHKEY_BAD, "unknown SSH key option '%.*s'",
                           (int)(nlen > 40 ? 40 : nlen), name);
            if (++s >= end || *s != '"')
                return say(msg, size, SSHKEY_BAD, "SSH key option %.*s: value not in quotes",
                           (int)nlen, name);
            const char *v = ++s;
            while (s < end && *s != '"') {
                if (*s == '\\' && s + 1 < end && s[1] == '"')
                    s++;
                s++;
            }
            if (s >= end)
                return say(msg, size, SSHKEY_BAD, "SSH key option %.*s: unterminated value",
                           (int)nlen, name);
            size_t vlen = (size_t)(s - v);
            s++; /* the closing quote */
            if (nlen == 4 && strncasecmp(name, "from", 4) == 0)
                o->from = 1;
            if (nlen == 11 && strncasecmp(name, "expiry-time", 11) == 0) {
                if (vlen >= sizeof(o->expiry))
                    return say(msg, size, SSHKEY_BAD, "SSH key option expiry-time: too long");
                memcpy(o->expiry, v, vlen);
                o->expiry[vlen] = '\0';
                o->has_expiry = 1;
            }
        } else {
            if (!opt_in(flag_opts, sizeof(flag_opts) / sizeof(flag_opts[0]), name, nlen))
                return say(msg, size, SSHKEY_BAD, "unknown SSH key option '%.*s'",
                           (int)(nlen > 40 ? 40 : nlen), name);
            if (nlen == 14 && strncasecmp(name, "cert-authority", 14) == 0)
                o->cert_authority = 1;
        }
        if (s < end && *s != ',')
            return say(msg, size, SSHKEY_BAD, "SSH key options: expected ',' after an option");
        if (s < end)
            s++;
    }
    return 0;
}

/* expiry-time as sshd reads it: YYYYMMDD[HHMM[SS]] in local time, or UTC
 * with a trailing Z. -1 if malformed. */
static long long expiry_time(const char *v)
{
    size_t n = strlen(v);
    int utc = n > 0 && (v[n - 1] == 'Z' || v[n - 1] == 'z');
    if (utc)
        n--;
    if (n != 8 && n != 12 && n != 14)
        return -1;
    int d[14] = {0};
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        d[i] = v[i] - '0';
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3] - 1900;
    tm.tm_mon = d[4] * 10 + d[5] - 1;
    tm.tm_mday = d[6] * 10 + d[7];
    tm.tm_hour = d[8] * 10 + d[9];
    tm.tm_min = d[10] * 10 + d[11];
    tm.tm_sec = d[12] * 10 + d[13];
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_isdst = -1;
    time_t t = utc ? timegm(&tm) : mktime(&tm);
    return t == (time_t)-1 ? -1 : (long long)t;
}

/* ---- the key blob --------------------------------------------------------- */

struct reader {
    const uint8_t *p;
    size_t left;
};

static int read_string(struct reader *r, gnutls_datum_t *out)
{
    if (r->left < 4)
        return -1;
    uint32_t n = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
                 (uint32_t)r->p[2] << 8 | r->p[3];
    if (n > r->left - 4)
        return -1;
    out->data = (unsigned char *)r->p + 4;
    out->size = n;
    r->p += 4 + n;
    r->left -= 4 + n;
    return 0;
}

static int datum_is(const gnutls_datum_t *d, const char *s)
{
    return d->size == strlen(s) && memcmp(d->data, s, d->size) == 0;
}

/* A positive mpint (RFC 4251 5): not empty, no sign bit set. */
static int positive_mpint(const gnutls_datum_t *d)
{
    return d->size > 0 && !(d->data[0] & 0x80);
}

static int blob_to_pubkey(int t, const gnutls_datum_t *blob, gnutls_pubkey_t pk, char *msg,
                          size_t size)
{
    struct reader r = {blob->data, blob->size};
    gnutls_datum_t name, a, b;
    int rc;
    if (read_string(&r, &name) < 0 || !datum_is(&name, types[t].name))
        return say(msg, size, SSHKEY_BAD, "SSH key: the key data is not a %s key",
                   types[t].name);
    switch (types[t].kind) {
    case K_RSA:
        if (read_string(&r, &a) < 0 || read_string(&r, &b) < 0 || !positive_mpint(&a) ||
            !positive_mpint(&b))
            return say(msg, size, SSHKEY_BAD, "SSH key: malformed ssh-rsa key data");
        rc = gnutls_pubkey_import_rsa_raw(pk, &b, &a); /* blob: e, then n */
        break;
    case K_ED25519:
        if (read_string(&r, &a) < 0 || a.size != types[t].coord)
            return say(msg, size, SSHKEY_BAD, "SSH key: malformed ssh-ed25519 key data");
        rc = gnutls_pubkey_import_ecc_raw(pk, types[t].gc, &a, NULL);
        break;
    default: { /* ECDSA: curve name, then the uncompressed point 04 || X || Y */
        gnutls_datum_t q;
        size_t c = types[t].coord;
        if (read_string(&r, &name) < 0 || !datum_is(&name, types[t].curve) ||
            read_string(&r, &q) < 0 || q.size != 1 + 2 * c || q.data[0] != 0x04)
            return say(msg, size, SSHKEY_BAD, "SSH key: malformed %s key data",
                       types[t].name);
        gnutls_datum_t x = {q.data + 1, (unsigned)c}, y = {q.data + 1 + c, (unsigned)c};
        rc = gnutls_pubkey_import_ecc_raw(pk, types[t].gc, &x, &y);
        break;
    }
    }
    if (rc < 0)
        return say(msg, size, SSHKEY_BAD, "SSH key: %s", gnutls_strerror(rc));
    if (r.left != 0)
        return say(msg, size, SSHKEY_BAD, "SSH key: %zu stray bytes after the %s key data",
                   r.left, types[t].name);
    return 0;
}

/* ---- the line ------------------------------------------------------------- */

int sshkey_parse_line(const char *line, size_t len, long long now, gnutls_datum_t *spki,
                      char *msg, size_t msg_size)
{
    const char *s = line, *end = line + len;
    const char *opt_s = NULL, *opt_e = NULL;
    int cert = 0;

    spki->data = NULL;
    spki->size = 0;
    while (s < end && is_blank(*s))
        s++;
    const char *w = s;
    while (w < end && !is_blank(*w))
        w++;
    int t = type_index(s, (size_t)(w - s), &cert);
    if (t < 0 && !cert) {
        /* Not a key type first: options, then the key type (as sshd). */
        const char *p = past_options(s, end);
        if (p == NULL || p == s)
            return SSHKEY_NOT_SSH;
        opt_s = s;
        opt_e = p;
        for (s = p; s < end && is_blank(*s);)
            s++;
        for (w = s; w < end && !is_blank(*w);)
            w++;
        t = type_index(s, (size_t)(w - s), &cert);
        if (t < 0 && !cert)
            return SSHKEY_NOT_SSH;
    }
    const char *type_s = s;
    size_t type_n = (size_t)(w - s);
    for (s = w; s < end && is_blank(*s);)
        s++;
    const char *b64 = s;
    while (s < end && !is_blank(*s))
        s++;
    size_t b64_n = (size_t)(s - b64);
    if (b64_n == 0)
        return say(msg, msg_size, SSHKEY_BAD, "SSH key %.*s: no key data", (int)type_n, type_s);
    /* The rest of the line is the comment. */

    struct line_opts o;
    memset(&o, 0, sizeof(o));
    if (opt_s && parse_options(opt_s, opt_e, &o, msg, msg_size) < 0)
        return SSHKEY_BAD;
    long long expiry = o.has_expiry ? expiry_time(o.expiry) : 0;
    if (expiry < 0)
        return say(msg, msg_size, SSHKEY_BAD, "SSH key option expiry-time: not a time");

    gnutls_datum_t in = {(unsigned char *)b64, (unsigned)b64_n};
    gnutls_datum_t blob = {NULL, 0};
    int rc = gnutls_base64_decode2(&in, &blob);
    if (rc < 0)
        return say(msg, msg_size, SSHKEY_BAD, "SSH key %.*s: bad base64: %s", (int)type_n,
                   type_s, gnutls_strerror(rc));
    if (cert || types[t].kind == K_SKIP) {
        gnutls_free(blob.data);
        return say(msg, msg_size, SSHKEY_SKIPPED, "key type %.*s cannot be a token key",
                   (int)(type_n > 60 ? 60 : type_n), type_s);
    }
    gnutls_pubkey_t pk = NULL;
    rc = gnutls_pubkey_init(&pk);
    if (rc < 0) {
        gnutls_free(blob.data);
        return say(msg, msg_size, SSHKEY_BAD, "SSH key: %s", gnutls_strerror(rc));
    }
    rc = blob_to_pubkey(t, &blob, pk, msg, msg_size);
    gnutls_free(blob.data);
    if (rc == 0) {
        rc = gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, spki);
        if (rc < 0)
            rc = say(msg, msg_size, SSHKEY_BAD, "SSH key: %s", gnutls_strerror(rc));
    }
    gnutls_pubkey_deinit(pk);
    if (rc < 0)
        return SSHKEY_BAD;
    /* Valid lines that authorize nothing here (sshkey.h). */
    const char *why = o.cert_authority ? "cert-authority: a CA key, not a user key"
                      : o.from         ? "from=: a client address PAM cannot check"
                      : o.has_expiry && expiry <= now ? "expiry-time has passed"
                                                      : NULL;
    if (why) {
        gnutls_free(spki->data);
        spki->data = NULL;
        spki->size = 0;
        return say(msg, msg_size, SSHKEY_SKIPPED, "%s", why);
    }
    return SSHKEY_KEY;
}
