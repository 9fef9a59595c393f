// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "world/pin_memory.hpp"

#include <cstring>

#include <nettle/memops.h>

namespace p11tls {

namespace {
// The fields that name a token (as TokenState::same_token compares them).
bool same_token(const CK_TOKEN_INFO &a, const CK_TOKEN_INFO &b) {
    return memcmp(a.label, b.label, sizeof a.label) == 0 &&
           memcmp(a.serialNumber, b.serialNumber, sizeof a.serialNumber) == 0 &&
           memcmp(a.model, b.model, sizeof a.model) == 0 &&
           memcmp(a.manufacturerID, b.manufacturerID, sizeof a.manufacturerID) == 0;
}
}  // namespace

void PinMemory::refused(const CK_TOKEN_INFO &token, const Mac &pin) {
    std::lock_guard<std::mutex> g(mu_);
    for (const Entry &e : refused_)
        if (same_token(e.token, token) && nettle_memeql_sec(e.pin.data(), pin.data(), pin.size())) return;
    if (refused_.size() >= kMax) refused_.erase(refused_.begin());
    refused_.push_back({token, pin});
}

bool PinMemory::was_refused(const CK_TOKEN_INFO &token, const Mac &pin) {
    std::lock_guard<std::mutex> g(mu_);
    for (const Entry &e : refused_)
        if (same_token(e.token, token) && nettle_memeql_sec(e.pin.data(), pin.data(), pin.size())) return true;
    return false;
}

void PinMemory::forget(const CK_TOKEN_INFO &token) {
    std::lock_guard<std::mutex> g(mu_);
    for (size_t i = refused_.size(); i-- > 0;)
        if (same_token(refused_[i].token, token)) refused_.erase(refused_.begin() + i);
}

}  // namespace p11tls
