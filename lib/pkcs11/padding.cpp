// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/padding.hpp"

#include <cstddef>

namespace p11tls {

namespace {
// A NUL inside the text (before a byte that is not padding) is left as it
// is: it is the module's text, not its padding.
template <size_t N>
void unpad(CK_UTF8CHAR (&field)[N]) noexcept {
    for (size_t i = N; i > 0 && (field[i - 1] == '\0' || field[i - 1] == ' '); --i) field[i - 1] = ' ';
}
}  // namespace

void unpad_nuls(CK_INFO &info) noexcept {
    unpad(info.manufacturerID);
    unpad(info.libraryDescription);
}

void unpad_nuls(CK_SLOT_INFO &info) noexcept {
    unpad(info.slotDescription);
    unpad(info.manufacturerID);
}

void unpad_nuls(CK_TOKEN_INFO &info) noexcept {
    unpad(info.label);
    unpad(info.manufacturerID);
    unpad(info.model);
    unpad(info.serialNumber);
}

}  // namespace p11tls
