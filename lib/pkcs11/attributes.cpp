// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/attributes.hpp"

#include "pkcs11/ckrv.hpp"

namespace p11tls {

std::vector<unsigned char> get_attribute(const Module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                         CK_ATTRIBUTE_TYPE type) {
    // Absent or sensitive is an answer; any other failure is the module's
    // error, not an empty value (an empty CKA_ID made a failed read look
    // like an unsupported key; found with a module failing at random).
    CK_ATTRIBUTE a = {type, nullptr, 0};
    auto absent = [&](CK_RV rv) {
        if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE) return true;
        if (rv != CKR_OK)
            fail_ckr(m, ("C_GetAttributeValue(" + cka_name(type) + ")").c_str(), rv);
        return a.ulValueLen == CK_UNAVAILABLE_INFORMATION;
    };
    if (absent(get_attribute_value(m, s, o, &a, 1UL))) return {};
    std::vector<unsigned char> v(a.ulValueLen);
    a.pValue = v.data();
    if (absent(get_attribute_value(m, s, o, &a, 1UL))) return {};
    v.resize(a.ulValueLen);
    return v;
}

namespace {
constexpr CK_KEY_TYPE kCkkEcMontgomery = 0x41;  // PKCS#11 3.0; not in p11-kit 0.24's header

// Whether a value the batch returned unavailable may have been one larger
// than its room, lost by a module (and so must be read again): not one
// whose values always fit (scalars, flags, EC points and parameters of
// every curve: at most ~450 bytes), nor one the object's class or key type
// does not have. Every re-read is a round trip, over a network for a
// remote token (doc/remote.md).
bool may_have_been_large(CK_ATTRIBUTE_TYPE t, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt) {
    switch (t) {
    case CKA_CLASS: case CKA_KEY_TYPE: case CKA_CERTIFICATE_TYPE: case CKA_CERTIFICATE_CATEGORY:
    case CKA_MODULUS_BITS: case CKA_TOKEN: case CKA_PRIVATE: case CKA_TRUSTED: case CKA_SENSITIVE:
    case CKA_ENCRYPT: case CKA_DECRYPT: case CKA_WRAP: case CKA_UNWRAP: case CKA_SIGN: case CKA_SIGN_RECOVER:
    case CKA_VERIFY: case CKA_VERIFY_RECOVER: case CKA_DERIVE: case CKA_EXTRACTABLE: case CKA_LOCAL:
    case CKA_NEVER_EXTRACTABLE: case CKA_ALWAYS_SENSITIVE: case CKA_MODIFIABLE: case CKA_ALWAYS_AUTHENTICATE:
    case CKA_EC_PARAMS: case CKA_EC_POINT:
        return false;
    case CKA_MODULUS: case CKA_PUBLIC_EXPONENT:
        if (cls == CKO_CERTIFICATE) return false;
        return !(kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == kCkkEcMontgomery);
    default:
        return true;
    }
}
}  // namespace

Attributes::Attributes(const Module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                       const std::vector<CK_ATTRIBUTE_TYPE> &types)
    : types_(types), values_(types.size()) {
    const CK_ULONG unavailable = CK_UNAVAILABLE_INFORMATION;
    auto tolerated = [](CK_RV rv) {
        return rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE;
    };
    // One call with room for every value a key or certificate object
    // usually has (an RSA-4096 modulus, a P-521 point, labels, IDs).
    std::vector<unsigned char> room(types.size() * kAttributeRoom);
    std::vector<CK_ATTRIBUTE> tmpl;
    for (size_t i = 0; i < types.size(); ++i)
        tmpl.push_back({types[i], room.data() + i * kAttributeRoom, (CK_ULONG)kAttributeRoom});
    CK_RV rv = tmpl.empty() ? CKR_OK
                            : get_attribute_value(m, s, o, tmpl.data(), (CK_ULONG)tmpl.size());
    // A value too large for its room comes back unavailable, like an absent
    // or sensitive one, and the return value tells only one of the reasons
    // when several apply (PKCS#11 2.40 section 5.7): after any failure each
    // unavailable value may be a large one (SoftHSM answers
    // CKR_ATTRIBUTE_TYPE_INVALID for a batch with an unknown attribute and
    // a value larger than its room: the value was lost).
    bool batched = !tmpl.empty() && (tolerated(rv) || rv == CKR_BUFFER_TOO_SMALL) &&
                   tmpl[0].ulValueLen != unavailable;
    std::vector<size_t> retry;
    for (size_t i = 0; batched && i < tmpl.size(); ++i) {
        if (tmpl[i].ulValueLen == unavailable) {
            if (rv != CKR_OK) retry.push_back(i);
            continue;
        }
        if (tmpl[i].ulValueLen > kAttributeRoom) {  // a module that lies: read alone
            retry.push_back(i);
            continue;
        }
        const unsigned char *v = room.data() + i * kAttributeRoom;
        values_[i].assign(v, v + tmpl[i].ulValueLen);
    }
    if (!batched) {
        for (size_t i = 0; i < types.size(); ++i) values_[i] = get_attribute(m, s, o, types[i]);
        return;
    }
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
    CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
    scalar(CKA_CLASS, &cls);
    scalar(CKA_KEY_TYPE, &kt);
    std::vector<size_t> large;
    for (size_t i : retry)
        if (tmpl[i].ulValueLen != unavailable || may_have_been_large(types[i], cls, kt)) large.push_back(i);
    if (!large.empty()) reread(m, s, o, large);
}

void Attributes::reread(const Module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                        const std::vector<size_t> &which) {
    const CK_ULONG unavailable = CK_UNAVAILABLE_INFORMATION;
    auto tolerated = [](CK_RV rv) {
        return rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE;
    };
    auto one_by_one = [&](const std::vector<size_t> &idx) {
        for (size_t i : idx) values_[i] = get_attribute(m, s, o, types_[i]);
    };
    // Their lengths in one call: an absent or sensitive value stays
    // unavailable (and costs nothing more), the others are read in one more.
    std::vector<CK_ATTRIBUTE> lengths;
    for (size_t i : which) lengths.push_back({types_[i], nullptr, 0});
    if (!tolerated(get_attribute_value(m, s, o, lengths.data(), (CK_ULONG)lengths.size())))
        return one_by_one(which);
    std::vector<size_t> sized;
    std::vector<CK_ATTRIBUTE> tmpl;
    for (size_t k = 0; k < which.size(); ++k) {
        if (lengths[k].ulValueLen == unavailable) continue;
        std::vector<unsigned char> &v = values_[which[k]];
        v.assign(lengths[k].ulValueLen, 0);
        sized.push_back(which[k]);
        tmpl.push_back({types_[which[k]], v.data(), (CK_ULONG)v.size()});
    }
    if (tmpl.empty()) return;
    // A value that grew in between (CKR_BUFFER_TOO_SMALL), or any other
    // failure: those values one by one, whose errors get_attribute reports.
    if (!tolerated(get_attribute_value(m, s, o, tmpl.data(), (CK_ULONG)tmpl.size())))
        return one_by_one(sized);
    for (size_t k = 0; k < sized.size(); ++k) {
        std::vector<unsigned char> &v = values_[sized[k]];
        if (tmpl[k].ulValueLen == unavailable || tmpl[k].ulValueLen > v.size())
            v.clear();
        else
            v.resize(tmpl[k].ulValueLen);
    }
}

const std::vector<unsigned char> &Attributes::get(CK_ATTRIBUTE_TYPE type) const {
    // Never destroyed: no static with a non-trivial destructor (a child's
    // exit, or a dlclosed caller, must not run it).
    static const std::vector<unsigned char> *const none = new std::vector<unsigned char>();
    for (size_t i = 0; i < types_.size(); ++i)
        if (types_[i] == type) return values_[i];
    return *none;
}

}  // namespace p11tls
