// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The one table from CK_RV to P11TLS_E_* codes and CKR_* names, and the
// one of CKA_* names.
#pragma once
#include <string>

#include <p11-kit/pkcs11.h>

namespace p11tls {
const char *ckr_name(CK_RV rv) noexcept;
int ckr_to_error(CK_RV rv) noexcept;
// "CKA_EC_POINT"; an attribute not in the table as "CKA_0x80000001".
std::string cka_name(CK_ATTRIBUTE_TYPE type);
// "CKA_CLASS, CKA_ID" for a template's attributes.
std::string cka_names(const CK_ATTRIBUTE *tmpl, CK_ULONG n);
}  // namespace p11tls
