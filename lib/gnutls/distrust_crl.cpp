// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "gnutls/distrust_crl.hpp"

#include <cstdio>

namespace p11tls {

namespace {

// UTCTime of t (UTC), as X.509 dates before 2050 are written.
Der utc_time(time_t t) {
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[64];
    snprintf(s, sizeof s, "%02d%02d%02d%02d%02d%02dZ", tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    return der_tlv(0x17, Der(s, s + 13));
}

Der cat(std::initializer_list<Der> parts) {
    Der out;
    for (const Der &p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace

gnutls_x509_crl_t distrust_crl(const Der &issuer, const std::vector<Der> &serials, time_t now) {
    // The signature algorithm is a placeholder: nothing verifies this CRL
    // (distrust_crl.hpp). ecdsa-with-SHA256, 1.2.840.10045.4.3.2.
    static const Der kAlgorithm = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                   0xce, 0x3d, 0x04, 0x03, 0x02};
    const Der date = utc_time(now);
    Der revoked;
    for (const Der &s : serials) {
        Der serial = der_integer_of(s);
        if (!serial.empty()) revoked = cat({revoked, der_tlv(0x30, cat({serial, date}))});
    }
    if (revoked.empty()) return nullptr;
    const Der version = {0x02, 0x01, 0x01};  // v2
    const Der tbs = der_tlv(0x30, cat({version, kAlgorithm, issuer, date, der_tlv(0x30, revoked)}));
    const Der no_signature = {0x03, 0x01, 0x00};
    const Der crl = der_tlv(0x30, cat({tbs, kAlgorithm, no_signature}));

    gnutls_x509_crl_t c;
    if (gnutls_x509_crl_init(&c) < 0) return nullptr;
    gnutls_datum_t d = {const_cast<unsigned char *>(crl.data()), static_cast<unsigned>(crl.size())};
    if (gnutls_x509_crl_import(c, &d, GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crl_deinit(c);
        return nullptr;
    }
    return c;
}

}  // namespace p11tls
