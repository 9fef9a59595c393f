// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Test-only knob of the trust lists' automatic refresh (doc/gnutls.md):
// tests shorten the delay instead of sleeping for it. Not exported.
#pragma once
#include <cstdint>

namespace p11tls {

// The delay after which an issuer lookup re-reads the tokens; < 0 restores
// the default (P11TLS_TRUST_REFRESH_SECONDS).
void set_trust_refresh_delay_ms_for_tests(int64_t ms);

}  // namespace p11tls
