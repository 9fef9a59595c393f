/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * pam_p11tls — PAM authentication with a PKCS#11 token key, through p11tls.
 *
 * auth: read the keys authorized for the user (authorized.c, mapfile.c),
 * find the certificates on the token matching uri= whose public key is one
 * of them, get the PIN (pin.c), open the private key of the first match and
 * prove possession by signing a fresh challenge (prove.c); with ca=, the
 * certificate must also verify against the anchors found there (policy.c).
 * wait= waits for the token to be inserted (insert.c).
 *
 * password: change the token's user PIN (chauthtok.c).
 *
 * Every call uses its own p11tls context, created and freed inside
 * the entry point; the only state kept is PAM handle data (pam_set_data)
 * so that account knows whom this module authenticated. No init/deinit, so
 * the module may be loaded several times in one stack and dlclose()d.
 */
#define _DEFAULT_SOURCE 1
#define _GNU_SOURCE 1

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_PASSWORD
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include <p11tls/p11tls.h>

#include "authorized.h"
#include "chauthtok.h"
#include "insert.h"
#include "mapfile.h"
#include "objuri.h"
#include "pin.h"
#include "policy.h"
#include "prove.h"

#define PAM_EXPORT __attribute__((visibility("default")))

#define DEFAULT_AUTHORIZED ".config/p11tls/authorized_certs"

/* PAM handle data: the user this module authenticated (for account), and
 * per token "its PIN was checked in this handle" (see pin_was_checked). */
#define DATA_USER "pam_p11tls.user"
#define DATA_PIN_PREFIX "pam_p11tls.pin-checked:"

/* CKF_LOGIN_REQUIRED of CK_TOKEN_INFO (p11tls_token_info.flags). */
#define TOKEN_LOGIN_REQUIRED 0x00000004UL

struct opts {
    const char *uri;
    const char *module;
    const char *authorized;
    const char *mapfile;
    int debug;
    int nopin;
    unsigned wait; /* seconds, 0: do not wait */
    const char *ca[POLICY_MAX_CA];
    size_t n_ca;
    int ca_overflow; /* more ca= than POLICY_MAX_CA */
    const char *crl;
    enum pin_mode pin_mode;
};

/* wait=SECONDS: 1..INSERT_MAX_WAIT; anything else is logged and means no
 * wait (failing at once is the safe reading of a typo). */
static unsigned parse_wait(pam_handle_t *pamh, const char *v)
{
    char *end = NULL;
    unsigned long n = strtoul(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || n == 0 || n > INSERT_MAX_WAIT) {
        pam_syslog(pamh, LOG_WARNING, "wait=%s: not a number of seconds from 1 to %d; not waiting",
                   v, INSERT_MAX_WAIT);
        return 0;
    }
    return (unsigned)n;
}

static void parse_args(pam_handle_t *pamh, int argc, const char **argv,
                       struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->pin_mode = PIN_PROMPT;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "uri=", 4) == 0)
            o->uri = a + 4;
        else if (strncmp(a, "module=", 7) == 0)
            o->module = a + 7;
        else if (strncmp(a, "authorized=", 11) == 0)
            o->authorized = a + 11;
        else if (strncmp(a, "mapfile=", 8) == 0)
            o->mapfile = a + 8;
        else if (strncmp(a, "ca=", 3) == 0) {
            if (o->n_ca < POLICY_MAX_CA)
                o->ca[o->n_ca++] = a + 3;
            else
                o->ca_overflow = 1;
        } else if (strncmp(a, "crl=", 4) == 0)
            o->crl = a + 4;
        else if (strncmp(a, "wait=", 5) == 0)
            o->wait = parse_wait(pamh, a + 5);
        else if (strcmp(a, "debug") == 0)
            o->debug = 1;
        else if (strcmp(a, "nopin") == 0)
            o->nopin = 1;
        else if (strcmp(a, "try_first_pass") == 0)
            o->pin_mode = PIN_TRY_FIRST_PASS;
        else if (strcmp(a, "use_first_pass") == 0)
            o->pin_mode = PIN_USE_FIRST_PASS;
        else
            pam_syslog(pamh, LOG_WARNING, "unknown option: %s", a);
    }
}

#define DBG(o, pamh, ...)                                    \
    do {                                                     \
        if ((o)->debug)                                      \
            pam_syslog((pamh), LOG_DEBUG, __VA_ARGS__);      \
    } while (0)

static void free_data(pam_handle_t *pamh, void *data, int error_status)
{
    (void)pamh;
    (void)error_status;
    free(data);
}

/* ---- certificate listing ------------------------------------------------ */

/* Every certificate uri= matches, with its value from the listing: two
 * certificates of one key share label and ID (an old and a renewed one),
 * so a URI can name neither alone; each is checked as listed. */
struct cert_list {
    char **uris;
    uint8_t **ders;
    size_t *lens;
    size_t n, cap;
    int oom;
};

static int collect_cert(void *arg, const p11tls_object_info *info)
{
    struct cert_list *cl = arg;
    if (info->object_class != P11TLS_CLASS_CERTIFICATE || info->uri == NULL)
        return 0;
    if (cl->n == cl->cap) {
        size_t cap = cl->cap ? cl->cap * 2 : 8;
        char **u = realloc(cl->uris, cap * sizeof(*u));
        if (u != NULL)
            cl->uris = u;
        uint8_t **d = realloc(cl->ders, cap * sizeof(*d));
        if (d != NULL)
            cl->ders = d;
        size_t *l = realloc(cl->lens, cap * sizeof(*l));
        if (l != NULL)
            cl->lens = l;
        if (u == NULL || d == NULL || l == NULL) {
            cl->oom = 1;
            return 0;
        }
        cl->cap = cap;
    }
    char *uri = strdup(info->uri);
    uint8_t *der = info->value_len ? malloc(info->value_len) : NULL;
    if (uri == NULL || (info->value_len && der == NULL)) {
        free(uri);
        free(der);
        cl->oom = 1;
        return 0;
    }
    if (der)
        memcpy(der, info->value, info->value_len);
    cl->uris[cl->n] = uri;
    cl->ders[cl->n] = der;
    cl->lens[cl->n] = der ? info->value_len : 0;
    cl->n++;
    return 0;
}

static void cert_list_free(struct cert_list *cl)
{
    for (size_t i = 0; i < cl->n; i++) {
        free(cl->uris[i]);
        free(cl->ders[i]);
    }
    free(cl->uris);
    free(cl->ders);
    free(cl->lens);
    memset(cl, 0, sizeof(*cl));
}

/* ---- token state ---------------------------------------------------------- */

struct token_flags {
    int found;
    unsigned long flags;
    char *uri;
    char *label;
};

static int first_token(void *arg, const p11tls_token_info *info)
{
    struct token_flags *tf = arg;
    tf->found = 1;
    tf->flags = info->flags;
    tf->uri = strdup(info->uri);
    tf->label = strdup(info->label ? info->label : "");
    return 1; /* stop: the first match is the key's token */
}

static int count_token(void *arg, const p11tls_token_info *info)
{
    (void)info;
    ++*(int *)arg;
    return 0;
}

/* p11tls keeps a token logged in for the whole process and has no logout,
 * so once any caller in the process has logged in, opening a key asks for
 * no PIN at all. A PAM module must not take that as proof that this user
 * knows the PIN: it is accepted only if this module checked the token's PIN
 * earlier in the same PAM handle (two stacked instances). */
static char *pin_data_name(const char *token_uri)
{
    char *name = NULL;
    if (asprintf(&name, "%s%s", DATA_PIN_PREFIX, token_uri) < 0)
        return NULL;
    return name;
}

static int pin_was_checked(pam_handle_t *pamh, const char *token_uri)
{
    const void *d = NULL;
    char *name = pin_data_name(token_uri);
    int ok = name && pam_get_data(pamh, name, &d) == PAM_SUCCESS && d != NULL;
    free(name);
    return ok;
}

static void set_pin_checked(pam_handle_t *pamh, const char *token_uri)
{
    char *name = pin_data_name(token_uri);
    char *val = strdup("1");
    if (name && val && pam_set_data(pamh, name, val, free_data) == PAM_SUCCESS)
        val = NULL;
    free(val);
    free(name);
}

/* Remaining-tries warnings of a token, for the wrong-PIN log line. */
static const char *tries_note(unsigned pin_flags)
{
    if (pin_flags & P11TLS_PIN_FINAL_TRY)
        return " (that was the final try: the PIN is now locked)";
    if (pin_flags & P11TLS_PIN_COUNT_LOW)
        return " (the token had reported earlier wrong PINs: few tries left)";
    return "";
}

/* ---- the authorized keys ----------------------------------------------- */

/* Fills list with the keys of user. Returns PAM_SUCCESS or a PAM error
 * after logging why; *where names the source for later messages. */
static int load_authorized(pam_handle_t *pamh, const struct opts *o, const char *user,
                           const struct passwd *pw, struct authorized_list *list,
                           char **where)
{
    struct authorized_error err = {0, ""};
    int rc;

    *where = NULL;
    if (o->mapfile) {
        /* The mapping file belongs to the administrator: root, or the
         * account running the PAM application (a test harness). */
        rc = mapfile_load(o->mapfile, geteuid(), user, pw->pw_uid, list, &err);
        if (rc < 0) {
            if (err.line)
                pam_syslog(pamh, LOG_ERR, "user %s: mapping file %s line %u: %s", user,
                           o->mapfile, err.line, err.msg);
            else
                pam_syslog(pamh, LOG_ERR, "user %s: mapping file %s: %s", user,
                           o->mapfile, err.msg);
            return rc == AUTHORIZED_E_MEMORY ? PAM_BUF_ERR : PAM_AUTH_ERR;
        }
        *where = strdup(o->mapfile);
        if (o->authorized == NULL)
            return *where ? PAM_SUCCESS : PAM_BUF_ERR;
        free(*where);
        *where = NULL;
    }
    char *path = NULL;
    if (o->authorized)
        path = strdup(o->authorized);
    else if (asprintf(&path, "%s/%s", pw->pw_dir, DEFAULT_AUTHORIZED) < 0)
        path = NULL;
    if (path == NULL)
        return PAM_BUF_ERR;
    rc = authorized_load_file(path, pw->pw_uid, list, &err);
    if (rc < 0) {
        if (err.line)
            pam_syslog(pamh, LOG_NOTICE, "user %s: authorized file %s line %u: %s", user,
                       path, err.line, err.msg);
        else
            pam_syslog(pamh, LOG_NOTICE, "user %s: cannot read authorized file %s: %s",
                       user, path, err.msg);
        free(path);
        return rc == AUTHORIZED_E_MEMORY ? PAM_BUF_ERR : PAM_AUTH_ERR;
    }
    if (o->mapfile && asprintf(where, "%s and %s", o->mapfile, path) >= 0) {
        free(path);
        return PAM_SUCCESS;
    }
    *where = path;
    return PAM_SUCCESS;
}

/* ---- opening the key -------------------------------------------------------- */

/* Logs why p11tls_key_open failed and maps it to a PAM code. */
static int key_open_error(pam_handle_t *pamh, const char *user, const char *key_uri,
                          const char *token_label, const struct pin_state *ps, int rc)
{
    switch (rc) {
    case P11TLS_E_PIN_INCORRECT:
        pam_syslog(pamh, LOG_NOTICE, "user %s: wrong PIN for token %s (from %s)%s", user,
                   token_label, ps->source == PIN_FROM_AUTHTOK ? "PAM_AUTHTOK" : "the prompt",
                   tries_note(ps->flags));
        return PAM_AUTH_ERR;
    case P11TLS_E_PIN_LOCKED:
        pam_syslog(pamh, LOG_NOTICE, "user %s: the PIN of token %s is locked", user,
                   token_label);
        return PAM_AUTH_ERR;
    case P11TLS_E_PIN_CANCELLED:
    case P11TLS_E_PIN_REQUIRED:
        pam_syslog(pamh, LOG_NOTICE, "user %s: no PIN for token %s: %s", user, token_label,
                   ps->declined ? ps->declined : "none available");
        return PAM_AUTH_ERR;
    case P11TLS_E_TOKEN_NOT_PRESENT:
        pam_syslog(pamh, LOG_NOTICE, "no token: %s removed while opening %s", token_label,
                   key_uri);
        return PAM_AUTHINFO_UNAVAIL;
    default:
        pam_syslog(pamh, LOG_NOTICE, "user %s: cannot open key %s (%s): %s", user, key_uri,
                   p11tls_strerror_name(rc), p11tls_last_error_detail());
        return PAM_AUTH_ERR;
    }
}

/* ---- the PAM entry points ---------------------------------------------- */

/* Our own context, with module= loaded: 0, or -1 after logging why. */
static int open_ctx(pam_handle_t *pamh, const struct opts *o, p11tls_ctx **ctx)
{
    int rc = p11tls_ctx_new(ctx);
    if (rc != 0) {
        pam_syslog(pamh, LOG_ERR, "cannot create a p11tls context: %s", p11tls_strerror(rc));
        return -1;
    }
    if (o->module && (rc = p11tls_ctx_add_module(*ctx, o->module)) != 0) {
        pam_syslog(pamh, LOG_ERR, "cannot load PKCS#11 module %s: %s", o->module,
                   p11tls_last_error_detail());
        return -1;
    }
    return 0;
}

PAM_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
                                   const char **argv)
{
    struct opts o;
    const char *user = NULL;
    struct passwd *pw;
    struct authorized_list auth = {NULL, 0, 0};
    char *where = NULL;
    p11tls_ctx *ctx = NULL;
    struct cert_list cl = {NULL, NULL, NULL, 0, 0, 0};
    struct pin_state ps;
    struct token_flags tf = {0, 0, NULL, NULL};
    const uint8_t *match_der = NULL; /* one of cl's */
    size_t match_len = 0;
    char *cert_uri = NULL;
    char *key_uri = NULL;
    p11tls_key *key = NULL;
    gnutls_x509_trust_list_t trust = NULL;
    size_t refused = 0; /* authorized certificates the CA policy refused */
    int ret = PAM_AUTH_ERR;
    int rc;
    (void)flags;

    parse_args(pamh, argc, argv, &o);
    memset(&ps, 0, sizeof(ps));
    ps.pamh = pamh;
    ps.mode = o.pin_mode;
    /* Forget an earlier success in this handle: account must reflect the
     * last authentication. */
    pam_set_data(pamh, DATA_USER, NULL, NULL);

    rc = pam_get_user(pamh, &user, NULL);
    if (rc != PAM_SUCCESS || user == NULL || *user == '\0') {
        pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name");
        return PAM_USER_UNKNOWN;
    }
    pw = pam_modutil_getpwnam(pamh, user); /* thread-safe, freed with the handle */
    if (pw == NULL) {
        pam_syslog(pamh, LOG_NOTICE, "unknown user %s", user);
        return PAM_USER_UNKNOWN;
    }

    ret = load_authorized(pamh, &o, user, pw, &auth, &where);
    if (ret != PAM_SUCCESS)
        goto out;
    if (auth.n == 0) {
        pam_syslog(pamh, LOG_NOTICE, "user %s: no authorized key in %s", user, where);
        ret = PAM_AUTH_ERR;
        goto out;
    }
    DBG(&o, pamh, "user %s: %zu authorized key(s) in %s", user, auth.n, where);

    if (open_ctx(pamh, &o, &ctx) != 0) {
        ret = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    if (!o.nopin)
        p11tls_ctx_set_pin_fn(ctx, pin_from_pam, &ps);

    if (o.wait) {
        ret = insert_wait(pamh, ctx, o.uri, o.wait);
        if (ret != PAM_SUCCESS)
            goto out;
    }
    /* A policy asked for but not applicable refuses. */
    if (o.ca_overflow)
        pam_syslog(pamh, LOG_ERR, "more than %d ca= options", POLICY_MAX_CA);
    else if (o.crl && o.n_ca == 0)
        pam_syslog(pamh, LOG_ERR, "crl=%s without ca=", o.crl);
    if (o.ca_overflow || (o.crl && o.n_ca == 0)) {
        ret = PAM_AUTH_ERR;
        goto out;
    }
    if (o.n_ca > 0) {
        ret = policy_load(pamh, ctx, o.ca, o.n_ca, o.crl, &trust);
        if (ret != PAM_SUCCESS)
            goto out;
    }

    /* The token's certificates matching uri=. */
    rc = p11tls_list_objects(ctx, o.uri, 0, collect_cert, &cl);
    if (rc < 0 && rc != P11TLS_E_NOT_FOUND) {
        pam_syslog(pamh, LOG_NOTICE, "no token: listing %s failed: %s",
                   o.uri ? o.uri : "all tokens", p11tls_last_error_detail());
        ret = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    if (cl.oom) {
        ret = PAM_BUF_ERR;
        goto out;
    }
    if (cl.n == 0) {
        int tokens = 0;
        p11tls_list_tokens(ctx, o.uri, count_token, &tokens);
        if (tokens == 0)
            pam_syslog(pamh, LOG_NOTICE, "no token: no token matches %s",
                       o.uri ? o.uri : "(any)");
        else
            pam_syslog(pamh, LOG_NOTICE, "no certificate on %d token(s) matches %s",
                       tokens, o.uri ? o.uri : "(any)");
        ret = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    for (size_t i = 0; i < cl.n && match_der == NULL; i++) {
        const uint8_t *der = cl.ders[i];
        size_t len = cl.lens[i];
        if (der == NULL) {
            DBG(&o, pamh, "certificate %s: no value", cl.uris[i]);
            continue;
        }
        char why[256];
        int ok = authorized_match_cert(&auth, der, len) == 1;
        if (ok && trust && policy_check(trust, der, len, why, sizeof(why)) < 0) {
            pam_syslog(pamh, LOG_NOTICE,
                       "user %s: certificate %s refused by the CA policy: %s", user,
                       cl.uris[i], why);
            refused++;
            ok = 0;
        }
        if (ok) {
            cert_uri = object_uri_for(cl.uris[i], "cert", o.uri);
            if (cert_uri == NULL) {
                ret = PAM_BUF_ERR;
                goto out;
            }
            match_der = der;
            match_len = len;
        }
        DBG(&o, pamh, "certificate %s: %s", cl.uris[i],
            match_der ? "authorized" : "not authorized");
    }
    if (match_der == NULL && refused > 0) {
        pam_syslog(pamh, LOG_NOTICE,
                   "user %s: no authorized certificate on the token passes the CA policy "
                   "(%zu refused)", user, refused);
        ret = PAM_AUTH_ERR;
        goto out;
    }
    if (match_der == NULL) {
        pam_syslog(pamh, LOG_NOTICE,
                   "user %s: no authorized key on the token (%zu certificate(s) "
                   "checked against %s)", user, cl.n, where);
        ret = PAM_AUTH_ERR;
        goto out;
    }

    /* The private key, the PIN, the proof. */
    key_uri = object_uri_for(cert_uri, "private", o.uri);
    if (key_uri == NULL) {
        ret = PAM_BUF_ERR;
        goto out;
    }
    p11tls_list_tokens(ctx, key_uri, first_token, &tf);
    const char *label = tf.label && *tf.label ? tf.label : key_uri;
    /* PKCS#11 keeps a token logged in for the whole process: unless an
     * earlier pam_p11tls in this handle checked this token's PIN, make p11tls
     * log out and in again, so that only the right PIN opens the key. A
     * token we could not look up counts as needing a login: fail closed. */
    int need_pin = (!tf.found || (tf.flags & TOKEN_LOGIN_REQUIRED)) &&
                   !(tf.uri && pin_was_checked(pamh, tf.uri));
    DBG(&o, pamh, "opening key %s%s", key_uri, need_pin ? " (verifying the PIN)" : "");
    rc = p11tls_key_open(ctx, key_uri, need_pin ? P11TLS_KEY_OPEN_VERIFY_PIN : 0, &key);
    if (rc != 0) {
        ret = key_open_error(pamh, user, key_uri, label, &ps, rc);
        goto out;
    }
    /* The PIN must have come from the user (or the PIN pad), not from a
     * pin-value or pin-source in uri=. */
    if (need_pin && !o.nopin && ps.calls == 0) {
        pam_syslog(pamh, LOG_NOTICE,
                   "user %s: token %s: the PIN did not come from the user (pin-value or "
                   "pin-source in uri=?); refused", user, label);
        ret = PAM_AUTH_ERR;
        goto out;
    }
    ret = prove_possession(pamh, o.debug, key, match_der, match_len);
    if (ret == PAM_SUCCESS) {
        char *u = strdup(user);
        if (u == NULL || pam_set_data(pamh, DATA_USER, u, free_data) != PAM_SUCCESS) {
            free(u);
            ret = PAM_BUF_ERR;
            goto out;
        }
        if (ps.calls > 0 && tf.uri)
            set_pin_checked(pamh, tf.uri);
        DBG(&o, pamh, "user %s authenticated with %s", user, key_uri);
    }

out:
    if (trust)
        gnutls_x509_trust_list_deinit(trust, 1);
    p11tls_key_free(key);
    free(key_uri);
    free(cert_uri);
    free(tf.uri);
    free(tf.label);
    cert_list_free(&cl);
    p11tls_ctx_free(ctx);
    authorized_free(&auth);
    free(where);
    return ret;
}

PAM_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
                              const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}

/* account: PAM_SUCCESS for the user this module authenticated in this
 * handle; PAM_IGNORE when it authenticated nobody (the user logged in some
 * other way: the other account modules decide); PAM_PERM_DENIED when the
 * user changed after authentication. */
PAM_EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc,
                                const char **argv)
{
    const void *authed = NULL, *item = NULL;
    struct opts o;
    (void)flags;

    parse_args(pamh, argc, argv, &o);
    if (pam_get_data(pamh, DATA_USER, &authed) != PAM_SUCCESS || authed == NULL) {
        DBG(&o, pamh, "account: no user authenticated by pam_p11tls in this handle");
        return PAM_IGNORE;
    }
    const char *user = pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS ? item : NULL;
    if (user == NULL || strcmp(user, authed) != 0) {
        pam_syslog(pamh, LOG_NOTICE, "account: user is %s, but pam_p11tls authenticated %s",
                   user ? user : "(none)", (const char *)authed);
        return PAM_PERM_DENIED;
    }
    DBG(&o, pamh, "account: user %s was authenticated by pam_p11tls", user);
    return PAM_SUCCESS;
}

/* password: change the token's user PIN (chauthtok.c). The preliminary
 * pass touches no token: the PIN is checked once, by the change itself. A
 * PIN does not expire, so a change asked only for expired passwords
 * (PAM_CHANGE_EXPIRED_AUTHTOK) is not ours. */
PAM_EXPORT int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct opts o;
    const char *user = NULL;
    p11tls_ctx *ctx = NULL;
    int ret;

    parse_args(pamh, argc, argv, &o);
    if (flags & PAM_CHANGE_EXPIRED_AUTHTOK)
        return PAM_IGNORE;
    if (flags & PAM_PRELIM_CHECK)
        return PAM_SUCCESS;
    if (!(flags & PAM_UPDATE_AUTHTOK))
        return PAM_SERVICE_ERR;
    if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL || *user == '\0') {
        pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name");
        return PAM_USER_UNKNOWN;
    }
    if (open_ctx(pamh, &o, &ctx) != 0) {
        p11tls_ctx_free(ctx);
        return PAM_AUTHTOK_ERR;
    }
    ret = o.wait ? insert_wait(pamh, ctx, o.uri, o.wait) : PAM_SUCCESS;
    if (ret == PAM_SUCCESS)
        ret = chauthtok_update(pamh, ctx, user, o.uri ? o.uri : "pkcs11:");
    else
        ret = PAM_AUTHTOK_ERR;
    p11tls_ctx_free(ctx);
    return ret;
}
