/*
 * pam_p11tls — PAM authentication with a PKCS#11 token key, through p11tls.
 *
 * auth: find the certificates on the token matching uri=, keep those that
 * appear in the user's authorized file (PEM certificates; same DER or same
 * public key), ask for the PIN through the PAM conversation, sign a fresh
 * random challenge with the matching private key and verify the signature
 * with GnuTLS against the certificate's public key.
 *
 * Every call uses its own p11tls context, created and freed inside
 * pam_sm_authenticate; the module has no global state, no init/deinit, and
 * may be loaded several times in one stack and dlclose()d.
 */
#define _DEFAULT_SOURCE 1 /* explicit_bzero */
#define _GNU_SOURCE 1

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <p11tls/p11tls.h>

#define PAM_EXPORT __attribute__((visibility("default")))

#define DEFAULT_AUTHORIZED ".config/p11tls/authorized_certs"
#define CHALLENGE_LEN 32

struct opts {
    const char *uri;
    const char *module;
    const char *authorized;
    int debug;
    int nopin;
};

static void parse_args(pam_handle_t *pamh, int argc, const char **argv,
                       struct opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "uri=", 4) == 0)
            o->uri = a + 4;
        else if (strncmp(a, "module=", 7) == 0)
            o->module = a + 7;
        else if (strncmp(a, "authorized=", 11) == 0)
            o->authorized = a + 11;
        else if (strcmp(a, "debug") == 0)
            o->debug = 1;
        else if (strcmp(a, "nopin") == 0)
            o->nopin = 1;
        else if (strcmp(a, "try_first_pass") == 0 ||
                 strcmp(a, "use_first_pass") == 0)
            ; /* accepted, not implemented yet: the PIN is always asked */
        else
            pam_syslog(pamh, LOG_WARNING, "unknown option: %s", a);
    }
}

#define DBG(o, pamh, ...)                                    \
    do {                                                     \
        if ((o)->debug)                                      \
            pam_syslog((pamh), LOG_DEBUG, __VA_ARGS__);      \
    } while (0)

/* ---- PIN through the PAM conversation --------------------------------- */

struct pin_arg {
    pam_handle_t *pamh;
    int calls;
};

static int pam_pin_fn(void *arg, const char *token_uri, const char *token_label,
                      unsigned flags, char *pin, size_t pin_size)
{
    struct pin_arg *pa = arg;
    char *resp = NULL;
    (void)token_uri;

    pa->calls++;
    const char *label = token_label && *token_label ? token_label : "token";
    const char *warn = "";
    if (flags & P11TLS_PIN_FINAL_TRY)
        warn = " (final try)";
    else if (flags & P11TLS_PIN_COUNT_LOW)
        warn = " (wrong PIN entered before)";
    int rc = pam_prompt(pa->pamh, PAM_PROMPT_ECHO_OFF, &resp, "PIN for %s%s: ",
                        label, warn);
    if (rc != PAM_SUCCESS || resp == NULL) {
        if (resp) {
            explicit_bzero(resp, strlen(resp));
            free(resp);
        }
        return -1;
    }
    size_t n = strlen(resp);
    if (n + 1 > pin_size) {
        explicit_bzero(resp, n);
        free(resp);
        return -1;
    }
    memcpy(pin, resp, n + 1);
    explicit_bzero(resp, n);
    free(resp);
    return 0;
}

/* ---- certificate listing ------------------------------------------------ */

struct cert_list {
    char **uris;
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
        if (u == NULL) {
            cl->oom = 1;
            return 0;
        }
        cl->uris = u;
        cl->cap = cap;
    }
    char *d = strdup(info->uri);
    if (d == NULL) {
        cl->oom = 1;
        return 0;
    }
    cl->uris[cl->n++] = d;
    return 0;
}

static void cert_list_free(struct cert_list *cl)
{
    for (size_t i = 0; i < cl->n; i++)
        free(cl->uris[i]);
    free(cl->uris);
    memset(cl, 0, sizeof(*cl));
}

/* Private key URI from a certificate object URI: same path attributes, with
 * type=private instead of type=cert; the query part is dropped. */
static char *key_uri_from_cert_uri(const char *cert_uri)
{
    if (strncmp(cert_uri, "pkcs11:", 7) != 0)
        return NULL;
    const char *path = cert_uri + 7;
    size_t plen = strcspn(path, "?");
    char *out = malloc(7 + plen + sizeof(";type=private"));
    if (out == NULL)
        return NULL;
    strcpy(out, "pkcs11:");
    char *w = out + 7;
    const char *p = path, *end = path + plen;
    int first = 1;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *aend = semi ? semi : end;
        size_t alen = (size_t)(aend - p);
        if (alen > 0 && !(alen >= 5 && strncmp(p, "type=", 5) == 0)) {
            if (!first)
                *w++ = ';';
            memcpy(w, p, alen);
            w += alen;
            first = 0;
        }
        p = semi ? semi + 1 : end;
    }
    strcpy(w, first ? "type=private" : ";type=private");
    return out;
}

/* ---- authorized certificates ------------------------------------------- */

static int spki_der(gnutls_x509_crt_t crt, gnutls_datum_t *out)
{
    gnutls_pubkey_t pk;
    out->data = NULL;
    out->size = 0;
    if (gnutls_pubkey_init(&pk) < 0)
        return -1;
    int rc = gnutls_pubkey_import_x509(pk, crt, 0);
    if (rc >= 0)
        rc = gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, out);
    gnutls_pubkey_deinit(pk);
    return rc < 0 ? -1 : 0;
}

/* Returns 1 if the DER certificate matches one of the authorized ones
 * (same certificate, or same public key). */
static int is_authorized(gnutls_x509_crt_t *auth, unsigned n_auth,
                         const uint8_t *der, size_t der_len)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t d = {(unsigned char *)der, (unsigned)der_len};
    gnutls_datum_t spki = {NULL, 0};
    int found = 0;

    if (gnutls_x509_crt_init(&crt) < 0)
        return 0;
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0 ||
        spki_der(crt, &spki) < 0) {
        gnutls_x509_crt_deinit(crt);
        return 0;
    }
    for (unsigned i = 0; i < n_auth && !found; i++) {
        gnutls_datum_t a = {NULL, 0}, as = {NULL, 0};
        if (gnutls_x509_crt_export2(auth[i], GNUTLS_X509_FMT_DER, &a) >= 0) {
            if (a.size == der_len && memcmp(a.data, der, der_len) == 0)
                found = 1;
            gnutls_free(a.data);
        }
        if (!found && spki_der(auth[i], &as) == 0) {
            if (as.size == spki.size && memcmp(as.data, spki.data, spki.size) == 0)
                found = 1;
            gnutls_free(as.data);
        }
    }
    gnutls_free(spki.data);
    gnutls_x509_crt_deinit(crt);
    return found;
}

/* ---- challenge signing ------------------------------------------------- */

static int pick_scheme(p11tls_key *key, uint16_t *scheme,
                       gnutls_sign_algorithm_t *galg)
{
    int alg = p11tls_key_get_algorithm(key);
    int bits = p11tls_key_get_bits(key);
    switch (alg) {
    case P11TLS_ALG_RSA:
        if (p11tls_key_supports(key, P11TLS_SIG_RSA_PSS_RSAE_SHA256) == 1) {
            *scheme = P11TLS_SIG_RSA_PSS_RSAE_SHA256;
            *galg = GNUTLS_SIGN_RSA_PSS_RSAE_SHA256;
        } else {
            *scheme = P11TLS_SIG_RSA_PKCS1_SHA256;
            *galg = GNUTLS_SIGN_RSA_SHA256;
        }
        return 0;
    case P11TLS_ALG_ECDSA:
        if (bits <= 256) {
            *scheme = P11TLS_SIG_ECDSA_SECP256R1_SHA256;
            *galg = GNUTLS_SIGN_ECDSA_SHA256;
        } else if (bits <= 384) {
            *scheme = P11TLS_SIG_ECDSA_SECP384R1_SHA384;
            *galg = GNUTLS_SIGN_ECDSA_SHA384;
        } else {
            *scheme = P11TLS_SIG_ECDSA_SECP521R1_SHA512;
            *galg = GNUTLS_SIGN_ECDSA_SHA512;
        }
        return 0;
    case P11TLS_ALG_ED25519:
        *scheme = P11TLS_SIG_ED25519;
        *galg = GNUTLS_SIGN_EDDSA_ED25519;
        return 0;
    case P11TLS_ALG_ED448:
        *scheme = P11TLS_SIG_ED448;
        *galg = GNUTLS_SIGN_EDDSA_ED448;
        return 0;
    default:
        return -1;
    }
}

/* Signs a random challenge with key and verifies it with the certificate's
 * public key. Returns PAM_SUCCESS or PAM_AUTH_ERR (logged). */
static int prove_possession(pam_handle_t *pamh, const struct opts *o,
                            p11tls_key *key, const uint8_t *cert_der,
                            size_t cert_len)
{
    uint8_t challenge[CHALLENGE_LEN];
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    uint16_t scheme;
    gnutls_sign_algorithm_t galg;
    gnutls_x509_crt_t crt = NULL;
    gnutls_pubkey_t pk = NULL;
    int ret = PAM_AUTH_ERR;
    int rc;

    if (pick_scheme(key, &scheme, &galg) < 0) {
        pam_syslog(pamh, LOG_ERR, "unsupported key algorithm for %s",
                   p11tls_key_get_uri(key));
        return PAM_AUTH_ERR;
    }
    if (gnutls_rnd(GNUTLS_RND_NONCE, challenge, sizeof(challenge)) < 0) {
        pam_syslog(pamh, LOG_ERR, "cannot generate a random challenge");
        return PAM_AUTH_ERR;
    }
    rc = p11tls_key_sign(key, scheme, challenge, sizeof(challenge), NULL, &sig_len);
    if (rc == 0 && (sig = malloc(sig_len)) == NULL)
        rc = P11TLS_E_MEMORY;
    if (rc == 0)
        rc = p11tls_key_sign(key, scheme, challenge, sizeof(challenge), sig, &sig_len);
    if (rc != 0) {
        pam_syslog(pamh, LOG_ERR, "signing the challenge failed (%s): %s",
                   p11tls_strerror_name(rc), p11tls_last_error_detail());
        goto out;
    }
    gnutls_datum_t cd = {(unsigned char *)cert_der, (unsigned)cert_len};
    gnutls_datum_t md = {challenge, sizeof(challenge)};
    gnutls_datum_t sd = {sig, (unsigned)sig_len};
    if (gnutls_x509_crt_init(&crt) < 0 || gnutls_pubkey_init(&pk) < 0 ||
        gnutls_x509_crt_import(crt, &cd, GNUTLS_X509_FMT_DER) < 0 ||
        gnutls_pubkey_import_x509(pk, crt, 0) < 0) {
        pam_syslog(pamh, LOG_ERR, "cannot read the token certificate's public key");
        goto out;
    }
    rc = gnutls_pubkey_verify_data2(pk, galg, 0, &md, &sd);
    if (rc < 0) {
        pam_syslog(pamh, LOG_NOTICE,
                   "signature mismatch: the key %s does not match its certificate (%s)",
                   p11tls_key_get_uri(key), gnutls_strerror(rc));
        goto out;
    }
    DBG(o, pamh, "challenge signed with %s and verified",
        p11tls_sig_scheme_name(scheme));
    ret = PAM_SUCCESS;
out:
    if (pk)
        gnutls_pubkey_deinit(pk);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    free(sig);
    explicit_bzero(challenge, sizeof(challenge));
    return ret;
}

/* ---- the PAM entry points ---------------------------------------------- */

PAM_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
                                   const char **argv)
{
    struct opts o;
    const char *user = NULL;
    struct passwd *pw;
    char *auth_path = NULL;
    gnutls_datum_t auth_data = {NULL, 0};
    gnutls_x509_crt_t *auth = NULL;
    unsigned n_auth = 0;
    p11tls_ctx *ctx = NULL;
    struct cert_list cl = {NULL, 0, 0, 0};
    struct pin_arg pa = {pamh, 0};
    uint8_t *match_der = NULL;
    size_t match_len = 0;
    const char *match_uri = NULL;
    char *key_uri = NULL;
    p11tls_key *key = NULL;
    int ret = PAM_AUTH_ERR;
    int rc;
    (void)flags;

    parse_args(pamh, argc, argv, &o);

    rc = pam_get_user(pamh, &user, NULL);
    if (rc != PAM_SUCCESS || user == NULL || *user == '\0') {
        pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name");
        return PAM_USER_UNKNOWN;
    }
    pw = getpwnam(user);
    if (pw == NULL) {
        pam_syslog(pamh, LOG_NOTICE, "unknown user %s", user);
        return PAM_USER_UNKNOWN;
    }

    /* The user's authorized certificates. */
    if (o.authorized) {
        auth_path = strdup(o.authorized);
    } else if (asprintf(&auth_path, "%s/%s", pw->pw_dir, DEFAULT_AUTHORIZED) < 0) {
        auth_path = NULL;
    }
    if (auth_path == NULL) {
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    }
    rc = gnutls_load_file(auth_path, &auth_data);
    if (rc < 0) {
        pam_syslog(pamh, LOG_NOTICE, "user %s: cannot read authorized file %s: %s",
                   user, auth_path, gnutls_strerror(rc));
        ret = PAM_AUTH_ERR;
        goto out;
    }
    rc = gnutls_x509_crt_list_import2(&auth, &n_auth, &auth_data,
                                      GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || n_auth == 0) {
        pam_syslog(pamh, LOG_NOTICE,
                   "user %s: no authorized certificate in %s", user, auth_path);
        n_auth = 0;
        auth = NULL;
        ret = PAM_AUTH_ERR;
        goto out;
    }
    DBG(&o, pamh, "user %s: %u authorized certificate(s) in %s", user, n_auth,
        auth_path);

    /* Our own context. */
    rc = p11tls_ctx_new(&ctx);
    if (rc != 0) {
        pam_syslog(pamh, LOG_ERR, "cannot create a p11tls context: %s",
                   p11tls_strerror(rc));
        ret = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    if (o.module) {
        rc = p11tls_ctx_add_module(ctx, o.module);
        if (rc != 0) {
            pam_syslog(pamh, LOG_ERR, "cannot load PKCS#11 module %s: %s",
                       o.module, p11tls_last_error_detail());
            ret = PAM_AUTHINFO_UNAVAIL;
            goto out;
        }
    }
    if (!o.nopin)
        p11tls_ctx_set_pin_fn(ctx, pam_pin_fn, &pa);

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
        pam_syslog(pamh, LOG_NOTICE, "no token: no certificate matches %s",
                   o.uri ? o.uri : "(any)");
        ret = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    for (size_t i = 0; i < cl.n && match_uri == NULL; i++) {
        uint8_t *der = NULL;
        size_t len = 0;
        if (p11tls_cert_get_der(ctx, cl.uris[i], &der, &len) != 0)
            continue;
        if (is_authorized(auth, n_auth, der, len)) {
            match_uri = cl.uris[i];
            match_der = der;
            match_len = len;
        } else {
            p11tls_free(der);
        }
        DBG(&o, pamh, "certificate %s: %s", cl.uris[i],
            match_uri ? "authorized" : "not authorized");
    }
    if (match_uri == NULL) {
        pam_syslog(pamh, LOG_NOTICE,
                   "user %s: no authorized key on the token (%zu certificate(s) "
                   "checked against %s)", user, cl.n, auth_path);
        ret = PAM_AUTH_ERR;
        goto out;
    }

    /* The private key, the PIN, the proof. */
    key_uri = key_uri_from_cert_uri(match_uri);
    if (key_uri == NULL) {
        pam_syslog(pamh, LOG_ERR, "cannot derive a key URI from %s", match_uri);
        ret = PAM_AUTH_ERR;
        goto out;
    }
    DBG(&o, pamh, "opening key %s", key_uri);
    rc = p11tls_key_open(ctx, key_uri, 0, &key);
    if (rc != 0) {
        switch (rc) {
        case P11TLS_E_PIN_INCORRECT:
            pam_syslog(pamh, LOG_NOTICE, "user %s: wrong PIN for %s", user, key_uri);
            ret = PAM_AUTH_ERR;
            break;
        case P11TLS_E_PIN_LOCKED:
            pam_syslog(pamh, LOG_NOTICE, "user %s: the token's PIN is locked", user);
            ret = PAM_AUTH_ERR;
            break;
        case P11TLS_E_PIN_CANCELLED:
        case P11TLS_E_PIN_REQUIRED:
            pam_syslog(pamh, LOG_NOTICE, "user %s: no PIN given", user);
            ret = PAM_AUTH_ERR;
            break;
        case P11TLS_E_TOKEN_NOT_PRESENT:
            pam_syslog(pamh, LOG_NOTICE, "no token: removed while opening %s", key_uri);
            ret = PAM_AUTHINFO_UNAVAIL;
            break;
        default:
            pam_syslog(pamh, LOG_NOTICE, "user %s: cannot open key %s (%s): %s",
                       user, key_uri, p11tls_strerror_name(rc),
                       p11tls_last_error_detail());
            ret = PAM_AUTH_ERR;
        }
        goto out;
    }
    ret = prove_possession(pamh, &o, key, match_der, match_len);
    if (ret == PAM_SUCCESS)
        DBG(&o, pamh, "user %s authenticated with %s", user, key_uri);

out:
    p11tls_key_free(key);
    free(key_uri);
    p11tls_free(match_der);
    cert_list_free(&cl);
    p11tls_ctx_free(ctx);
    for (unsigned i = 0; i < n_auth; i++)
        gnutls_x509_crt_deinit(auth[i]);
    gnutls_free(auth);
    gnutls_free(auth_data.data);
    free(auth_path);
    return ret;
}

PAM_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
                              const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}

PAM_EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc,
                                const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
