// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A token in one generation: identity, the session pool, the mechanism
// list. Login is in login.cpp.
#include "world/token_state.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/error.hpp"
#include "base/log.hpp"
#include "uri/uri.hpp"
#include "world/module_state.hpp"
#include "world/object_index.hpp"
#include "world/pooled_session.hpp"

namespace p11tls {

TokenState::TokenState(ModuleState *ms, CK_SLOT_ID slot, const CK_SLOT_INFO &slot_info,
                       const CK_TOKEN_INFO &info)
    : ms_(ms), slot_(slot), slot_info_(slot_info), info_(info), uri_(format_token_uri(info)),
      label_(P11TLS_FIELD(info.label)), index_off_(secure_getenv("P11TLS_NO_OBJECT_INDEX") != nullptr) {}

const Module *TokenState::module() const { return ms_->module(); }

bool TokenState::lost() const { return lost_.load(std::memory_order_acquire) || ms_->stale(); }

void TokenState::mark_lost() {
    lost_.store(true, std::memory_order_release);
    std::shared_ptr<ObjectIndex> index;  // released outside the lock
    {
        std::lock_guard<std::mutex> g(index_mu_);
        index.swap(index_);
    }
    std::lock_guard<std::mutex> g(pool_mu_);
    std::vector<CK_SESSION_HANDLE>().swap(idle_);
}

// A module call's answer that says the token is not there (any more).
static bool token_absent(CK_RV rv) {
    return rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED || rv == CKR_SLOT_ID_INVALID;
}

bool TokenState::fixed() const {
    return !(slot_info_.flags & CKF_REMOVABLE_DEVICE) && (info_.flags & CKF_TOKEN_INITIALIZED);
}

bool TokenState::same_token(const CK_TOKEN_INFO &o) const {
    return memcmp(info_.label, o.label, sizeof o.label) == 0 &&
           memcmp(info_.serialNumber, o.serialNumber, sizeof o.serialNumber) == 0 &&
           memcmp(info_.model, o.model, sizeof o.model) == 0 &&
           memcmp(info_.manufacturerID, o.manufacturerID, sizeof o.manufacturerID) == 0;
}

CK_SESSION_HANDLE TokenState::acquire_session() {
    {
        std::lock_guard<std::mutex> g(pool_mu_);
        if (!idle_.empty()) {
            CK_SESSION_HANDLE h = idle_.back();
            idle_.pop_back();
            return h;
        }
    }
    return open_session();
}

CK_SESSION_HANDLE TokenState::open_session() {
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = P11CALL(module(), C_OpenSession, slot_, (CK_FLAGS)CKF_SERIAL_SESSION,
                       (void *)nullptr, (CK_NOTIFY) nullptr, &h);
    if (rv != CKR_OK) {
        if (token_absent(rv)) mark_lost();
        fail_ckr(module(), "C_OpenSession", rv);
    }
    return h;
}

bool TokenState::still_present() {
    if (lost()) return false;
    if (fixed()) return true;  // gone only when the module says so
    // With a rescan first: OpenSC lists a card whose pcscd is gone until it
    // looks at its readers again, which it does only then. Once per token
    // state at most (a lost one is not asked again).
    ms_->rescan_slots(true);
    ms_->tokens();  // marks this token lost if its slot is not listed
    return !lost();
}

bool TokenState::sessions_gone() {
    std::vector<CK_SESSION_HANDLE> idle;
    {
        std::lock_guard<std::mutex> g(pool_mu_);
        idle.swap(idle_);
    }
    for (CK_SESSION_HANDLE h : idle) P11CALL(module(), C_CloseSession, h);
    bool gone;
    {
        std::lock_guard<std::mutex> g(login_mu_);
        CK_SESSION_INFO si;
        // Without a login session there is nothing to ask: the next session
        // opened tells (CKR_TOKEN_NOT_PRESENT marks the token lost).
        gone = keeper_ != CK_INVALID_HANDLE && P11CALL(module(), C_GetSessionInfo, keeper_, &si) != CKR_OK;
    }
    if (gone) {
        debug("token %s: its login session is gone too: the token was removed or reset", label_.c_str());
        mark_lost();
    }
    return gone;
}

bool TokenState::release_session(CK_SESSION_HANDLE h, bool broken) {
    if (broken) {
        CK_RV rv = P11CALL(module(), C_CloseSession, h);
        return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED;
    }
    std::lock_guard<std::mutex> g(pool_mu_);
    idle_.push_back(h);
    return false;
}

void TokenState::close_idle_sessions() {
    std::vector<CK_SESSION_HANDLE> idle;
    {
        std::lock_guard<std::mutex> g(pool_mu_);
        idle.swap(idle_);
    }
    for (CK_SESSION_HANDLE h : idle) P11CALL(module(), C_CloseSession, h);
}

bool TokenState::has_mechanism(CK_MECHANISM_TYPE m) {
    if (!mechs_loaded_.load(std::memory_order_acquire)) load_mechanisms();
    for (CK_MECHANISM_TYPE x : mechs_)
        if (x == m) return true;
    return false;
}

std::vector<CK_MECHANISM_TYPE> TokenState::mechanisms() {
    if (!mechs_loaded_.load(std::memory_order_acquire)) load_mechanisms();
    return mechs_;
}

void TokenState::load_mechanisms() {
    std::lock_guard<std::mutex> g(mechs_mu_);
    if (!mechs_loaded_.load(std::memory_order_relaxed)) {
        CK_ULONG n = 0;
        if (P11CALL(module(), C_GetMechanismList, slot_, (CK_MECHANISM_TYPE *)nullptr, &n) ==
            CKR_OK) {
            // One spare element: p11-kit-client.so before 0.25 (Debian 12
            // has 0.24.1) reads one past the array when it drops mechanisms
            // its RPC cannot carry (p11-kit pull request 456; found by ASan
            // in tests/forward). The module is still told n.
            mechs_.resize(n + 1);
            if (P11CALL(module(), C_GetMechanismList, slot_, mechs_.data(), &n) == CKR_OK)
                mechs_.resize(n);
            else
                mechs_.clear();
        }
        mechs_loaded_.store(true, std::memory_order_release);
    }
}

std::shared_ptr<ObjectIndex> TokenState::object_index(bool build) {
    if (index_off_) return nullptr;
    const uint64_t epoch = login_epoch_.load(std::memory_order_acquire);
    using Clock = std::chrono::steady_clock;
    auto current = [&]() -> std::shared_ptr<ObjectIndex> {
        std::lock_guard<std::mutex> g(index_mu_);
        // Another login state's, or too old to be trusted (token_state.hpp).
        if (index_ && (index_epoch_ != epoch || Clock::now() >= index_expires_)) index_.reset();
        return index_;
    };
    if (auto idx = current()) return idx;
    if (!build) return nullptr;
    std::lock_guard<std::mutex> b(index_build_mu_);
    if (auto idx = current()) return idx;  // read by the thread we waited for
    std::shared_ptr<ObjectIndex> idx;
    const Clock::time_point began = Clock::now();
    try {
        PooledSession s(this);
        idx = ObjectIndex::read_token(module(), s.get());
    } catch (const Error &e) {  // lookups search for real, as without an index
        debug("token %s: no object index: %s", label_.c_str(), e.what());
        return nullptr;
    }
    const auto took = Clock::now() - began;
    const auto trust = std::max<Clock::duration>(kIndexTrust, took * kIndexTrustFactor);
    std::lock_guard<std::mutex> g(index_mu_);
    index_ = idx;
    index_epoch_ = epoch;  // if the login state changed meanwhile, the next call drops it
    index_expires_ = began + trust;
    debug("token %s: object index read in %lld us, trusted for %lld ms", label_.c_str(),
          (long long)std::chrono::duration_cast<std::chrono::microseconds>(took).count(),
          (long long)std::chrono::duration_cast<std::chrono::milliseconds>(trust).count());
    return idx;
}

}  // namespace p11tls
