// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Outputs at the C boundary: into a caller buffer with an in/out length,
// or into memory the caller frees with p11tls_free(). Both throw Error
// (P11TLS_E_INVALID_ARGUMENT, P11TLS_E_BUFFER_TOO_SMALL) for the guard.
#pragma once
#include <cstddef>
#include <cstdint>

namespace p11tls {

// Copies out into a caller buffer with an in/out length (NULL asks for size).
int copy_out(const void *src, size_t len, uint8_t *dst, size_t *dst_len);
// Copies out into memory the caller frees with p11tls_free().
int alloc_out(const void *src, size_t len, uint8_t **out, size_t *out_len);

}  // namespace p11tls
