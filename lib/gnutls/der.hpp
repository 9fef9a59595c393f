// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The little DER the trust glue handles itself, where GnuTLS has no public
// function: reading an X.509 Extension as p11-kit staples it, and writing
// the CRL that refuses certificates by issuer and serial number. Strict:
// definite lengths, no trailing bytes.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace p11tls {

using Der = std::vector<unsigned char>;

// One TLV: tag, then the DER length of content, then content.
Der der_tlv(unsigned char tag, const Der &content);
// The DER INTEGER of a CKA_SERIAL_NUMBER: the value itself when it is one
// (as PKCS#11 says it is), else its bytes as a non-negative INTEGER (some
// tokens keep the bare number). Empty if neither.
Der der_integer_of(const Der &serial);
// The DER INTEGER whose content is the non-negative number in bytes
// (big-endian; GnuTLS's gnutls_x509_crt_get_serial gives that). Empty if
// bytes is empty or longer than 64.
Der der_integer_from_bytes(const Der &bytes);

// An Extension (SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE,
// extnValue OCTET STRING }), taken apart; false if ext is not exactly one.
struct Extension {
    std::string oid;  // dotted
    bool critical = false;
    Der value;        // the content of extnValue
};
bool parse_extension(const Der &ext, Extension *out);

}  // namespace p11tls
