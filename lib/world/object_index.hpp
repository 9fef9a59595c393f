// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// What p11tls learnt about a token's objects: handles by class, label and
// CKA_ID, and the public key of each key it opened. A search on SoftHSM
// costs ~15-30 us per object on the token; this answers from memory.
// Nothing here is trusted: the caller checks every hit on the token
// (key/find.cpp, cert/cert.cpp) and searches for real on a miss. Owned by
// a TokenState, for one generation and one login state (token_state.hpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "pkcs11/module.hpp"

namespace p11tls {

class Attributes;

class ObjectIndex {
public:
    struct Object {
        CK_OBJECT_HANDLE handle;
        CK_OBJECT_CLASS cls;
        std::vector<unsigned char> label, id;
    };
    // The objects a name selects: label and/or CKA_ID (nullptr: any), and
    // optionally one class.
    struct Name {
        const std::vector<unsigned char> *label = nullptr;
        const std::vector<unsigned char> *id = nullptr;
        bool any_class = true;
        CK_OBJECT_CLASS cls = 0;
    };

    // Every object session s sees: one search for all of them (handles in
    // large chunks), then class, label and ID of each in one call.
    static std::shared_ptr<ObjectIndex> read_token(const Module *m, CK_SESSION_HANDLE s);

    // The objects with that name, in the order they were learnt.
    std::vector<Object> find(const Name &n) const;
    // A real search for n found `found` (objects named n, every one of
    // them): they replace what the index held under n.
    void replace(const Name &n, const std::vector<Object> &found);
    // A hit that failed its check: the handle names no such object now.
    void forget(CK_OBJECT_HANDLE h);

    // The public key (SPKI) the key at h had when it was opened; empty if
    // none was recorded.
    std::vector<unsigned char> public_key(CK_OBJECT_HANDLE h) const;
    void record_public_key(CK_OBJECT_HANDLE h, const std::vector<unsigned char> &spki);

    size_t bytes() const;  // heap held, approximately (doc/performance.md)

private:
    struct Entry {
        CK_OBJECT_HANDLE handle;   // CK_INVALID_HANDLE once forgotten
        CK_OBJECT_CLASS cls;
        uint32_t label_off, label_len, id_off, id_len;  // into bytes_
    };
    using Slot = std::pair<uint32_t, uint32_t>;  // (hash, index into entries_), sorted

    void add_locked(const Object &o);
    bool matches_locked(const Entry &e, const Name &n) const;
    std::vector<uint32_t> candidates_locked(const Name &n) const;
    size_t bytes_locked() const;

    mutable std::mutex mu_;                // guards every member below
    std::vector<Entry> entries_;
    std::vector<unsigned char> bytes_;     // labels and IDs, back to back
    std::vector<Slot> by_label_, by_id_;   // hashes of label and of ID
    std::unordered_map<CK_OBJECT_HANDLE, std::vector<unsigned char>> spki_;  // opened keys only
};

// The name a search template gives (its CKA_LABEL and CKA_ID, copied into
// label and id), in the index's terms.
ObjectIndex::Name name_of(const std::vector<CK_ATTRIBUTE> &tmpl, std::vector<unsigned char> &label,
                          std::vector<unsigned char> &id);

// The check of a hit: the object read now (a, with CKA_CLASS, CKA_LABEL and
// CKA_ID) is still what the index knew at that handle.
bool still_names(const ObjectIndex::Object &o, const Attributes &a);

}  // namespace p11tls
