// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A module as one generation sees it: initialized once, its tokens.
#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "pkcs11/module.hpp"
#include "world/token_state.hpp"

namespace p11tls {

class ModuleState {
public:
    explicit ModuleState(Module *m) : mod_(m) {}
    Module *module() const { return mod_; }

    // C_Initialize once per generation (CKF_OS_LOCKING_OK). Returns 0 or a
    // P11TLS_E_* code; the reason is in error(). P11TLS_E_FORKED, without
    // any call, for a module whose state an ancestor process holds
    // (pkcs11/fork_sharing.hpp).
    int ensure_initialized();
    const std::string &error() const { return error_; }
    const CK_INFO &info() const { return info_; }

    // The present tokens: the slot list is read from the module on every
    // call; the token in a slot is re-read (C_GetTokenInfo) unless it is
    // fixed(). A token seen before keeps its state.
    std::vector<TokenState *> tokens();
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
    Module *mod_;
    std::mutex mu_;                                 // guards everything below
    bool init_done_ = false;
    int init_status_ = 0;
    std::string error_;
    CK_INFO info_{};
    std::vector<std::unique_ptr<TokenState>> tokens_;
    std::string slot_error_;  // the last C_GetSlotList failure
    bool rescanned_ = false;  // a rescan happened, at last_rescan_
    std::chrono::steady_clock::time_point last_rescan_;
    bool no_slot_events_ = false;  // C_WaitForSlotEvent not supported
};

}  // namespace p11tls
