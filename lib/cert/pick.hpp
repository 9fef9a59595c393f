// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Several certificates where one is wanted: what tells them apart in a
// message, and which one to use when they certify one key (an old and a
// renewed certificate, same label and ID, as a smart card keeps them).
#pragma once
#include <ctime>
#include <string>
#include <vector>

namespace p11tls {

// What a certificate says about itself, as far as GnuTLS parses it.
struct CertFacts {
    bool parsed = false;
    std::string subject;                // RFC 4514
    std::string serial;                 // hex
    time_t not_before = (time_t)-1, not_after = (time_t)-1;
    std::vector<unsigned char> key_id;  // SHA-256 of the public key
};

CertFacts cert_facts(const std::vector<unsigned char> &der);

// "'CN=www' serial 0a, valid 2024-01-01 to 2025-01-01 (expired)", for a
// message that names the certificates a URI matches.
std::string describe_cert(const CertFacts &f, time_t now);

// Whether all of them parse and certify one public key.
bool one_key(const std::vector<CertFacts> &certs);

// The one to use of certificates of one key: valid now (not before <= now
// <= not after), and of those the newest (latest not before; then latest
// not after; then the first). If none is valid now, the newest of all.
size_t pick_current(const std::vector<CertFacts> &certs, time_t now);

}  // namespace p11tls
