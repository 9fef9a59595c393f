// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A module as one generation sees it: initialized once, its tokens.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "pkcs11/module.hpp"
#include "world/token_state.hpp"

namespace p11tls {

class PinMemory;

// One epoch of a module in a generation's world: from one initialization
// by p11tls to the moment another caller in the process finalized it
// (World::state() then starts the next epoch). Tokens, sessions, logins and
// object handles belong to one epoch and are never used in another: a
// module hands out the same handle numbers again after it is initialized
// again (doc/fork-model.md, "Modules finalized by another caller").
class ModuleState {
public:
    // epoch 0 is the generation's first; pins outlives every epoch.
    ModuleState(Module *m, unsigned epoch, PinMemory *pins) : mod_(m), epoch_(epoch), pins_(pins) {}
    Module *module() const { return mod_; }
    unsigned epoch() const { return epoch_; }
    // What this module's tokens refused, kept across epochs (login.cpp).
    PinMemory &pins() const { return *pins_; }

    // C_Initialize once per epoch (CKF_OS_LOCKING_OK): through p11-kit in
    // epoch 0, on the module itself in a later one (initialize_again).
    // Returns 0 or a P11TLS_E_* code; the reason is in error().
    // P11TLS_E_FORKED, without any call, for a module whose state an
    // ancestor process holds (pkcs11/fork_sharing.hpp).
    int ensure_initialized();

    // This epoch is over: another caller finalized the module after this
    // epoch's C_Initialize (a call answered CKR_CRYPTOKI_NOT_INITIALIZED), or
    // a later epoch began. Lock-free.
    bool stale() const;
    // Ends the epoch (World::state(), before the next one initializes the
    // module): no new EpochUse starts, and the ones in progress on other
    // threads are waited for, at most kDrainMs; false if some are still
    // running then. The calling thread's own (a pooled session it still
    // holds while its operation finds the key again) are not waited for:
    // their holders check ended() before they touch a handle again, and
    // abandon their sessions rather than close them.
    static constexpr int kDrainMs = 2000;
    bool end_epoch();

    // A link module (Module::link) whose server cannot be reached: the
    // module is initialized, but answers with stand-ins (p11-kit's client:
    // no slots), or its C_Initialize failed. The epoch then has no tokens,
    // and slot_error() says why and when the next attempt is; the next
    // ensure_initialized() after that finalizes and initializes the module
    // again (initialize_again), which reconnects. The waits double from
    // kRelinkFirstMs to kRelinkMaxMs: an attempt costs one connect() to a
    // socket that is not there, and a key server that is back is used
    // within kRelinkMaxMs of its return.
    static constexpr int kRelinkFirstMs = 25;
    static constexpr int kRelinkMaxMs = 400;
    bool unlinked();
    bool ended() const { return ended_.load(); }
    const std::string &error() const { return error_; }
    const CK_INFO &info() const { return info_; }

    // The present tokens: the slot list is read from the module on every
    // call; the token in a slot is re-read (C_GetTokenInfo) unless it is
    // fixed(). A token seen before keeps its state.
    std::vector<TokenState *> tokens();
    // The present tokens that look like info (same label, serial, model and
    // manufacturer: TokenState::same_token), the one in slot prefer first
    // if has_prefer. When there is none, the module is asked to rescan its
    // slots (rescan_slots, rate-limited) and looked at once more: OpenSC
    // sees its readers again after pcscd restarted only then.
    std::vector<TokenState *> tokens_like(const CK_TOKEN_INFO &info, bool has_prefer, CK_SLOT_ID prefer);
    // The last C_GetSlotList failure ("module X: C_GetSlotList: CKR_..."),
    // or empty.
    std::string slot_error();

    // Asks the module to look for new slots: C_GetSlotList with no buffer,
    // the one call at which PKCS#11 lets a module change its slot list
    // (tokens() passes a buffer, so a reader plugged in after the first
    // listing stays unseen without this). At most once per
    // kRescanInterval unless forced (a slot event said something changed):
    // for OpenSC this is a reader detection round trip to pcscd, and a
    // caller retrying a URI that matches nothing must not turn every
    // lookup into one; a person inserting a token waits a second at most.
    // Returns true if it asked.
    static constexpr std::chrono::milliseconds kRescanInterval{1000};
    bool rescan_slots(bool force = false);
    // C_WaitForSlotEvent(CKF_DONT_BLOCK): 1 if the module reports a slot
    // event, 0 if none, -1 if it does not support slot events (remembered:
    // not asked again in this generation). Never blocks: a blocking call
    // ends only with an event or C_Finalize, so no wait could be bounded.
    int poll_slot_event();

private:
    friend class EpochUse;
    Module *mod_;
    const unsigned epoch_;
    PinMemory *const pins_;
    std::atomic<uint64_t> init_no_{0};  // note_initialized()'s number; 0 until initialized
    std::atomic<bool> ended_{false};    // end_epoch() was called
    std::atomic<int> uses_{0};          // EpochUses in progress
    int unlink_locked(const std::string &why);  // mu_ held

    std::mutex mu_;                                 // guards everything below
    bool init_done_ = false;
    bool unlinked_ = false;  // see unlinked(); next attempt at relink_at_
    std::chrono::steady_clock::time_point relink_at_;
    int init_status_ = 0;
    std::string error_;
    CK_INFO info_{};
    std::vector<std::unique_ptr<TokenState>> tokens_;
    std::string slot_error_;  // the last C_GetSlotList failure
    bool rescanned_ = false;  // a rescan happened, at last_rescan_
    std::chrono::steady_clock::time_point last_rescan_;
    bool no_slot_events_ = false;  // C_WaitForSlotEvent not supported
};

// Held while a session or object handle of an epoch is in use (a pooled
// session, a login, a read-write session): the next epoch's C_Initialize
// waits for it, so no handle of an ended epoch reaches the module after the
// module was initialized again, when its number may name another session or
// object. Throws P11TLS_E_MODULE (and marks the thread for the C boundary's
// one retry) if the epoch has ended. Not taken in a forked child for its
// parent's world (the destructor does nothing in another generation).
class EpochUse {
public:
    explicit EpochUse(ModuleState *ms);
    ~EpochUse();
    EpochUse(const EpochUse &) = delete;
    EpochUse &operator=(const EpochUse &) = delete;

private:
    ModuleState *ms_;
    const uint64_t gen_;
};

}  // namespace p11tls
