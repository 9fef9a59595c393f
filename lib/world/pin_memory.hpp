// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The PINs a module's tokens refused in this world, kept across the module's
// epochs and across a token's removal and return (each of which makes a new
// TokenState): a login redone after one of them must never send a PIN that
// already failed (a smart card counts every wrong one), however it is asked
// for again (a key's pin-value, its pin-source, a PIN function).
#pragma once
#include <array>
#include <mutex>
#include <vector>

#include <p11-kit/pkcs11.h>

namespace p11tls {

class PinMemory {
public:
    using Mac = std::array<unsigned char, 32>;  // a keyed hash of a PIN (login.cpp), never the PIN

    // The token (by label, serial, model and manufacturer) refused the PIN.
    void refused(const CK_TOKEN_INFO &token, const Mac &pin);
    bool was_refused(const CK_TOKEN_INFO &token, const Mac &pin);
    // The token's PIN was changed through p11tls: what it refused may be
    // right now.
    void forget(const CK_TOKEN_INFO &token);

private:
    struct Entry {
        CK_TOKEN_INFO token;
        Mac pin;
    };
    // The oldest are dropped past this: a process is not a PIN-guessing
    // record, and the PINs that matter are the last few a key's re-login
    // could send again.
    static constexpr size_t kMax = 32;
    std::mutex mu_;                // guards refused_
    std::vector<Entry> refused_;   // guarded by mu_
};

}  // namespace p11tls
