// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// GnuTLS PIN callbacks as p11tls PIN functions: GnuTLS's process-wide one
// (gnutls_pkcs11_set_pin_function), what a program that moves from GnuTLS's
// own PKCS#11 code to p11tls already set up for its PINs, and any other.
#pragma once
#include <stddef.h>

#include <gnutls/gnutls.h>

#include "world/context.hpp"

namespace p11tls {

// Asks cb (GnuTLS's calling convention) for the PIN p11tls wants: attempt
// 0 unless flags say the token refused the previous PIN. 0 or -1 (cancel).
int ask_gnutls_pin(gnutls_pin_callback_t cb, void *userdata, const char *token_uri,
                   const char *token_label, unsigned flags, char *pin, size_t pin_size);

// Asks GnuTLS's PIN function; -1 (cancel) when none is set.
int pin_from_gnutls(void *, const char *token_uri, const char *token_label, unsigned flags,
                    char *pin, size_t pin_size);

// {pin_from_gnutls} while GnuTLS has a PIN function set, else no function
// (so a missing PIN stays P11TLS_E_PIN_REQUIRED, not "cancelled").
PinFn gnutls_process_pin_fn();

}  // namespace p11tls
