// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// p11tls_check_version: the run-time half of P11TLS_VERSION.
#include <cctype>
#include <cstdlib>

#include <p11tls/p11tls.h>

namespace {
// "1.2.3" -> 0x010203; missing parts are 0. -1 for anything else (a part
// above 255, a sign, trailing text).
long version_number(const char *v) {
    long out = 0;
    int parts = 0;
    for (;;) {
        if (!std::isdigit(static_cast<unsigned char>(*v))) return -1;
        char *end = nullptr;
        unsigned long part = std::strtoul(v, &end, 10);
        if (part > 255 || ++parts > 3) return -1;
        out = out << 8 | static_cast<long>(part);
        v = end;
        if (*v == '\0') break;
        if (*v++ != '.') return -1;
    }
    return out << 8 * (3 - parts);
}
}  // namespace

extern "C" const char *p11tls_check_version(const char *req_version) {
    if (!req_version) return P11TLS_VERSION;
    long want = version_number(req_version);
    return want >= 0 && want <= P11TLS_VERSION_NUMBER ? P11TLS_VERSION : nullptr;
}
