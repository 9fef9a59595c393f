// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// GnuTLS's process-wide PKCS#11 PIN function (gnutls_pkcs11_set_pin_function)
// as a p11tls PIN function: what a program that moves from GnuTLS's own
// PKCS#11 code to p11tls already set up for its PINs.
#pragma once
#include <stddef.h>

#include "world/context.hpp"

namespace p11tls {

// Asks GnuTLS's PIN function; -1 (cancel) when none is set.
int pin_from_gnutls(void *, const char *token_uri, const char *token_label, unsigned flags,
                    char *pin, size_t pin_size);

// {pin_from_gnutls} while GnuTLS has a PIN function set, else no function
// (so a missing PIN stays P11TLS_E_PIN_REQUIRED, not "cancelled").
PinFn gnutls_process_pin_fn();

}  // namespace p11tls
