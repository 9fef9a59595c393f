// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "key/ecdsa.hpp"

#include "base/error.hpp"

namespace p11tls {

namespace {

// Appends a DER length (short form, or long form up to 65535).
void der_length(std::vector<unsigned char> &out, size_t n) {
    if (n < 0x80) {
        out.push_back((unsigned char)n);
    } else if (n <= 0xff) {
        out.push_back(0x81);
        out.push_back((unsigned char)n);
    } else {
        out.push_back(0x82);
        out.push_back((unsigned char)(n >> 8));
        out.push_back((unsigned char)n);
    }
}

// Appends a DER INTEGER holding the unsigned big-endian number p[0..n).
void der_uint(std::vector<unsigned char> &out, const unsigned char *p, size_t n) {
    while (n > 1 && p[0] == 0) ++p, --n;  // minimal encoding
    const bool pad = (p[0] & 0x80) != 0;  // keep it positive
    out.push_back(0x02);
    der_length(out, n + pad);
    if (pad) out.push_back(0x00);
    out.insert(out.end(), p, p + n);
}

}  // namespace

// ECDSA on PKCS#11 returns r||s; TLS and X.509 carry DER
// (SEQUENCE { INTEGER r, INTEGER s }). Encoded by hand: libtasn1 (through
// gnutls_encode_rs_value) costs ~17,000 instructions per signature, 3.5% of
// a SoftHSM P-256 signature (bench/, doc/performance.md); this is ~100.
std::vector<unsigned char> ecdsa_to_der(const std::vector<unsigned char> &rs) {
    if (rs.empty() || rs.size() % 2) fail(P11TLS_E_DEVICE, "malformed ECDSA signature from token");
    const size_t half = rs.size() / 2;
    std::vector<unsigned char> ints;
    ints.reserve(rs.size() + 8);
    der_uint(ints, rs.data(), half);
    der_uint(ints, rs.data() + half, half);
    std::vector<unsigned char> out;
    out.reserve(ints.size() + 4);
    out.push_back(0x30);
    der_length(out, ints.size());
    out.insert(out.end(), ints.begin(), ints.end());
    return out;
}

}  // namespace p11tls
