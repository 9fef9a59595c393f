// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// ECDSA signature encodings: PKCS#11 tokens return r||s (two halves of equal
// length), TLS and X.509 carry a DER SEQUENCE of two INTEGERs. Internal, in
// its own header so that tests/fuzz/ecdsa_fuzz.cpp can reach it.
#pragma once
#include <vector>

namespace p11tls {

// r||s from a token to DER. A malformed r||s (empty or of odd length) is
// P11TLS_E_DEVICE: it came from the token.
std::vector<unsigned char> ecdsa_to_der(const std::vector<unsigned char> &rs);

}  // namespace p11tls
