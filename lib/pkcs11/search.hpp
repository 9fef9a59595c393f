// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Object search on a session: C_FindObjectsInit/C_FindObjects/Final.
#pragma once
#include <cstddef>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "pkcs11/module.hpp"

namespace p11tls {

// Finds objects on m's session s matching tmpl: all of them, up to max (reading the
// results in chunks of `chunk` handles; ask for one more than a limit to know
// it was passed).
std::vector<CK_OBJECT_HANDLE> find_objects(const Module *m, CK_SESSION_HANDLE s,
                                           const std::vector<CK_ATTRIBUTE> &tmpl,
                                           size_t max = 64, size_t chunk = 64);

}  // namespace p11tls
