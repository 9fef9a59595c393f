// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Outputs at the C boundary, and p11tls_free() for those it allocates.
#include "capi/out.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#include <p11tls/p11tls.h>

#include "base/error.hpp"

namespace p11tls {

int copy_out(const void *src, size_t len, uint8_t *dst, size_t *dst_len) {
    if (!dst_len) fail(P11TLS_E_INVALID_ARGUMENT, "length pointer is NULL");
    if (dst && *dst_len < len) {
        *dst_len = len;
        fail(P11TLS_E_BUFFER_TOO_SMALL, "output buffer too small");
    }
    *dst_len = len;
    if (dst && len) memcpy(dst, src, len);
    return 0;
}

int alloc_out(const void *src, size_t len, uint8_t **out, size_t *out_len) {
    if (!out || !out_len) fail(P11TLS_E_INVALID_ARGUMENT, "output pointer is NULL");
    auto *p = static_cast<uint8_t *>(malloc(len ? len : 1));
    if (!p) throw std::bad_alloc();
    if (len) memcpy(p, src, len);
    *out = p;
    *out_len = len;
    return 0;
}

}  // namespace p11tls

extern "C" void p11tls_free(void *p) { free(p); }
