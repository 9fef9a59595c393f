// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The one table from CK_RV to P11TLS_E_* codes and CKR_* names.
#pragma once
#include <p11-kit/pkcs11.h>

namespace p11tls {
const char *ckr_name(CK_RV rv) noexcept;
int ckr_to_error(CK_RV rv) noexcept;
}  // namespace p11tls
