/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* semantics CASE: where programs rely on GnuTLS's own PKCS#11 semantics,
 * p11tls serving their pkcs11: URLs behaves the same (issue 19's seven
 * differences). One case per process (a token stays logged in for the rest
 * of a process), run by tests/gnutls/semantics_test.sh under
 * tests/with-token.sh, which also writes the decrypt-only key "dec-only".
 *   attempt0     GnuTLS's process-wide PIN function is asked with attempt 0
 *   no-token     a URI without token= finds the key although the module
 *                also has an uninitialized slot (SoftHSM's spare one)
 *   second-pin   logged in, a second open with a wrong pin-value or an
 *                unreadable pin-source is refused; the right one passes
 *   usage        a key with CKA_SIGN false offers no signature scheme
 *   errors       not found is GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE
 *   privkey-pin  gnutls_privkey_set_pin_function's callback gives the PIN,
 *                also to the login a forked child does
 *   file2-pass   the pass of gnutls_certificate_set_x509_key_file2
 *   pubkey       gnutls_pubkey_import_privkey cannot; the key's SPKI can
 * and issue 24's two (the test also writes "priv-cert", a CKA_PRIVATE copy
 * of p256's certificate, and a certificate for "dec-only"):
 *   private-cert          gnutls_x509_crt_list_import_url finds a private
 *                         certificate with GNUTLS_PKCS11_OBJ_FLAG_LOGIN, the
 *                         PIN from its pin_fn (no process-wide one), and
 *                         not without the flag
 *   private-cert-pcert    gnutls_pcert_list_import_x509_file (which tries
 *                         without the flag, then with it) finds it, and no
 *                         error or warning is logged on the way
 *   private-cert-pin-url  a pin-value in the URL with the flag finds it
 *   probe-quiet           loading the decrypt-only key beside its
 *                         certificate works (GnuTLS's probe signature
 *                         fails and GnuTLS goes on) and logs no error
 * Messages are counted through p11tls_gnutls_url_set_log_fn, the function
 * the p11tls exec preload sets to print warnings and errors.
 * Exit status 0 = the case behaved as described. */
#include <p11tls/gnutls.h>
#include <p11tls/p11tls.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY "pkcs11:token=p11tls-test;object=p256;type=private"
#define CERT "pkcs11:token=p11tls-test;object=p256;type=cert"

#define PRIV_CERT "pkcs11:token=p11tls-test;object=priv-cert;type=cert"

static const char *pin;
static int calls, last_attempt = -1;
static int loud; /* warnings and errors logged by the URL contexts */

static void count_loud(void *arg, int level, const char *message)
{
    (void)arg;
    if (level <= P11TLS_LOG_WARNING) {
        loud++;
        fprintf(stderr, "logged: %s\n", message);
    }
}

/* Answers attempt 0 only, as GnuTLS's own callback for a key file's pass. */
static int first_only(void *userdata, int attempt, const char *token_url,
                      const char *token_label, unsigned flags, char *out, size_t out_max)
{
    (void)token_url; (void)token_label; (void)flags;
    calls++;
    last_attempt = attempt;
    if (attempt != 0)
        return -1;
    snprintf(out, out_max, "%s", (const char *)userdata);
    return 0;
}

static int expect(const char *what, long got, long want)
{
    if (got == want)
        return 0;
    fprintf(stderr, "FAIL %s: got %ld, want %ld (%s)\n", what, got, want, p11tls_last_error_detail());
    return 1;
}

static int open_rc(const char *uri)
{
    p11tls_key *key = NULL;
    int rc = p11tls_key_open(NULL, uri, 0, &key);
    p11tls_key_free(key);
    return rc;
}

/* Imports url into a fresh privkey (PIN callback fn, if any) and signs. */
static int import_and_sign(const char *url, gnutls_pin_callback_t fn, void *arg)
{
    gnutls_privkey_t k;
    gnutls_datum_t data = {(unsigned char *)"x", 1}, sig = {NULL, 0};
    int rc = gnutls_privkey_init(&k);
    if (rc < 0)
        return rc;
    if (fn)
        gnutls_privkey_set_pin_function(k, fn, arg);
    rc = gnutls_privkey_import_url(k, url, 0);
    if (rc == 0)
        rc = gnutls_privkey_sign_data(k, GNUTLS_DIG_SHA256, 0, &data, &sig);
    gnutls_free(sig.data);
    gnutls_privkey_deinit(k);
    return rc;
}

static int privkey_pin(void)
{
    int bad = 0, status = 0;
    gnutls_privkey_t k;
    gnutls_datum_t data = {(unsigned char *)"x", 1}, sig = {NULL, 0};
    gnutls_privkey_init(&k);
    gnutls_privkey_set_pin_function(k, first_only, (void *)pin);
    bad |= expect("import with the privkey's PIN callback", gnutls_privkey_import_url(k, KEY, 0), 0);
    bad |= expect("callback asked", calls, 1);
    /* The child's p11tls logs in again (a new world): the callback again. */
    pid_t child = fork();
    if (child == 0) {
        /* With SoftHSM's reset_on_fork false the child inherits the
         * login, and p11tls finds it logged in: no callback then. */
        const char *rof = getenv("P11TLS_TEST_RESET_ON_FORK");
        int want = rof && strcmp(rof, "true") == 0 ? 2 : 1;
        int rc = gnutls_privkey_sign_data(k, GNUTLS_DIG_SHA256, 0, &data, &sig);
        _exit(rc != 0 ? 1 : calls != want ? 2 : 0);
    }
    bad |= expect("fork", child > 0, 1);
    alarm(60);
    bad |= expect("waitpid", waitpid(child, &status, 0), child);
    bad |= expect("child signed, asking the callback once more",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    gnutls_privkey_deinit(k);
    return bad;
}

static int usage(void)
{
    int bad = 0;
    p11tls_key *key = NULL;
    uint8_t sig[512];
    size_t len = sizeof sig;
    char uri[256];
    snprintf(uri, sizeof uri, "pkcs11:token=p11tls-test;object=dec-only;type=private;pin-value=%s", pin);
    bad |= expect("open decrypt-only key", p11tls_key_open(NULL, uri, 0, &key), 0);
    if (!key)
        return 1;
    bad |= expect("no PKCS#1 signatures", p11tls_key_supports(key, P11TLS_SIG_RSA_PKCS1_SHA256), 0);
    bad |= expect("no PSS signatures", p11tls_key_supports(key, P11TLS_SIG_RSA_PSS_RSAE_SHA256), 0);
    bad |= expect("sign refused", p11tls_key_sign(key, P11TLS_SIG_RSA_PSS_RSAE_SHA256,
                                                  (const uint8_t *)"x", 1, sig, &len),
                  P11TLS_E_UNSUPPORTED);
    p11tls_key_free(key);
    /* What GnuTLS asks when it picks a cipher suite (the info callback). */
    gnutls_privkey_t k;
    gnutls_privkey_init(&k);
    bad |= expect("GnuTLS import", p11tls_gnutls_privkey_import(k, NULL, uri, 0), 0);
    gnutls_datum_t data = {(unsigned char *)"x", 1}, gsig = {NULL, 0};
    bad |= expect("GnuTLS signature refused",
                  gnutls_privkey_sign_data2(k, GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, 0, &data, &gsig) < 0, 1);
    gnutls_privkey_deinit(k);
    /* The control: a key that may sign. */
    snprintf(uri, sizeof uri, "pkcs11:token=p11tls-test;object=rsa2048;type=private;pin-value=%s", pin);
    key = NULL;
    bad |= expect("open signing key", p11tls_key_open(NULL, uri, 0, &key), 0);
    bad |= expect("signing key offers PSS", p11tls_key_supports(key, P11TLS_SIG_RSA_PSS_RSAE_SHA256), 1);
    p11tls_key_free(key);
    return bad;
}

static int pubkey(void)
{
    int bad = 0;
    gnutls_privkey_t k;
    gnutls_pubkey_t pub;
    p11tls_key *key = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    char uri[256];
    snprintf(uri, sizeof uri, "%s;pin-value=%s", KEY, pin);
    gnutls_privkey_init(&k);
    gnutls_pubkey_init(&pub);
    bad |= expect("import", gnutls_privkey_import_url(k, uri, 0), 0);
    /* GnuTLS 3.7.9 asks an external key for no public parameters. */
    bad |= expect("gnutls_pubkey_import_privkey fails", gnutls_pubkey_import_privkey(pub, k, 0, 0) < 0, 1);
    /* The way around: the key's SubjectPublicKeyInfo through p11tls. */
    bad |= expect("p11tls_key_open", p11tls_key_open(NULL, uri, 0, &key), 0);
    bad |= expect("p11tls_key_get_spki", p11tls_key_get_spki(key, &der, &len), 0);
    gnutls_datum_t d = {der, (unsigned)len};
    bad |= expect("gnutls_pubkey_import of the SPKI", gnutls_pubkey_import(pub, &d, GNUTLS_X509_FMT_DER), 0);
    bad |= expect("public key algorithm", gnutls_pubkey_get_pk_algorithm(pub, NULL), GNUTLS_PK_ECDSA);
    p11tls_free(der);
    p11tls_key_free(key);
    gnutls_pubkey_deinit(pub);
    gnutls_privkey_deinit(k);
    return bad;
}

/* The DER p11tls gives for uri through the default context, or an empty
 * datum. */
static gnutls_datum_t der_of(const char *uri)
{
    gnutls_datum_t d = {NULL, 0};
    uint8_t *der = NULL;
    size_t len = 0;
    if (p11tls_cert_get_der(NULL, uri, &der, &len) == 0) {
        d.data = gnutls_malloc(len);
        if (d.data) {
            memcpy(d.data, der, len);
            d.size = (unsigned)len;
        }
    }
    p11tls_free(der);
    return d;
}

static int same_der(gnutls_x509_crt_t crt, const gnutls_datum_t *want)
{
    gnutls_datum_t got = {NULL, 0};
    int same = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &got) == 0 && want->size > 0 &&
               got.size == want->size && memcmp(got.data, want->data, got.size) == 0;
    gnutls_free(got.data);
    return same;
}

static int private_cert(void)
{
    int bad = 0;
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0, i;
    gnutls_datum_t want = der_of(CERT); /* priv-cert is a copy of it */
    gnutls_pkcs11_set_pin_function(NULL, NULL);
    bad |= expect("without the login flag: not found",
                  gnutls_x509_crt_list_import_url(&crts, &n, PRIV_CERT, first_only, (void *)pin, 0),
                  GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    bad |= expect("nobody asked for a PIN", calls, 0);
    bad |= expect("with the login flag: found",
                  gnutls_x509_crt_list_import_url(&crts, &n, PRIV_CERT, first_only, (void *)pin,
                                                  GNUTLS_PKCS11_OBJ_FLAG_LOGIN),
                  0);
    bad |= expect("the list's pin_fn asked once", calls, 1);
    bad |= expect("the certificate", n >= 1 && same_der(crts[0], &want), 1);
    for (i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    gnutls_free(want.data);
    bad |= expect("errors or warnings logged", loud, 0);
    return bad;
}

static int private_cert_pcert(void)
{
    int bad = 0;
    gnutls_pcert_st pcerts[4];
    unsigned n = 4, i;
    gnutls_datum_t want = der_of(CERT);
    gnutls_pkcs11_set_pin_function(NULL, NULL);
    bad |= expect("gnutls_pcert_list_import_x509_file",
                  gnutls_pcert_list_import_x509_file(pcerts, &n, PRIV_CERT, GNUTLS_X509_FMT_DER,
                                                     first_only, (void *)pin, 0),
                  0);
    bad |= expect("the certificate", n >= 1 && pcerts[0].cert.size == want.size &&
                                         memcmp(pcerts[0].cert.data, want.data, want.size) == 0,
                  1);
    for (i = 0; i < n; i++)
        gnutls_pcert_deinit(&pcerts[i]);
    gnutls_free(want.data);
    /* Its first try, without the login flag, finds nothing: not an error. */
    bad |= expect("errors or warnings logged", loud, 0);
    return bad;
}

static int private_cert_pin_url(void)
{
    int bad = 0;
    char uri[256];
    gnutls_x509_crt_t crt;
    gnutls_datum_t want = der_of(CERT);
    snprintf(uri, sizeof uri, "%s;pin-value=%s", PRIV_CERT, pin);
    gnutls_x509_crt_init(&crt);
    bad |= expect("without the login flag: not found", gnutls_x509_crt_import_url(crt, uri, 0),
                  GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    bad |= expect("with it: found", gnutls_x509_crt_import_url(crt, uri, GNUTLS_PKCS11_OBJ_FLAG_LOGIN), 0);
    bad |= expect("the certificate", same_der(crt, &want), 1);
    gnutls_x509_crt_deinit(crt);
    gnutls_free(want.data);
    return bad;
}

static int probe_quiet(void)
{
    int bad = 0;
    char key[256];
    gnutls_certificate_credentials_t cred;
    snprintf(key, sizeof key, "pkcs11:token=p11tls-test;object=dec-only;type=private;pin-value=%s", pin);
    gnutls_certificate_allocate_credentials(&cred);
    bad |= expect("set_x509_key_file2 with the decrypt-only key",
                  gnutls_certificate_set_x509_key_file2(
                      cred, "pkcs11:token=p11tls-test;object=dec-only;type=cert", key,
                      GNUTLS_X509_FMT_DER, NULL, 0) >= 0,
                  1);
    gnutls_certificate_free_credentials(cred);
    bad |= expect("errors or warnings logged", loud, 0);
    return bad;
}

int main(int argc, char **argv)
{
    pin = getenv("P11TLS_TEST_PIN");
    if (argc != 2 || !pin) {
        fprintf(stderr, "usage: P11TLS_TEST_PIN=... %s CASE\n", argv[0]);
        return 2;
    }
    if (p11tls_gnutls_register_url() != 0 ||
        p11tls_gnutls_url_set_log_fn(count_loud, NULL, P11TLS_LOG_DEBUG) != 0) {
        fprintf(stderr, "p11tls_gnutls_register_url failed\n");
        return 1;
    }
    const char *c = argv[1];
    char uri[512];
    int bad = 0;
    if (strcmp(c, "attempt0") == 0) {
        gnutls_pkcs11_set_pin_function(first_only, (void *)pin);
        bad |= expect("import asking GnuTLS's PIN function", import_and_sign(KEY, NULL, NULL), 0);
        bad |= expect("asked once", calls, 1);
        bad |= expect("with attempt 0", last_attempt, 0);
    } else if (strcmp(c, "no-token") == 0) {
        snprintf(uri, sizeof uri, "pkcs11:object=p256;type=private;pin-value=%s", pin);
        bad |= expect("open without token=", open_rc(uri), 0);
        bad |= expect("certificate without token=",
                      import_and_sign("pkcs11:object=no-such-key;type=private", NULL, NULL),
                      GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    } else if (strcmp(c, "second-pin") == 0) {
        snprintf(uri, sizeof uri, "%s;pin-value=%s", KEY, pin);
        bad |= expect("first open, right PIN", open_rc(uri), 0);
        snprintf(uri, sizeof uri, "%s;pin-value=%s9", KEY, pin);
        bad |= expect("second open, wrong pin-value", open_rc(uri), P11TLS_E_PIN_INCORRECT);
        bad |= expect("through GnuTLS: its PIN error", import_and_sign(uri, NULL, NULL),
                      GNUTLS_E_PKCS11_PIN_ERROR);
        bad |= expect("unreadable pin-source", open_rc(KEY ";pin-source=/nonexistent/pin"),
                      P11TLS_E_PIN_SOURCE);
        snprintf(uri, sizeof uri, "%s;pin-value=%s", KEY, pin);
        bad |= expect("right PIN again", open_rc(uri), 0);
        bad |= expect("no PIN: logged in", open_rc(KEY), 0);
    } else if (strcmp(c, "usage") == 0) {
        bad |= usage();
    } else if (strcmp(c, "errors") == 0) {
        gnutls_x509_crt_t crt;
        gnutls_x509_crt_init(&crt);
        bad |= expect("missing certificate",
                      gnutls_x509_crt_import_url(crt, "pkcs11:token=p11tls-test;object=nothing;type=cert", 0),
                      GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
        bad |= expect("missing token", gnutls_x509_crt_import_url(crt, "pkcs11:token=absent;type=cert", 0),
                      GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
        bad |= expect("existing certificate", gnutls_x509_crt_import_url(crt, CERT, 0), 0);
        gnutls_x509_crt_deinit(crt);
        snprintf(uri, sizeof uri, "pkcs11:token=p11tls-test;object=nothing;type=private;pin-value=%s", pin);
        bad |= expect("missing key", import_and_sign(uri, NULL, NULL), GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    } else if (strcmp(c, "privkey-pin") == 0) {
        bad |= privkey_pin();
    } else if (strcmp(c, "file2-pass") == 0) {
        gnutls_certificate_credentials_t cred;
        gnutls_certificate_allocate_credentials(&cred);
        bad |= expect("set_x509_key_file2 with pass",
                      gnutls_certificate_set_x509_key_file2(cred, CERT, KEY, GNUTLS_X509_FMT_DER, pin, 0) >= 0, 1);
        gnutls_certificate_free_credentials(cred);
    } else if (strcmp(c, "pubkey") == 0) {
        bad |= pubkey();
    } else if (strcmp(c, "private-cert") == 0) {
        bad |= private_cert();
    } else if (strcmp(c, "private-cert-pcert") == 0) {
        bad |= private_cert_pcert();
    } else if (strcmp(c, "private-cert-pin-url") == 0) {
        bad |= private_cert_pin_url();
    } else if (strcmp(c, "probe-quiet") == 0) {
        bad |= probe_quiet();
    } else {
        fprintf(stderr, "unknown case %s\n", c);
        return 2;
    }
    printf("%s: %s\n", c, bad ? "FAIL" : "ok");
    return bad;
}
