// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// GnuTLS (3.6 to 3.8) has no function that returns a privkey's or a crt's
// PIN callback: gnutls_privkey_set_pin_function() stores it in the privkey's
// struct, where GnuTLS's own PKCS#11 import reads it (lib/privkey.c,
// _gnutls_privkey_import_pkcs11_url), and a custom URL's import_key gets
// that privkey but no accessor. So it is read from the struct, whose layout
// (lib/abstract_int.h, struct gnutls_privkey_st) is the same from 3.6.16 to
// 3.8.9, after checking on the running library that the field is where
// that layout says: a GnuTLS that keeps it elsewhere gets no PIN from here,
// never a wrong one. The same for a crt's (struct gnutls_x509_crt_int),
// which the custom URL's import_crt gets.
#include "gnutls/privkey_pin.hpp"

#include <cstddef>
#include <cstring>
#include <initializer_list>
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

// struct gnutls_x509_crt_int (lib/x509/x509_int.h): GnuTLS 3.7.9 keeps the
// PIN after four members, later versions after five (a flags member was
// added): the same offset on LP64, not on 32-bit targets. Both are tried;
// older layouts (the PIN after the cached DNs) fail the probe, and a crt's
// callback is then not used.
struct CrtLayout37 {
    void *cert;
    int use_extensions;
    unsigned expanded, modified;
    GnutlsPin pin;
};
struct CrtLayout38 {
    void *cert;
    int use_extensions;
    unsigned expanded, modified, flags;
    GnutlsPin pin;
};

int probe_cb(void *, int, const char *, const char *, unsigned, char *, size_t) { return -1; }

GnutlsPin read_pin_at(const void *obj, size_t offset) {
    GnutlsPin p;
    memcpy(&p, static_cast<const char *>(obj) + offset, sizeof p);
    return p;
}

// Whether offset holds the callback set_pin puts on obj: none before, a
// known one after.
template <class Obj, class Set>
bool pin_is_at(Obj obj, size_t offset, Set set_pin) {
    static int tag;
    GnutlsPin before = read_pin_at(obj, offset);
    set_pin(obj, probe_cb, &tag);
    GnutlsPin after = read_pin_at(obj, offset);
    set_pin(obj, nullptr, nullptr);
    return before.cb == nullptr && before.data == nullptr && after.cb == probe_cb && after.data == &tag;
}

bool g_privkey_ok;
pthread_once_t g_privkey_once = PTHREAD_ONCE_INIT;

void probe_privkey() {
    gnutls_privkey_t k;
    if (gnutls_privkey_init(&k) < 0) return;
    g_privkey_ok = pin_is_at(k, offsetof(PrivkeyLayout, pin), gnutls_privkey_set_pin_function);
    gnutls_privkey_deinit(k);
}

size_t g_crt_offset;  // 0: not found
pthread_once_t g_crt_once = PTHREAD_ONCE_INIT;

void probe_crt() {
    for (size_t offset : {offsetof(CrtLayout37, pin), offsetof(CrtLayout38, pin)}) {
        gnutls_x509_crt_t c;
        if (gnutls_x509_crt_init(&c) < 0) return;
        const bool ok = pin_is_at(c, offset, gnutls_x509_crt_set_pin_function);
        gnutls_x509_crt_deinit(c);
        if (ok) {
            g_crt_offset = offset;
            return;
        }
    }
}

}  // namespace

GnutlsPin privkey_pin(gnutls_privkey_t pkey, bool *readable) {
    pthread_once(&g_privkey_once, probe_privkey);
    *readable = g_privkey_ok;
    if (!g_privkey_ok || !pkey) return {};
    return read_pin_at(pkey, offsetof(PrivkeyLayout, pin));
}

GnutlsPin crt_pin(gnutls_x509_crt_t crt, bool *readable) {
    pthread_once(&g_crt_once, probe_crt);
    *readable = g_crt_offset != 0;
    if (!g_crt_offset || !crt) return {};
    return read_pin_at(crt, g_crt_offset);
}

}  // namespace p11tls
