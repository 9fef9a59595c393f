// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "gnutls/pin.hpp"

#include <gnutls/pkcs11.h>
#include <p11tls/provision.h>

namespace p11tls {

int ask_gnutls_pin(gnutls_pin_callback_t cb, void *userdata, const char *token_uri,
                   const char *token_label, unsigned flags, char *pin, size_t pin_size) {
    if (!cb) return -1;
    unsigned gflags = (flags & P11TLS_PIN_SO) ? GNUTLS_PIN_SO : GNUTLS_PIN_USER;
    if (flags & P11TLS_PIN_FINAL_TRY) gflags |= GNUTLS_PIN_FINAL_TRY;
    if (flags & P11TLS_PIN_COUNT_LOW) gflags |= GNUTLS_PIN_COUNT_LOW;
    if (flags & P11TLS_PIN_WRONG) gflags |= GNUTLS_PIN_WRONG;
    if (flags & P11TLS_PIN_CONTEXT_SPECIFIC) gflags |= GNUTLS_PIN_CONTEXT_SPECIFIC;
    // GnuTLS counts attempts from 0, and PIN functions that answer only
    // attempt 0 are common (GnuTLS's own for the password given to
    // gnutls_certificate_set_x509_key_file2). p11tls never retries, so a
    // call is a first attempt unless the token refused the PIN before.
    const int attempt = (flags & P11TLS_PIN_WRONG) ? 1 : 0;
    return cb(userdata, attempt, token_uri, token_label, gflags, pin, pin_size) == 0 ? 0 : -1;
}

int pin_from_gnutls(void *, const char *token_uri, const char *token_label, unsigned flags,
                    char *pin, size_t pin_size) {
    void *userdata = nullptr;
    gnutls_pin_callback_t cb = gnutls_pkcs11_get_pin_function(&userdata);
    return ask_gnutls_pin(cb, userdata, token_uri, token_label, flags, pin, pin_size);
}

PinFn gnutls_process_pin_fn() {
    void *userdata = nullptr;
    if (!gnutls_pkcs11_get_pin_function(&userdata)) return {};
    return {pin_from_gnutls, nullptr};
}

namespace {
// The default context asks GnuTLS's process-wide PIN function: registered
// with the world when libp11tls is loaded, before any entry point can run
// (the world layer does not reach up into this glue).
struct RegisterDefaultPinSource {
    RegisterDefaultPinSource() { set_default_pin_source(gnutls_process_pin_fn); }
} g_register_default_pin_source;
}  // namespace

}  // namespace p11tls
