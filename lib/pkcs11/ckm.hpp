// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Names of PKCS#11 mechanisms.
#pragma once
#include <string>

#include <p11-kit/pkcs11.h>

namespace p11tls {
// "CKM_ECDSA_SHA256", or NULL for a mechanism not in the table.
const char *ckm_known_name(CK_MECHANISM_TYPE type) noexcept;
// The name, or "CKM_0x1234" / "CKM_VENDOR_DEFINED+0x12" for others.
std::string ckm_name(CK_MECHANISM_TYPE type);
}  // namespace p11tls
