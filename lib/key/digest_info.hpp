// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The DER DigestInfo prefixes (RFC 8017, section 9.2, note 1) of the hashes
// p11tls signs with RSA PKCS#1 v1.5: a DigestInfo is the prefix followed by
// the hash. Constant bytes, because encoding them through libtasn1 cost
// ~75,000 instructions per signature (0.7% of an RSA-2048 signature on
// SoftHSM; bench/run.sh, callgrind).
#pragma once
#include <cstddef>
#include <cstdint>

namespace p11tls {

struct DigestInfoPrefix {
    uint16_t scheme;  // P11TLS_SIG_RSA_PKCS1_*
    size_t hash_len;
    unsigned char prefix[19];
};

extern const DigestInfoPrefix kDigestInfoPrefixes[3];

// The prefix for a PKCS#1 v1.5 scheme, or NULL.
const DigestInfoPrefix *digest_info_prefix(uint16_t scheme) noexcept;

}  // namespace p11tls
