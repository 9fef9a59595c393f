// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Debug logging to stderr, enabled by P11TLS_DEBUG (read with
// secure_getenv so a setuid program cannot be made to log). Callers must
// never pass a PIN.
#pragma once

namespace p11tls {
bool debug_enabled() noexcept;
void debug(const char *fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
}  // namespace p11tls
