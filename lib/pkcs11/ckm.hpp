// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Names of PKCS#11 mechanisms.
#pragma once
#include <cstddef>
#include <string>

#include <p11-kit/pkcs11.h>

namespace p11tls {
// "CKM_ECDSA_SHA256", or NULL for a mechanism not in PKCS#11 3.0's list.
const char *ckm_known_name(CK_MECHANISM_TYPE type) noexcept;
// How many mechanisms have a name (for tests).
size_t ckm_known_count() noexcept;
// The name, or "CKM_0x1234" / "CKM_VENDOR_DEFINED+0x12" for others.
std::string ckm_name(CK_MECHANISM_TYPE type);
}  // namespace p11tls
