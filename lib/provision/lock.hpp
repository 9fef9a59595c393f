// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// One writer per token on this host: the p11tls calls that check that a
// label is free and then create an object hold an advisory lock on the
// token for that time, so that two of them cannot both pass the check.
//
// A token has no "create if absent", and a check after creating does not
// always see the other writer: SoftHSM 2.6.1 shows a process the objects
// other processes created only when its token generation counter moved
// since its own last write (lib/object_store/Generation.cpp, commit()
// takes the counter on disk as its own), so a process that writes after
// another does not see that other's objects until a third writes. The
// check after creating (token.hpp, other_object) stays, for writers this
// lock does not reach: other hosts, other tools.
#pragma once

#include "world/token_state.hpp"

namespace p11tls {

class ProvisionLock {
public:
    // Waits (at most kProvisionLockWaitMs, then goes on without it, with a
    // warning) for the lock of t: flock(2) on
    // /run/lock/p11tls-provision-HASH.lock (/tmp if there is no /run/lock),
    // HASH from the token's URI. A lock file that cannot be opened or is
    // no regular file (someone else's, or a FIFO put there) means no lock,
    // never a hang: the check after creating still runs.
    explicit ProvisionLock(const TokenState &t);
    ~ProvisionLock();
    ProvisionLock(const ProvisionLock &) = delete;
    ProvisionLock &operator=(const ProvisionLock &) = delete;

private:
    int fd_ = -1;
};

constexpr unsigned kProvisionLockWaitMs = 60000;

}  // namespace p11tls
