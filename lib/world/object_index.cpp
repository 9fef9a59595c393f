// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "world/object_index.hpp"

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "base/log.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/search.hpp"

namespace p11tls {

namespace {

// Handles per C_FindObjects call while reading the whole token: on a
// network HSM each call is a round trip.
constexpr size_t kEnumerationChunk = 1024;

uint32_t hash_bytes(const unsigned char *p, size_t n) {  // FNV-1a
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
    return h;
}

uint32_t hash_of(const std::vector<unsigned char> &v) { return hash_bytes(v.data(), v.size()); }

void insert_sorted(std::vector<std::pair<uint32_t, uint32_t>> &v, std::pair<uint32_t, uint32_t> x) {
    v.insert(std::upper_bound(v.begin(), v.end(), x), x);
}

}  // namespace

std::shared_ptr<ObjectIndex> ObjectIndex::read_token(const Module *m, CK_SESSION_HANDLE s) {
    auto handles = find_objects(m, s, {}, SIZE_MAX, kEnumerationChunk);
    auto idx = std::make_shared<ObjectIndex>();
    std::lock_guard<std::mutex> g(idx->mu_);
    idx->entries_.reserve(handles.size());
    for (CK_OBJECT_HANDLE h : handles) {
        Object o{h, 0, {}, {}};
        try {
            Attributes a(m, s, h, {CKA_CLASS, CKA_LABEL, CKA_ID});
            if (!a.scalar(CKA_CLASS, &o.cls)) continue;
            o.label = a.get(CKA_LABEL);
            o.id = a.get(CKA_ID);
        } catch (const Error &) {  // gone since the search: not indexed, a miss searches
            continue;
        }
        idx->entries_.push_back({h, o.cls, (uint32_t)idx->bytes_.size(), (uint32_t)o.label.size(),
                                 (uint32_t)(idx->bytes_.size() + o.label.size()), (uint32_t)o.id.size()});
        idx->bytes_.insert(idx->bytes_.end(), o.label.begin(), o.label.end());
        idx->bytes_.insert(idx->bytes_.end(), o.id.begin(), o.id.end());
    }
    idx->by_label_.reserve(idx->entries_.size());
    idx->by_id_.reserve(idx->entries_.size());
    for (uint32_t i = 0; i < idx->entries_.size(); ++i) {
        const Entry &e = idx->entries_[i];
        idx->by_label_.push_back({hash_bytes(idx->bytes_.data() + e.label_off, e.label_len), i});
        idx->by_id_.push_back({hash_bytes(idx->bytes_.data() + e.id_off, e.id_len), i});
    }
    std::sort(idx->by_label_.begin(), idx->by_label_.end());
    std::sort(idx->by_id_.begin(), idx->by_id_.end());
    idx->bytes_.shrink_to_fit();
    debug("object index: %zu objects, %zu bytes", idx->entries_.size(), idx->bytes_locked());
    return idx;
}

void ObjectIndex::add_locked(const Object &o) {
    const uint32_t i = (uint32_t)entries_.size();
    entries_.push_back({o.handle, o.cls, (uint32_t)bytes_.size(), (uint32_t)o.label.size(),
                        (uint32_t)(bytes_.size() + o.label.size()), (uint32_t)o.id.size()});
    bytes_.insert(bytes_.end(), o.label.begin(), o.label.end());
    bytes_.insert(bytes_.end(), o.id.begin(), o.id.end());
    insert_sorted(by_label_, {hash_of(o.label), i});
    insert_sorted(by_id_, {hash_of(o.id), i});
}

bool ObjectIndex::matches_locked(const Entry &e, const Name &n) const {
    auto same = [&](uint32_t off, uint32_t len, const std::vector<unsigned char> *want) {
        return !want || (want->size() == len && memcmp(bytes_.data() + off, want->data(), len) == 0);
    };
    return e.handle != CK_INVALID_HANDLE && (n.any_class || e.cls == n.cls) &&
           same(e.label_off, e.label_len, n.label) && same(e.id_off, e.id_len, n.id);
}

// Entries that may match n, by the narrower of the two hashes (any order).
std::vector<uint32_t> ObjectIndex::candidates_locked(const Name &n) const {
    std::vector<uint32_t> out;
    const std::vector<Slot> *by = n.label ? &by_label_ : n.id ? &by_id_ : nullptr;
    if (!by) {  // no name: every object (URIs that name only a token)
        for (uint32_t i = 0; i < entries_.size(); ++i)
            if (matches_locked(entries_[i], n)) out.push_back(i);
        return out;
    }
    const uint32_t h = hash_of(n.label ? *n.label : *n.id);
    for (auto it = std::lower_bound(by->begin(), by->end(), Slot{h, 0}); it != by->end() && it->first == h; ++it)
        if (matches_locked(entries_[it->second], n)) out.push_back(it->second);
    return out;
}

std::vector<ObjectIndex::Object> ObjectIndex::find(const Name &n) const {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<uint32_t> hits = candidates_locked(n);
    std::sort(hits.begin(), hits.end());  // the order they were learnt in
    std::vector<Object> out;
    for (uint32_t i : hits) {
        const Entry &e = entries_[i];
        const unsigned char *b = bytes_.data();
        out.push_back({e.handle, e.cls, {b + e.label_off, b + e.label_off + e.label_len},
                       {b + e.id_off, b + e.id_off + e.id_len}});
    }
    return out;
}

void ObjectIndex::replace(const Name &n, const std::vector<Object> &found) {
    std::lock_guard<std::mutex> g(mu_);
    for (uint32_t i : candidates_locked(n)) entries_[i].handle = CK_INVALID_HANDLE;
    for (const Object &o : found) {
        for (Entry &e : entries_)  // a handle is one object: drop what it was known as
            if (e.handle == o.handle) e.handle = CK_INVALID_HANDLE;
        add_locked(o);
    }
}

void ObjectIndex::forget(CK_OBJECT_HANDLE h) {
    std::lock_guard<std::mutex> g(mu_);
    for (Entry &e : entries_)
        if (e.handle == h) e.handle = CK_INVALID_HANDLE;
    spki_.erase(h);
}

std::vector<unsigned char> ObjectIndex::public_key(CK_OBJECT_HANDLE h) const {
    std::lock_guard<std::mutex> g(mu_);
    auto it = spki_.find(h);
    return it == spki_.end() ? std::vector<unsigned char>() : it->second;
}

void ObjectIndex::record_public_key(CK_OBJECT_HANDLE h, const std::vector<unsigned char> &spki) {
    std::lock_guard<std::mutex> g(mu_);
    spki_[h] = spki;
}

ObjectIndex::Name name_of(const std::vector<CK_ATTRIBUTE> &tmpl, std::vector<unsigned char> &label,
                          std::vector<unsigned char> &id) {
    ObjectIndex::Name n;
    for (const CK_ATTRIBUTE &a : tmpl) {
        const unsigned char *v = (const unsigned char *)a.pValue;
        if (a.type == CKA_LABEL) n.label = &(label = std::vector<unsigned char>(v, v + a.ulValueLen));
        if (a.type == CKA_ID) n.id = &(id = std::vector<unsigned char>(v, v + a.ulValueLen));
    }
    return n;
}

bool still_names(const ObjectIndex::Object &o, const Attributes &a) {
    CK_OBJECT_CLASS cls;
    return a.scalar(CKA_CLASS, &cls) && cls == o.cls && a.get(CKA_LABEL) == o.label &&
           a.get(CKA_ID) == o.id;
}

size_t ObjectIndex::bytes() const {
    std::lock_guard<std::mutex> g(mu_);
    return bytes_locked();
}

size_t ObjectIndex::bytes_locked() const {
    size_t n = sizeof *this + entries_.capacity() * sizeof(Entry) + bytes_.capacity() +
               (by_label_.capacity() + by_id_.capacity()) * sizeof(Slot);
    for (const auto &kv : spki_) n += kv.second.capacity() + 64;  // node and bucket, roughly
    return n;
}

}  // namespace p11tls
