// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The fixed-size text fields of CK_INFO, CK_SLOT_INFO and CK_TOKEN_INFO
// as PKCS#11 defines them: padded with blanks. Some modules pad with NUL
// bytes instead (tpm2-pkcs11's token model is "SW   TPM" and eight NULs):
// read as they come, those fields would make every URI p11tls prints for
// the token carry %00, which no URI may (uri.hpp), and would never match a
// URI that names the field, which p11-kit compares blank-padded. So the
// padding is made blanks once, where the fields are read.
#pragma once
#include <p11-kit/pkcs11.h>

namespace p11tls {

// Turns the trailing NULs (and blanks) of each text field into blanks.
void unpad_nuls(CK_INFO &info) noexcept;
void unpad_nuls(CK_SLOT_INFO &info) noexcept;
void unpad_nuls(CK_TOKEN_INFO &info) noexcept;

}  // namespace p11tls
