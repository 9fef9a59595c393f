// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The public key of an EC private key stored with no public half anywhere
// on its token (no CKA_EC_POINT or CKA_PUBLIC_KEY_INFO on it, no public
// key object, no certificate), learnt from its signatures. ECDSA over an
// all-zero digest (e = 0) makes s = k^-1 r d, so Q = (s / r) R with R the
// point whose x is r: two candidates, +-Q (the sign of R's y is unknown).
// Nettle multiplies; GnuTLS, verifying a second signature of a random
// digest, tells which candidate made it. A wrong computation here can
// only fail to learn a key: none is accepted that GnuTLS did not verify.
#pragma once
#include <vector>

#include "key/pubkey.hpp"

namespace p11tls {

// The public keys (+-Q) that can have made rs (r||s, as tokens give it)
// over an all-zero digest, on the NIST curve params names (P-256, P-384,
// P-521, DER OID); empty for another curve or an rs no key can make.
std::vector<PublicKey> zero_digest_signers(const std::vector<unsigned char> &params,
                                           const std::vector<unsigned char> &rs);

}  // namespace p11tls
