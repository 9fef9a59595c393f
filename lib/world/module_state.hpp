// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A module as one generation sees it: initialized once, its tokens.
#pragma once
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
    // P11TLS_E_* code; the reason is in error().
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

private:
    Module *mod_;
    std::mutex mu_;                                 // guards everything below
    bool init_done_ = false;
    int init_status_ = 0;
    std::string error_;
    CK_INFO info_{};
    std::vector<std::unique_ptr<TokenState>> tokens_;
    std::string slot_error_;  // the last C_GetSlotList failure
};

}  // namespace p11tls
