// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// GnuTLS glue: pkcs11: URLs given to GnuTLS's own URL functions
// (gnutls_privkey_import_url, gnutls_x509_crt_import_url and what calls
// them, gnutls_certificate_set_x509_key_file2 among them) go through p11tls.
//
// GnuTLS looks its registered URL types up before its built-in pkcs11:
// support, for keys and certificates. It does not for issuer lookups
// (gnutls_pkcs11_get_raw_issuer) nor public keys: those stay with GnuTLS's
// own PKCS#11 code, as documented in gnutls.h.
#include <p11tls/gnutls.h>

#include <mutex>
#include <new>
#include <pthread.h>
#include <vector>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <gnutls/urls.h>

#include "base/log.hpp"
#include "capi/guard.hpp"
#include "cert/cert.hpp"
#include "gnutls/errmap.hpp"
#include "gnutls/pin.hpp"
#include "gnutls/privkey_pin.hpp"
#include "gnutls/stapled.hpp"
#include "world/context.hpp"

namespace {

// The context of every registered-URL caller whose privkey carries no PIN
// callback: GnuTLS's URL callbacks carry no user data. Created once, never
// freed (callbacks may run at any time).
p11tls_ctx *g_url_ctx;
int g_register_rc;
pthread_once_t g_register_once = PTHREAD_ONCE_INIT;

// One context per PIN callback that programs set on the privkeys and crts
// they import into (gnutls_privkey_set_pin_function, the pass of
// gnutls_certificate_set_x509_key_file2, the pin_fn of
// gnutls_x509_crt_list_import_url): a key keeps its context, and so its
// callback, for the logins after fork. Programs have one or two such
// callbacks; never freed, as the keys may outlive any caller.
struct PinCtx {
    p11tls::GnutlsPin pin;
    p11tls_ctx *ctx;
    PinCtx *next;
};
std::mutex g_mu;            // guards the three below
PinCtx *g_pin_ctxs;
p11tls_log_fn g_log_fn;     // the URL contexts' log function
void *g_log_arg;
int g_log_level;

int pin_from_privkey(void *arg, const char *token_uri, const char *token_label, unsigned flags,
                     char *pin, size_t pin_size) {
    const PinCtx *p = static_cast<const PinCtx *>(arg);
    return p11tls::ask_gnutls_pin(p->pin.cb, p->pin.data, token_uri, token_label, flags, pin,
                                  pin_size);
}

// The context for a privkey with PIN callback pin; nullptr if out of memory.
p11tls_ctx *ctx_for(const p11tls::GnutlsPin &pin) {
    std::lock_guard<std::mutex> g(g_mu);
    for (PinCtx *p = g_pin_ctxs; p; p = p->next)
        if (p->pin.cb == pin.cb && p->pin.data == pin.data) return p->ctx;
    PinCtx *p = new (std::nothrow) PinCtx{pin, nullptr, g_pin_ctxs};
    if (!p) return nullptr;
    if (p11tls_ctx_new(&p->ctx) < 0 || p11tls_ctx_set_pin_fn(p->ctx, pin_from_privkey, p) < 0) {
        p11tls_ctx_free(p->ctx);
        delete p;
        return nullptr;
    }
    if (g_log_fn) p11tls_ctx_set_log_fn(p->ctx, g_log_fn, g_log_arg, g_log_level);
    g_pin_ctxs = p;
    return p->ctx;
}

// The context for an object whose PIN callback (read from GnuTLS's struct
// when readable) is pin; nullptr if out of memory.
p11tls_ctx *ctx_of(const p11tls::GnutlsPin &pin, bool readable, const char *what) {
    if (!readable)
        p11tls::debug("this GnuTLS keeps a %s's PIN callback where p11tls cannot read it; "
                      "only GnuTLS's process-wide PIN function is asked",
                      what);
    return pin.cb ? ctx_for(pin) : g_url_ctx;
}

int import_key(gnutls_privkey_t pkey, const char *url, unsigned) {
    bool readable = false;
    p11tls::GnutlsPin pin = p11tls::privkey_pin(pkey, &readable);
    p11tls_ctx *ctx = ctx_of(pin, readable, "privkey");
    if (!ctx) return GNUTLS_E_MEMORY_ERROR;
    return p11tls_gnutls_privkey_import(pkey, ctx, url, 0);
}

// GnuTLS's flags say whether to log in: GNUTLS_PKCS11_OBJ_FLAG_LOGIN finds
// a private certificate (CKA_PRIVATE), as GnuTLS's own import does. Its
// callers try without the flag first and again with it
// (gnutls_pcert_list_import_x509_file, gnutls_certificate_set_x509_key_file2):
// the try without is expected to find nothing then, so that is logged at
// info level, not as an error (the p11tls exec preload prints errors).
// Several certificates of one key (a renewal): the one valid now, newest,
// as p11tls_gnutls_certificate_set_key takes. With
// GNUTLS_PKCS11_OBJ_FLAG_OVERWRITE_TRUSTMOD_EXT, as GnuTLS: the extensions
// stapled to the certificate on its token applied.
int import_crt(gnutls_x509_crt_t crt, const char *url, unsigned flags) {
    bool readable = false;
    p11tls::GnutlsPin pin = p11tls::crt_pin(crt, &readable);
    p11tls_ctx *ctx = ctx_of(pin, readable, "crt");
    if (!ctx) return GNUTLS_E_MEMORY_ERROR;
    const bool login = flags & (GNUTLS_PKCS11_OBJ_FLAG_LOGIN | GNUTLS_PKCS11_OBJ_FLAG_LOGIN_SO);
    const bool stapled = flags & GNUTLS_PKCS11_OBJ_FLAG_OVERWRITE_TRUSTMOD_EXT;
    p11tls::Anchor found;
    int rc = p11tls::guard<true>("gnutls_x509_crt_import_url", p11tls::state_of(ctx)->log(), [&] {
        try {
            p11tls::TokenCert c = p11tls::find_cert(*p11tls::state_of(ctx), url,
                                                    P11TLS_CERT_NEWEST | (login ? P11TLS_CERT_LOGIN : 0u));
            if (stapled)
                found = p11tls::cert_with_stapled_extensions(std::move(c));
            else
                found.der = std::move(c.der);
        } catch (const p11tls::Error &e) {
            if (login || e.code() != P11TLS_E_NOT_FOUND) throw;
            p11tls::set_last_error(e.what());
            p11tls::log_info("gnutls_x509_crt_import_url without its login flag: %s", e.what());
            return e.code();
        }
        return 0;
    });
    if (rc < 0) return p11tls::gnutls_error_of(rc);
    if (stapled) return p11tls::import_crt_stapled(crt, found);
    gnutls_datum_t d = {found.der.data(), static_cast<unsigned>(found.der.size())};
    return gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
}

void register_once() {
    if (p11tls_ctx_new(&g_url_ctx) < 0 ||
        p11tls_ctx_set_pin_fn(g_url_ctx, p11tls::pin_from_gnutls, nullptr) < 0) {
        g_register_rc = GNUTLS_E_MEMORY_ERROR;
        return;
    }
    static const gnutls_custom_url_st kPkcs11 = {
        "pkcs11:", sizeof "pkcs11:" - 1, import_key, import_crt, nullptr, nullptr, nullptr, nullptr};
    g_register_rc = gnutls_register_custom_url(&kPkcs11);
}

}  // namespace

extern "C" int p11tls_gnutls_register_url(void) {
    pthread_once(&g_register_once, register_once);
    return g_register_rc;
}

extern "C" int p11tls_gnutls_url_set_log_fn(p11tls_log_fn fn, void *arg, int max_level) {
    if (fn && (max_level < P11TLS_LOG_ERROR || max_level > P11TLS_LOG_DEBUG))
        return GNUTLS_E_INVALID_REQUEST;
    if (int rc = p11tls_gnutls_register_url(); rc < 0) return rc;
    std::lock_guard<std::mutex> g(g_mu);
    g_log_fn = fn;
    g_log_arg = arg;
    g_log_level = max_level;
    p11tls_ctx_set_log_fn(g_url_ctx, fn, arg, max_level);
    for (PinCtx *p = g_pin_ctxs; p; p = p->next) p11tls_ctx_set_log_fn(p->ctx, fn, arg, max_level);
    return 0;
}
