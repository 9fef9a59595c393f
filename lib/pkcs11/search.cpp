// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/search.hpp"

#include <algorithm>

namespace p11tls {

std::vector<CK_OBJECT_HANDLE> find_objects(const Module *m, CK_SESSION_HANDLE s,
                                           const std::vector<CK_ATTRIBUTE> &tmpl, size_t max,
                                           size_t chunk) {
    CK_RV rv = P11CALL(m, C_FindObjectsInit, s, (CK_ATTRIBUTE *)tmpl.data(), (CK_ULONG)tmpl.size());
    if (rv != CKR_OK) fail_ckr(m, "C_FindObjectsInit", rv);
    // In chunks, until the module has no more or max are found: a module
    // may return fewer than asked while more remain, and a large max must
    // not cost its size in memory on every search.
    std::vector<CK_OBJECT_HANDLE> out;
    while (out.size() < max) {
        CK_ULONG n = 0;
        const size_t at = out.size();
        const CK_ULONG want = (CK_ULONG)std::min(std::max<size_t>(chunk, 1), max - at);
        out.resize(at + want);
        rv = P11CALL(m, C_FindObjects, s, out.data() + at, want, &n);
        if (rv != CKR_OK || n == 0 || n > want) {  // n > want: a broken module
            if (rv == CKR_OK && n > want) rv = CKR_GENERAL_ERROR;
            out.resize(at);
            break;
        }
        out.resize(at + n);
    }
    CK_RV final_rv = P11CALL(m, C_FindObjectsFinal, s);
    if (rv != CKR_OK) fail_ckr(m, "C_FindObjects", rv);
    // The search may still be active on s: failing makes the caller's
    // PooledSession close s rather than pool it.
    if (final_rv != CKR_OK) fail_ckr(m, "C_FindObjectsFinal", final_rv);
    return out;
}

}  // namespace p11tls
