// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Fuzz target "der": what a token holds for trust (the value of a stapled
// extension object, a CKA_SERIAL_NUMBER) is read by lib/gnutls/der.cpp and
// written into a CRL by lib/gnutls/distrust_crl.cpp. Whatever the token
// says, parsing must not crash or read past the value, an extension taken
// apart must be a dotted OID and a value inside the input, and a serial
// number must come out as one DER INTEGER (or nothing) that GnuTLS reads
// back in a CRL of a fixed issuer.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <gnutls/x509.h>

#include "gnutls/der.hpp"
#include "gnutls/distrust_crl.hpp"

namespace {

[[noreturn]] void broken(const char *what) {
    fprintf(stderr, "der_fuzz: %s\n", what);
    abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const p11tls::Der in(data, data + size);
    p11tls::Extension e;
    if (p11tls::parse_extension(in, &e)) {
        if (e.value.size() >= size) broken("extension value not inside the input");
        if (e.oid.empty() || e.oid.find_first_not_of("0123456789.") != std::string::npos)
            broken("extension OID not dotted");
    }
    const p11tls::Der serial = p11tls::der_integer_of(in);
    if (!serial.empty()) {
        if (serial[0] != 0x02) broken("serial number not an INTEGER");
        // CN=x
        static const p11tls::Der issuer = {0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03,
                                           0x55, 0x04, 0x03, 0x0c, 0x01, 0x78};
        gnutls_x509_crl_t crl = p11tls::distrust_crl(issuer, {in}, 0);
        if (crl) {
            if (gnutls_x509_crl_get_crt_count(crl) != 1) broken("CRL without its one serial number");
            gnutls_x509_crl_deinit(crl);
        }
    }
    return 0;
}
