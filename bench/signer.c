/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* bench/signer.c: see signer.h. */
#include "signer.h"

#include <stdlib.h>
#include <string.h>

#include <p11tls/gnutls.h>

enum impl { RAW, GNUTLS_BUILTIN, P11TLS, P11TLS_GNUTLS };

struct signer {
    enum impl impl;
    const bench_key *k;
    raw_module raw;
    CK_OBJECT_HANDLE raw_key;
    gnutls_privkey_t pkey;
    p11tls_key *key;
};

signer *signer_new(const char *impl, const bench_key *k)
{
    signer *s = calloc(1, sizeof *s);
    char uri[512];
    bench_key_uri(k->label, uri, sizeof uri);
    s->k = k;
    if (strcmp(impl, "raw") == 0) {
        s->impl = RAW;
        raw_open(&s->raw, bench_token());
        CK_SESSION_HANDLE h = raw_session(&s->raw);
        s->raw_key = raw_find(&s->raw, h, CKO_PRIVATE_KEY, k->label);
        /* h stays open: it keeps the token logged in. */
    } else if (strcmp(impl, "gnutls") == 0) {
        s->impl = GNUTLS_BUILTIN;
        bench_gnutls_pkcs11_init();
        gnutls_privkey_init(&s->pkey);
        int rc = gnutls_privkey_import_url(s->pkey, uri, 0);
        if (rc < 0)
            die("gnutls_privkey_import_url: %s", gnutls_strerror(rc));
    } else if (strcmp(impl, "p11tls") == 0) {
        s->impl = P11TLS;
        if (p11tls_key_open(bench_p11tls_ctx(), uri, 0, &s->key) < 0)
            die("p11tls_key_open: %s", p11tls_last_error_detail());
    } else if (strcmp(impl, "p11tls-gnutls") == 0) {
        s->impl = P11TLS_GNUTLS;
        gnutls_privkey_init(&s->pkey);
        int rc = p11tls_gnutls_privkey_import(s->pkey, bench_p11tls_ctx(), uri, 0);
        if (rc < 0)
            die("p11tls_gnutls_privkey_import: %s (%s)", gnutls_strerror(rc),
                p11tls_last_error_detail());
    } else {
        die("unknown backend %s", impl);
    }
    return s;
}

void *signer_thread(signer *s)
{
    if (s->impl != RAW)
        return NULL;
    CK_SESSION_HANDLE *h = malloc(sizeof *h);
    *h = raw_session(&s->raw);
    return h;
}

void signer_sign(signer *s, void *thread_state)
{
    size_t len;
    const unsigned char *in = bench_input(s->k, &len);
    switch (s->impl) {
    case RAW: {
        in = bench_raw_input(s->k, &len);
        CK_RV rv = raw_sign(&s->raw, *(CK_SESSION_HANDLE *)thread_state, s->raw_key,
                            s->k->raw_mech, in, len);
        if (rv != CKR_OK)
            die("raw C_Sign: 0x%lx", rv);
        return;
    }
    case P11TLS: {
        uint8_t sig[1024];
        size_t sig_len = sizeof sig;
        int rc = s->k->prehashed
                     ? p11tls_key_sign_hash(s->key, s->k->scheme, in, len, sig, &sig_len)
                     : p11tls_key_sign(s->key, s->k->scheme, in, len, sig, &sig_len);
        if (rc < 0)
            die("p11tls sign: %s", p11tls_last_error_detail());
        return;
    }
    case GNUTLS_BUILTIN:
    case P11TLS_GNUTLS: {
        gnutls_datum_t d = {(unsigned char *)in, (unsigned)len}, sig = {NULL, 0};
        int rc = s->k->prehashed ? gnutls_privkey_sign_hash2(s->pkey, s->k->galgo, 0, &d, &sig)
                                 : gnutls_privkey_sign_data2(s->pkey, s->k->galgo, 0, &d, &sig);
        if (rc < 0)
            die("GnuTLS sign: %s", gnutls_strerror(rc));
        gnutls_free(sig.data);
        return;
    }
    }
}
