/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* reconnect_sign.c - threads sign through p11-kit-client.so while the
 * `p11-kit server` behind it is killed and started again.
 *
 * Run by tests/forward/reconnect_test.sh, which owns the server. Usage:
 *   reconnect_sign CLIENT_MODULE KEY_URI CERT_PEM CONTROL_DIR THREADS MODE
 * MODE "same": the server comes back with the same token; signing must
 * resume. MODE "other": it comes back with another token of the same label
 * holding another key under the same URI; nothing may be signed by it.
 * MODE "replica": two servers export the key (CLIENT_MODULE "-": the
 * modules registered in p11-kit, two "remote:" ones); the script kills one,
 * starts it again, kills the other: no call may fail. MODE "ambiguous": two
 * servers export different keys under the URI: the open must fail with
 * P11TLS_E_AMBIGUOUS.
 *
 * The process loads only CLIENT_MODULE into its own context. THREADS threads
 * sign every 10 ms and verify each signature with CERT_PEM's public key (the
 * key that was opened). Protocol with the script, through files in
 * CONTROL_DIR: this program writes "ready" once every thread has signed; the
 * script then kills the server, starts it again a second later and, once its
 * socket is there, writes "back" holding the time (CLOCK_REALTIME, ns); this
 * program then watches for at most 20 s and writes its verdict.
 *
 * Exit status: 0 pass; 2-5 setup failed; 10 a signature did not verify under
 * the opened key (the worst bug: never allowed); 11 "same": signing did not
 * resume within 20 s of the server's return; 12 "same": no call failed while
 * the server was away (the test did not test anything); 13 "other": a
 * signature was made after the server came back with another key; 14
 * "other": no P11TLS_E_KEY_MISMATCH within 20 s; 15 the script never wrote
 * "back"; 16 "ambiguous": the open did not fail with P11TLS_E_AMBIGUOUS;
 * 17 "replica": a call failed while one replica was away, or none signed
 * after; 99 usage. */
#define _DEFAULT_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include <p11tls/p11tls.h>

#include "../support/verify_pem.h"

#define MAX_THREADS 16

static p11tls_key *key;
static const char *cert_pem; /* the opened key's certificate */
static atomic_int stop;
static atomic_long signed_ok, failed, wrong, mismatch;
static atomic_llong last_ok_ns;   /* CLOCK_REALTIME when the latest good signature ended */
static atomic_llong first_fail_ns; /* when the first call failed */
static atomic_int ready_threads;
static atomic_int failovers; /* the library's "going on with its replica" lines */

/* Counts failovers to a replica, as the library reports them. */
static void on_log(void *arg, int level, const char *message)
{
    (void)arg;
    (void)level;
    if (strstr(message, "going on with its replica")) atomic_fetch_add(&failovers, 1);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void *signer(void *arg)
{
    static const uint8_t msg[] = "signed across a dropped connection";
    int counted_ready = 0;
    (void)arg;
    while (!atomic_load(&stop)) {
        uint8_t sig[256];
        size_t sig_len = sizeof(sig);
        int rc = p11tls_key_sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg, sizeof(msg) - 1, sig, &sig_len);
        if (rc == 0) {
            if (!test_verify_pem(cert_pem, GNUTLS_SIGN_ECDSA_SHA256, msg, sizeof(msg) - 1, sig, sig_len)) {
                atomic_fetch_add(&wrong, 1);
                fprintf(stderr, "reconnect_sign: a signature does not verify under the opened key\n");
            } else {
                atomic_fetch_add(&signed_ok, 1);
                atomic_store(&last_ok_ns, now_ns());
                if (!counted_ready) {
                    counted_ready = 1;
                    atomic_fetch_add(&ready_threads, 1);
                }
            }
        } else {
            long long zero = 0;
            atomic_compare_exchange_strong(&first_fail_ns, &zero, now_ns());
            long nth_fail = atomic_fetch_add(&failed, 1);
            long nth_mismatch = rc == P11TLS_E_KEY_MISMATCH ? atomic_fetch_add(&mismatch, 1) : -1;
            if (nth_fail < 2 || nth_mismatch == 0)  /* a sample, not hundreds */
                fprintf(stderr, "reconnect_sign: p11tls_key_sign: %s (%s)\n", p11tls_strerror(rc),
                        p11tls_last_error_detail());
        }
        sleep_ms(10);
    }
    return NULL;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s.tmp", dir, name);
    if (!(f = fopen(path, "w"))) return 0;
    fputs(text, f);
    fclose(f);
    char final[4096];
    snprintf(final, sizeof(final), "%s/%s", dir, name);
    return rename(path, final) == 0;
}

/* The time in "back", or 0 while it is not there. */
static long long read_back(const char *dir)
{
    char path[4096];
    long long t = 0;
    FILE *f;
    snprintf(path, sizeof(path), "%s/back", dir);
    if (!(f = fopen(path, "r"))) return 0;
    if (fscanf(f, "%lld", &t) != 1) t = 0;
    fclose(f);
    return t;
}

int main(int argc, char **argv)
{
    p11tls_ctx *ctx = NULL;
    pthread_t th[MAX_THREADS];
    int rc, n, i, other, replica, status = 0;
    long long back = 0, deadline;

    if (argc != 7 || (n = atoi(argv[5])) < 1 || n > MAX_THREADS ||
        (strcmp(argv[6], "same") != 0 && strcmp(argv[6], "other") != 0 && strcmp(argv[6], "replica") != 0 &&
         strcmp(argv[6], "ambiguous") != 0)) {
        fprintf(stderr, "usage: %s CLIENT_MODULE|- KEY_URI CERT_PEM CONTROL_DIR THREADS same|other|replica|ambiguous\n",
                argv[0]);
        return 99;
    }
    other = strcmp(argv[6], "other") == 0;
    replica = strcmp(argv[6], "replica") == 0;
    cert_pem = argv[3];
    rc = p11tls_ctx_new(&ctx);
    if (rc == 0 && strcmp(argv[1], "-") != 0) {
        if ((rc = p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES)) == 0)
            rc = p11tls_ctx_add_module(ctx, argv[1]);
    }
    if (rc == 0) rc = p11tls_ctx_set_log_fn(ctx, on_log, NULL, P11TLS_LOG_INFO);
    if (rc != 0) {
        fprintf(stderr, "reconnect_sign: context: %s (%s)\n", p11tls_strerror(rc), p11tls_last_error_detail());
        return 2;
    }
    rc = p11tls_key_open(ctx, argv[2], 0, &key);
    if (strcmp(argv[6], "ambiguous") == 0) {
        printf("reconnect_sign: open: %s (%s)\n", rc ? p11tls_strerror(rc) : "opened", rc ? p11tls_last_error_detail() : "");
        if (rc == 0) p11tls_key_free(key);
        p11tls_ctx_free(ctx);
        return rc == P11TLS_E_AMBIGUOUS ? 0 : 16;
    }
    if (rc != 0) {
        fprintf(stderr, "reconnect_sign: p11tls_key_open: %s (%s)\n", p11tls_strerror(rc), p11tls_last_error_detail());
        return 3;
    }
    for (i = 0; i < n; ++i)
        if (pthread_create(&th[i], NULL, signer, NULL) != 0) return 4;
    for (i = 0; i < 2000 && atomic_load(&ready_threads) < n; ++i) sleep_ms(10);
    if (atomic_load(&ready_threads) < n || atomic_load(&failed) != 0) {
        fprintf(stderr, "reconnect_sign: the threads did not all sign before the drop\n");
        status = 5;
        goto out;
    }
    if (!write_file(argv[4], "ready", "ready\n")) {
        status = 5;
        goto out;
    }
    /* The script drops the server now; "back" within 60 s. */
    for (i = 0; i < 6000 && !(back = read_back(argv[4])); ++i) sleep_ms(10);
    if (!back) {
        fprintf(stderr, "reconnect_sign: the server never came back\n");
        status = 15;
        goto out;
    }
    deadline = back + 20 * 1000000000LL;
    if (replica) {
        sleep_ms(500);
        if (atomic_load(&failed) != 0 || atomic_load(&last_ok_ns) <= back || atomic_load(&failovers) == 0) {
            fprintf(stderr, "reconnect_sign: %ld call(s) failed while a replica was away%s%s\n", atomic_load(&failed),
                    atomic_load(&last_ok_ns) <= back ? ", and none signed after" : "",
                    atomic_load(&failovers) == 0 ? ", and the key never failed over (was a server killed?)" : "");
            status = 17;
        } else {
            printf("reconnect_sign: %d thread(s): each replica killed in turn while they signed: %d failover(s), "
                   "no call failed\n",
                   n, atomic_load(&failovers));
        }
    } else if (!other) {
        while (now_ns() < deadline && atomic_load(&last_ok_ns) <= back) sleep_ms(5);
        if (atomic_load(&last_ok_ns) <= back) {
            fprintf(stderr, "reconnect_sign: signing did not resume within 20 s of the server's return\n");
            status = 11;
        } else {
            printf("reconnect_sign: %d thread(s): signing resumed %.0f ms after the server's socket was back "
                   "(first failure %.0f ms before it)\n",
                   n, (atomic_load(&last_ok_ns) - back) / 1e6, (back - atomic_load(&first_fail_ns)) / 1e6);
            sleep_ms(300);  /* every thread signs again */
        }
        if (atomic_load(&first_fail_ns) == 0) {
            fprintf(stderr, "reconnect_sign: no call failed while the server was away\n");
            if (!status) status = 12;
        }
    } else {
        while (now_ns() < deadline && atomic_load(&mismatch) == 0 && atomic_load(&wrong) == 0) sleep_ms(5);
        sleep_ms(300);
        if (atomic_load(&last_ok_ns) > back) {
            fprintf(stderr, "reconnect_sign: a signature was made after the server came back with another key\n");
            status = 13;
        } else if (atomic_load(&mismatch) == 0) {
            fprintf(stderr, "reconnect_sign: no P11TLS_E_KEY_MISMATCH within 20 s\n");
            status = 14;
        } else {
            printf("reconnect_sign: %d thread(s): the key under the URI changed: %ld call(s) refused with "
                   "P11TLS_E_KEY_MISMATCH, none signed\n",
                   n, atomic_load(&mismatch));
        }
    }
out:
    atomic_store(&stop, 1);
    for (i = 0; i < n; ++i) pthread_join(th[i], NULL);
    if (atomic_load(&wrong) != 0) status = 10;
    printf("reconnect_sign: %ld good signature(s), %ld failed call(s), %ld wrong\n", atomic_load(&signed_ok),
           atomic_load(&failed), atomic_load(&wrong));
    p11tls_key_free(key);
    p11tls_ctx_free(ctx);
    return status;
}
