// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Shared by tests/robust/*_test.cpp (tests/robust_tests): processes and
// threads that end or multiply at awkward moments (issue 12). Every case
// runs in a fresh re-executed process (tmh::run_exec_child) or a forked
// child; children report only through their exit status; every wait is
// bounded.
#pragma once
#include "../support/testmod.hpp"

namespace rb {

// The p256 key through the test module (forwards to SoftHSM, logs calls
// per pid), with and without its PIN in the URI.
constexpr char kKeyUri[] = "pkcs11:token=p11tls-test;object=p256;type=private;pin-value=1234";
constexpr char kNoPinUri[] = "pkcs11:token=p11tls-test;object=p256;type=private";

// 0 if key signs msg and the signature verifies under the p256
// certificate; 1 if signing failed (code in *rc), 2 if it did not verify.
inline int sign_verifies(p11tls_key *key, const char *msg = "issue 12", int *rc = nullptr) {
    std::vector<unsigned char> sig;
    int r = th::sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg, strlen(msg), sig);
    if (rc) *rc = r;
    if (r != 0) return 1;
    return th::verify_data("p256", GNUTLS_SIGN_ECDSA_SHA256, msg, strlen(msg), sig.data(), sig.size()) >= 0
               ? 0
               : 2;
}

// C_Initialize calls logged by pid: 1 means the process built its own world.
inline size_t initializations(long pid) { return tmh::count_calls(tmh::read_log(), pid, "C_Initialize"); }

// Whether pid searched for a key: a key opened in its parent was found
// again in pid's own world (rebound), not used through the parent's. (Where
// p11-kit answers C_Initialize itself, the module logs no C_Initialize.)
inline bool searched(long pid) { return tmh::count_calls(tmh::read_log(), pid, "C_FindObjectsInit") > 0; }

}  // namespace rb
