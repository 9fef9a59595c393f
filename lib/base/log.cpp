// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "base/log.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace p11tls {

namespace {
// 0 = unknown, 1 = off, 2 = on. A benign race: every thread computes the same value.
int g_debug_state = 0;
}

bool debug_enabled() noexcept {
    int s = __atomic_load_n(&g_debug_state, __ATOMIC_RELAXED);
    if (s == 0) {
        const char *v = secure_getenv("P11TLS_DEBUG");
        s = (v && *v && *v != '0') ? 2 : 1;
        __atomic_store_n(&g_debug_state, s, __ATOMIC_RELAXED);
    }
    return s == 2;
}

void debug(const char *fmt, ...) noexcept {
    if (!debug_enabled()) return;
    char line[1024];
    int n = std::snprintf(line, sizeof line, "p11tls[%ld]: ", (long)getpid());
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "%s\n", line);
}

}  // namespace p11tls
