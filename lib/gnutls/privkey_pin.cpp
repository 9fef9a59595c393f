// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// GnuTLS (3.6 to 3.8) has no function that returns a privkey's PIN
// callback: gnutls_privkey_set_pin_function() stores it in the privkey's
// struct, where GnuTLS's own PKCS#11 import reads it (lib/privkey.c,
// _gnutls_privkey_import_pkcs11_url), and a custom URL's import_key gets
// that privkey but no accessor. So it is read from the struct, whose layout
// (lib/abstract_int.h, struct gnutls_privkey_st) is the same from 3.6.16 to
// 3.8.9, after checking on the running library that the field is where
// that layout says: a GnuTLS that keeps it elsewhere gets no PIN from here,
// never a wrong one.
#include "gnutls/privkey_pin.hpp"

#include <cstddef>
#include <cstring>
#include <pthread.h>

namespace p11tls {

namespace {

// struct gnutls_privkey_st as GnuTLS 3.6.16-3.8.9 declare it (ENABLE_PKCS11
// or not, the ext member is the largest of the union).
struct PrivkeyLayout {
    int type;
    int pk_algorithm;
    union {
        void *x509;
        void *pkcs11;
        struct {
            void (*funcs[8])(void);
            void *userdata;
            unsigned bits;
        } ext;
    } key;
    unsigned flags;
    GnutlsPin pin;
};

bool g_layout_ok;
pthread_once_t g_probe_once = PTHREAD_ONCE_INIT;

int probe_cb(void *, int, const char *, const char *, unsigned, char *, size_t) { return -1; }

GnutlsPin read_pin(gnutls_privkey_t pkey) {
    GnutlsPin p;
    memcpy(&p, reinterpret_cast<const char *>(pkey) + offsetof(PrivkeyLayout, pin), sizeof p);
    return p;
}

// Sets a known callback on a fresh privkey and looks for it.
void probe() {
    gnutls_privkey_t k;
    if (gnutls_privkey_init(&k) < 0) return;
    static int tag;
    GnutlsPin before = read_pin(k);
    gnutls_privkey_set_pin_function(k, probe_cb, &tag);
    GnutlsPin after = read_pin(k);
    g_layout_ok = before.cb == nullptr && before.data == nullptr && after.cb == probe_cb &&
                  after.data == &tag;
    gnutls_privkey_deinit(k);
}

}  // namespace

GnutlsPin privkey_pin(gnutls_privkey_t pkey, bool *readable) {
    pthread_once(&g_probe_once, probe);
    *readable = g_layout_ok;
    if (!g_layout_ok || !pkey) return {};
    return read_pin(pkey);
}

}  // namespace p11tls
