// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/search.hpp"

#include <algorithm>

namespace p11tls {

std::vector<CK_OBJECT_HANDLE> find_objects(const Module *m, CK_SESSION_HANDLE s,
                                           const std::vector<CK_ATTRIBUTE> &tmpl, size_t max) {
    CK_RV rv = P11CALL(m, C_FindObjectsInit, s, (CK_ATTRIBUTE *)tmpl.data(), (CK_ULONG)tmpl.size());
    if (rv != CKR_OK) fail_ckr(m, "C_FindObjectsInit", rv);
    // In chunks, until the module has no more or max are found: a module
    // may return fewer than asked while more remain, and a large max must
    // not cost its size in memory on every search.
    constexpr size_t kChunk = 64;
    std::vector<CK_OBJECT_HANDLE> out;
    CK_OBJECT_HANDLE chunk[kChunk];
    while (out.size() < max) {
        CK_ULONG n = 0;
        const CK_ULONG want = (CK_ULONG)std::min(kChunk, max - out.size());
        rv = P11CALL(m, C_FindObjects, s, chunk, want, &n);
        if (rv != CKR_OK || n == 0) break;
        if (n > want) {  // a broken module: what it wrote past chunk is gone
            rv = CKR_GENERAL_ERROR;
            break;
        }
        out.insert(out.end(), chunk, chunk + n);
    }
    CK_RV final_rv = P11CALL(m, C_FindObjectsFinal, s);
    if (rv != CKR_OK) fail_ckr(m, "C_FindObjects", rv);
    // The search may still be active on s: failing makes the caller's
    // PooledSession close s rather than pool it.
    if (final_rv != CKR_OK) fail_ckr(m, "C_FindObjectsFinal", final_rv);
    return out;
}

}  // namespace p11tls
