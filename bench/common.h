/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/common.h: what every benchmark program shares.
 *
 * Benchmarks are plain C against the public C API, the way an application
 * would call p11tls. Each program prints CSV rows on stdout:
 *
 *     bench,case,impl,param,value,unit
 *
 * and nothing else there (diagnostics go to stderr); bench/run.sh adds the
 * round number and collects them. The environment set by run.sh:
 *
 *     BENCH_MODULE   path of libsofthsm2.so
 *     BENCH_TOKEN    token label (default p11tls-test)
 *     BENCH_PIN      user PIN (default 1234)
 *     BENCH_INIT_RESERVED  pReserved for C_Initialize, if set (NSS softokn's
 *                    configdir string; bench/modules.sh)
 *     SOFTHSM2_CONF  the throw-away token's configuration
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/abstract.h>
#include <p11-kit/pkcs11.h>
#include <p11tls/p11tls.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC is the same clock in a
 * forked child, so a child may subtract its parent's timestamps). */
uint64_t now_ns(void);
/* The process's CPU time in nanoseconds: on a shared machine wall time
 * would count the other processes' share too (the trust benchmarks). */
uint64_t bench_cpu_ns(void);
/* p11-kit's trust module (BENCH_TRUST_MODULE, else where Debian and others
 * install it); dies if none. */
const char *bench_trust_module(void);

/* Prints a message and exits with status 1. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Environment with defaults (see above). */
const char *bench_module(void);
const char *bench_token(void);
const char *bench_pin(void);

/* One CSV result row on stdout (flushed, so a forked child never repeats it). */
void emit(const char *bench, const char *cas, const char *impl, const char *param,
          double value, const char *unit);

/* Median of n values (sorts v in place). */
double median(double *v, size_t n);
/* The q-quantile (0..1) of n values, nearest rank (sorts v in place). */
double quantile(double *v, size_t n, double q);

/* Simple "--name value" argument parsing: the value of --name, or def. */
const char *arg_str(int argc, char **argv, const char *name, const char *def);
long arg_long(int argc, char **argv, const char *name, long def);
double arg_double(int argc, char **argv, const char *name, double def);

/* BENCH_INIT_RESERVED, or NULL if unset or empty. */
const char *bench_init_reserved(void);

/* ---- The three token keys every benchmark may use ----------------------- */

/* What each way of signing needs to know about one key of the test token
 * (tests/fixtures/make-token.sh): the same operation for every backend, a
 * SHA-256 digest (RSA PKCS#1 v1.5, ECDSA) or a TLS 1.3-sized message
 * (Ed25519), as a TLS stack signs. */
typedef struct bench_key {
    const char *label;               /* "rsa2048", "p256", "ed25519" */
    uint16_t scheme;                 /* P11TLS_SIG_* */
    gnutls_sign_algorithm_t galgo;   /* the GnuTLS signature algorithm */
    int prehashed;                   /* 1: sign a digest; 0: sign the message */
    CK_MECHANISM_TYPE raw_mech;      /* what raw PKCS#11 calls */
} bench_key;

/* The key by label, or NULL. */
const bench_key *bench_key_find(const char *label);

/* The input of one signature: a 32-byte SHA-256 digest, or a 130-byte
 * message (the size of TLS 1.3's CertificateVerify content) for EdDSA. */
const unsigned char *bench_input(const bench_key *k, size_t *len);

/* For raw RSA: the DER DigestInfo around the digest (51 bytes). */
const unsigned char *bench_raw_input(const bench_key *k, size_t *len);

/* pkcs11: URI of a private key on the bench token, with the PIN. */
void bench_key_uri(const char *label, char *out, size_t out_size);

/* ---- Raw PKCS#11: the module called directly ---------------------------- */

typedef struct raw_module {
    CK_FUNCTION_LIST *f;
    CK_SLOT_ID slot;
} raw_module;

/* dlopen()s BENCH_MODULE, C_Initialize (CKF_OS_LOCKING_OK; "already
 * initialized" is fine: p11-kit may have done it in this process) and finds
 * the slot of the token labelled token_label. Dies on failure. */
void raw_open(raw_module *m, const char *token_label);

/* Opens a read/write session and logs in as user (an existing login of the
 * token is fine). */
CK_SESSION_HANDLE raw_session(const raw_module *m);

/* The one object of class cls labelled label; dies if none. */
CK_OBJECT_HANDLE raw_find(const raw_module *m, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                          const char *label);

/* One C_SignInit + C_Sign; returns the CK_RV. */
CK_RV raw_sign(const raw_module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
               CK_MECHANISM_TYPE mech, const unsigned char *in, size_t in_len);

/* ---- Backends set up the usual way ----------------------------------------- */

/* A p11tls context that sees only BENCH_MODULE (as GnuTLS below sees only
 * it), so that no other registered module costs time. */
p11tls_ctx *bench_p11tls_ctx(void);

/* GnuTLS's built-in PKCS#11 with BENCH_MODULE as its only provider. */
void bench_gnutls_pkcs11_init(void);

/* Heap bytes in use (mallinfo2, main arena; call bench_one_arena() first
 * so that threads allocate there too) and resident set size in bytes. */
void bench_one_arena(void);
size_t heap_in_use(void);
size_t rss_bytes(void);

#endif
