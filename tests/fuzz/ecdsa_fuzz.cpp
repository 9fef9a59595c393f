// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Fuzz target "ecdsa": ECDSA signatures from a token (r||s, attacker-chosen
// bytes if the token or the channel to it is hostile) are turned into DER by
// lib/key/ecdsa.cpp. Whatever the token returns, the conversion must not
// crash, must refuse an empty or odd-length r||s, and the DER it produces
// must decode (GnuTLS's gnutls_decode_rs_value, as a verifier would) to the
// same r and s as integers.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "base/error.hpp"
#include "key/ecdsa.hpp"

namespace {

[[noreturn]] void broken(const char *what) {
    fprintf(stderr, "ecdsa_fuzz: %s\n", what);
    abort();
}

// Big-endian unsigned integer bytes without leading zeros: DER adds a zero
// byte before a high bit and drops redundant ones, so compare values.
std::vector<unsigned char> magnitude(const unsigned char *p, size_t n) {
    while (n > 0 && *p == 0) ++p, --n;
    return std::vector<unsigned char>(p, p + n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::vector<unsigned char> rs(data, data + size);
    std::vector<unsigned char> der;
    try {
        der = p11tls::ecdsa_to_der(rs);
    } catch (const p11tls::Error &e) {
        if (e.code() != P11TLS_E_DEVICE || !(size == 0 || size % 2)) broken("valid r||s refused");
        return 0;
    }
    if (size == 0 || size % 2) broken("malformed r||s accepted");

    gnutls_datum_t d = {der.data(), (unsigned)der.size()};
    gnutls_datum_t r = {nullptr, 0}, s = {nullptr, 0};
    if (gnutls_decode_rs_value(&d, &r, &s) < 0) broken("DER from ecdsa_to_der does not decode");
    size_t half = size / 2;
    bool same = magnitude(r.data, r.size) == magnitude(data, half) &&
                magnitude(s.data, s.size) == magnitude(data + half, half);
    gnutls_free(r.data);
    gnutls_free(s.data);
    if (!same) broken("r||s -> DER -> r||s changed r or s");
    return 0;
}
