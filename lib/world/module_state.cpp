// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A module in one generation: C_Initialize, slot and token discovery.
#include "world/module_state.hpp"

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "base/log.hpp"
#include "pkcs11/padding.hpp"

namespace p11tls {

namespace {
constexpr size_t kSlotRoom = 16;
}  // namespace

int ModuleState::ensure_initialized() {
    std::lock_guard<std::mutex> g(mu_);
    if (init_done_) return init_status_;
    init_done_ = true;
    // Not called at all: an ancestor initialized it, and its state came
    // along into this process (pkcs11/fork_sharing.hpp).
    error_ = inherited_state(mod_);
    if (!error_.empty()) {
        debug("%s", error_.c_str());
        return init_status_ = P11TLS_E_FORKED;
    }
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    // p11-kit uses our args instead of the module's configured ones.
    if (mod_->has_init_reserved) args.pReserved = (void *)mod_->init_reserved.c_str();
    CK_RV rv = P11CALL(mod_, C_Initialize, (void *)&args);
    if (rv == CKR_CANT_LOCK || rv == CKR_NEED_TO_CREATE_THREADS) {
        // A module that cannot use the OS's locks (or must not make
        // threads) is initialized without them, as GnuTLS 3.8.12 does (its
        // issue 1784): no flags and no mutex functions, which promises it
        // never two calls at once. Every call to it is then made under its
        // own lock (Module::serial). Not a NULL argument: p11-kit would
        // pass its own, which ask for OS locking again.
        debug("module %s: C_Initialize: %s; initializing it without OS locking, one call at a time",
              mod_->name.c_str(), ckr_name(rv));
        args.flags = 0;
        rv = P11CALL(mod_, C_Initialize, (void *)&args);
        if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
            mod_->no_os_locking.store(true, std::memory_order_release);
    }
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        init_status_ = P11TLS_E_MODULE;
        error_ = "module " + mod_->name + ": C_Initialize: " + ckr_name(rv);
        // Not a warning: a module that fails here (tpm2-pkcs11 installed on
        // a machine without a TPM) would be reported by every command.
        // Listings report it, and so does a URI that then matches no token.
        debug("%s (module skipped)", error_.c_str());
        return init_status_;
    }
    rv = P11CALL(mod_, C_GetInfo, &info_);
    if (rv == CKR_CRYPTOKI_NOT_INITIALIZED) {
        // p11-kit's managed module counts forks with its own atfork handler:
        // in a child made without handlers (_Fork, clone), or before its
        // handler ran, it answers CKR_CRYPTOKI_ALREADY_INITIALIZED for a
        // module that has reset itself. Our managed instance is finalized
        // and initialized once more (p11-kit finalizes the module itself
        // only if no other caller has it initialized).
        debug("module %s: not initialized in this process; initializing again", mod_->name.c_str());
        P11CALL(mod_, C_Finalize, (void *)nullptr);
        rv = P11CALL(mod_, C_Initialize, (void *)&args);
        if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) rv = P11CALL(mod_, C_GetInfo, &info_);
    }
    if (rv != CKR_OK) memset(&info_, 0, sizeof info_);
    unpad_nuls(info_);
    module_initialized(mod_, info_);
    return 0;
}

std::vector<TokenState *> ModuleState::tokens() {
    std::vector<TokenState *> out;
    if (ensure_initialized() != 0) return out;
    // Room for the usual number of slots first: one call instead of two.
    std::vector<CK_SLOT_ID> slots(kSlotRoom);
    CK_ULONG n = slots.size();
    CK_RV rv = P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_TRUE, slots.data(), &n);
    if (rv == CKR_BUFFER_TOO_SMALL) {
        n = 0;
        rv = P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_TRUE, (CK_SLOT_ID *)nullptr, &n);
        slots.resize(n);
        if (rv == CKR_OK && n > 0)
            rv = P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_TRUE, slots.data(), &n);
    }
    std::lock_guard<std::mutex> g(mu_);
    if (rv != CKR_OK) {
        slot_error_ = "module " + mod_->name + ": C_GetSlotList: " + ckr_name(rv) + fork_sharing_note(mod_, rv);
        return out;
    }
    slot_error_.clear();
    slots.resize(std::min<size_t>(n, slots.size()));
    for (CK_SLOT_ID id : slots) {
        // C_GetTokenInfo is a round trip to the device (~40 us even for
        // SoftHSM, which re-reads its token file), made on every open: a
        // token that cannot change under us is taken as known.
        TokenState *known = nullptr;
        for (auto &t : tokens_)
            if (t->slot() == id && !t->lost()) known = t.get();
        if (known && known->fixed()) {
            out.push_back(known);
            continue;
        }
        CK_TOKEN_INFO ti;
        if (P11CALL(mod_, C_GetTokenInfo, id, &ti) != CKR_OK) {
            // A failure here can be passing (SoftHSM returns CKR_GENERAL_ERROR
            // while forked children re-read its files): it must not hide a
            // token this generation already knows in that slot. A removed
            // token is dropped by C_GetSlotList, or by mark_lost().
            if (known) out.push_back(known);
            continue;
        }
        unpad_nuls(ti);
        TokenState *found = nullptr;
        for (auto &t : tokens_)
            if (t->slot() == id && !t->lost() && t->same_token(ti)) found = t.get();
        if (!found) {
            CK_SLOT_INFO si;
            if (P11CALL(mod_, C_GetSlotInfo, id, &si) != CKR_OK) continue;
            unpad_nuls(si);
            tokens_.push_back(std::make_unique<TokenState>(this, id, si, ti));
            found = tokens_.back().get();
        }
        out.push_back(found);
    }
    return out;
}

bool ModuleState::rescan_slots(bool force) {
    if (ensure_initialized() != 0) return false;
    {
        std::lock_guard<std::mutex> g(mu_);
        auto now = std::chrono::steady_clock::now();
        if (!force && rescanned_ && now - last_rescan_ < kRescanInterval) return false;
        rescanned_ = true;
        last_rescan_ = now;
    }
    CK_ULONG n = 0;
    P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_FALSE, (CK_SLOT_ID *)nullptr, &n);  // logged if it fails
    return true;
}

int ModuleState::poll_slot_event() {
    if (ensure_initialized() != 0) return -1;
    {
        std::lock_guard<std::mutex> g(mu_);
        if (no_slot_events_) return -1;
    }
    CK_SLOT_ID slot = 0;
    CK_RV rv = P11CALL(mod_, C_WaitForSlotEvent, (CK_FLAGS)CKF_DONT_BLOCK, &slot, (void *)nullptr);
    if (rv == CKR_OK) return 1;
    if (rv == CKR_NO_EVENT) return 0;
    // CKR_FUNCTION_NOT_SUPPORTED, or a failure: polling the slot list
    // serves as well.
    debug("module %s: C_WaitForSlotEvent: %s; polling its slots instead", mod_->name.c_str(),
          ckr_name(rv));
    std::lock_guard<std::mutex> g(mu_);
    no_slot_events_ = true;
    return -1;
}

std::string ModuleState::slot_error() {
    std::lock_guard<std::mutex> g(mu_);
    return slot_error_;
}

}  // namespace p11tls
