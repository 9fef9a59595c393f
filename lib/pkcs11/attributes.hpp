// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Attribute reads (C_GetAttributeValue) of one object on a session.
#pragma once
#include <cstddef>
#include <cstring>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "pkcs11/module.hpp"

namespace p11tls {

// Several attributes of one object, read in one C_GetAttributeValue call
// with room for typical values (kAttributeRoom bytes each) rather than one
// or two calls per attribute. When the call fails for some attribute
// (absent, sensitive or too large: the module tells only one reason), the
// values it did not return cost one more call (their lengths) and, if some
// are merely too large, a second one (those values). Each call is a round trip to the token (with SoftHSM's file
// store, ~30 us: it re-checks the object's file), and p11tls_key_open used
// to make 11 (RSA) or 18 (EC) of them (bench/lookup.c, doc/performance.md).
//
// Relies on C_GetAttributeValue processing every attribute of the template
// even when it returns CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_SENSITIVE
// or CKR_BUFFER_TOO_SMALL for some (PKCS#11 2.20+, section 11.7). On any
// other error, or if the first attribute (by convention one every such
// object has, e.g. CKA_CLASS) comes back unavailable, the attributes are
// read one by one.
constexpr size_t kAttributeRoom = 640;
class Attributes {
public:
    Attributes(const Module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
               const std::vector<CK_ATTRIBUTE_TYPE> &types);
    // The value, empty if absent, unavailable or not requested.
    const std::vector<unsigned char> &get(CK_ATTRIBUTE_TYPE type) const;
    template <typename T>
    bool scalar(CK_ATTRIBUTE_TYPE type, T *out) const {
        const auto &v = get(type);
        if (v.size() != sizeof(T)) return false;
        memcpy(out, v.data(), sizeof(T));
        return true;
    }

private:
    // Reads again the values at these indexes that the batch did not return.
    void reread(const Module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                const std::vector<size_t> &which);

    std::vector<CK_ATTRIBUTE_TYPE> types_;
    std::vector<std::vector<unsigned char>> values_;
};

// Reads a variable-length attribute; empty if absent or sensitive. Other
// module errors throw (fail_ckr, "C_GetAttributeValue(CKA_...)").
std::vector<unsigned char> get_attribute(const Module *m, CK_SESSION_HANDLE s,
                                         CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type);
template <typename T>
bool get_scalar(const Module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                CK_ATTRIBUTE_TYPE type, T *out) {
    CK_ATTRIBUTE a = {type, out, sizeof(T)};
    return get_attribute_value(m, s, o, &a, 1UL) == CKR_OK &&
           a.ulValueLen == sizeof(T);
}

}  // namespace p11tls
