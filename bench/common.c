/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/common.c: see common.h. */
#define _GNU_SOURCE
#include "common.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/pkcs11.h>

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *bench_trust_module(void)
{
    static const char *paths[] = {"/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-trust.so",
                                  "/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-trust.so",
                                  "/usr/lib64/pkcs11/p11-kit-trust.so", NULL};
    const char *env = getenv("BENCH_TRUST_MODULE");
    size_t i;
    if (env && *env)
        return env;
    for (i = 0; paths[i]; i++)
        if (access(paths[i], R_OK) == 0)
            return paths[i];
    die("p11-kit-trust.so not found (set BENCH_TRUST_MODULE)");
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

const char *bench_module(void)
{
    const char *m = getenv("BENCH_MODULE");
    if (!m || !*m)
        die("BENCH_MODULE is not set (run bench/run.sh)");
    return m;
}

const char *bench_init_reserved(void)
{
    const char *r = getenv("BENCH_INIT_RESERVED");
    return r && *r ? r : NULL;
}

const char *bench_token(void) { return env_or("BENCH_TOKEN", "p11tls-test"); }
const char *bench_pin(void) { return env_or("BENCH_PIN", "1234"); }

void emit(const char *bench, const char *cas, const char *impl, const char *param,
          double value, const char *unit)
{
    printf("%s,%s,%s,%s,%.6g,%s\n", bench, cas, impl, param, value, unit);
    fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const char *arg_str(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

long arg_long(int argc, char **argv, const char *name, long def)
{
    const char *v = arg_str(argc, argv, name, NULL);
    return v ? strtol(v, NULL, 10) : def;
}

double arg_double(int argc, char **argv, const char *name, double def)
{
    const char *v = arg_str(argc, argv, name, NULL);
    return v ? strtod(v, NULL) : def;
}

/* ---- keys -------------------------------------------------------------- */

static const bench_key keys[] = {
    {"rsa2048", P11TLS_SIG_RSA_PKCS1_SHA256, GNUTLS_SIGN_RSA_SHA256, 1, CKM_RSA_PKCS},
    {"p256", P11TLS_SIG_ECDSA_SECP256R1_SHA256, GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, 1, CKM_ECDSA},
    {"ed25519", P11TLS_SIG_ED25519, GNUTLS_SIGN_EDDSA_ED25519, 0, CKM_EDDSA},
};

const bench_key *bench_key_find(const char *label)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i)
        if (strcmp(keys[i].label, label) == 0)
            return &keys[i];
    return NULL;
}

/* Fixed inputs: the content does not matter to the cost, only the sizes. */
static const unsigned char digest_info[19 + 32] = {
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    0x05, 0x00, 0x04, 0x20, /* SHA-256 DigestInfo prefix, then the digest: */
    0x5f, 0x1a, 0x2b, 0x77, 0x90, 0x0c, 0xd3, 0x41, 0x86, 0xee, 0x12, 0x39, 0xa4, 0x6b, 0x03, 0xc8,
    0x21, 0x7e, 0x95, 0x5d, 0x4f, 0xb0, 0x68, 0x13, 0xf2, 0x0a, 0xc7, 0x3e, 0x59, 0x84, 0x26, 0xd1};
static unsigned char message[130] = "bench message: the size of a TLS 1.3 CertificateVerify input";

const unsigned char *bench_input(const bench_key *k, size_t *len)
{
    if (k->prehashed) {
        *len = 32;
        return digest_info + 19;
    }
    *len = sizeof message;
    return message;
}

const unsigned char *bench_raw_input(const bench_key *k, size_t *len)
{
    if (k->raw_mech == CKM_RSA_PKCS) {
        *len = sizeof digest_info;
        return digest_info;
    }
    return bench_input(k, len);
}

void bench_key_uri(const char *label, char *out, size_t out_size)
{
    /* The token label percent-encoded where it has spaces ("NSS Certificate DB"). */
    char token[3 * 32 + 1];
    size_t j = 0;
    for (const char *c = bench_token(); *c && j + 4 <= sizeof token; ++c)
        j += (size_t)snprintf(token + j, sizeof token - j, *c == ' ' ? "%%20" : "%c", *c);
    snprintf(out, out_size, "pkcs11:token=%s;object=%s;type=private?pin-value=%s", token, label,
             bench_pin());
}

/* ---- raw PKCS#11 ---------------------------------------------------------- */

static int label_is(const CK_UTF8CHAR *field, size_t size, const char *label)
{
    size_t n = strlen(label);
    if (n > size || memcmp(field, label, n) != 0)
        return 0;
    for (size_t i = n; i < size; ++i)
        if (field[i] != ' ')
            return 0;
    return 1;
}

void raw_open(raw_module *m, const char *token_label)
{
    void *h = dlopen(bench_module(), RTLD_NOW | RTLD_LOCAL);
    if (!h)
        die("dlopen %s: %s", bench_module(), dlerror());
    CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
    if (!gfl || gfl(&m->f) != CKR_OK)
        die("C_GetFunctionList failed");
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    /* A module that needs its p11-kit x-init-reserved (NSS softokn). */
    args.pReserved = (void *)bench_init_reserved();
    CK_RV rv = m->f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
        die("C_Initialize: 0x%lx", rv);
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    if (m->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        die("C_GetSlotList failed");
    for (CK_ULONG i = 0; i < n; ++i) {
        CK_TOKEN_INFO ti;
        if (m->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            label_is(ti.label, sizeof ti.label, token_label)) {
            m->slot = slots[i];
            return;
        }
    }
    die("no token labelled %s", token_label);
}

CK_SESSION_HANDLE raw_session(const raw_module *m)
{
    CK_SESSION_HANDLE s;
    CK_RV rv = m->f->C_OpenSession(m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK)
        die("C_OpenSession: 0x%lx", rv);
    const char *pin = bench_pin();
    rv = m->f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        die("C_Login: 0x%lx", rv);
    return s;
}

CK_OBJECT_HANDLE raw_find(const raw_module *m, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                          const char *label)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                        {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    if (m->f->C_FindObjectsInit(s, t, 2) != CKR_OK)
        die("C_FindObjectsInit failed");
    m->f->C_FindObjects(s, &o, 1, &n);
    m->f->C_FindObjectsFinal(s);
    if (n != 1)
        die("object %s not found", label);
    return o;
}

CK_RV raw_sign(const raw_module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
               CK_MECHANISM_TYPE mech, const unsigned char *in, size_t in_len)
{
    CK_MECHANISM mc = {mech, NULL, 0};
    unsigned char sig[1024];
    CK_ULONG sig_len = sizeof sig;
    CK_RV rv = m->f->C_SignInit(s, &mc, key);
    if (rv == CKR_OK)
        rv = m->f->C_Sign(s, (CK_BYTE *)in, in_len, sig, &sig_len);
    return rv;
}

/* ---- backends ------------------------------------------------------------- */

p11tls_ctx *bench_p11tls_ctx(void)
{
    p11tls_ctx *ctx = NULL;
    if (p11tls_ctx_new(&ctx) < 0 || p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES) < 0 ||
        p11tls_ctx_add_module_with_args(ctx, bench_module(), bench_init_reserved()) < 0)
        die("p11tls context: %s", p11tls_last_error_detail());
    return ctx;
}

void bench_gnutls_pkcs11_init(void)
{
    int rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL);
    if (rc >= 0)
        rc = gnutls_pkcs11_add_provider(bench_module(), NULL);
    if (rc < 0)
        die("GnuTLS PKCS#11: %s", gnutls_strerror(rc));
}

void bench_one_arena(void) { mallopt(M_ARENA_MAX, 1); }

size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks;
}

size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}
