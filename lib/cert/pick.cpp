// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Telling certificates apart, and picking the current one of a renewal.
#include "cert/pick.hpp"

#include <gnutls/x509.h>

namespace p11tls {

namespace {

std::string day(time_t t) {
    struct tm tm;
    char buf[32];
    if (t == (time_t)-1 || !gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%d", &tm) == 0) return "?";
    return buf;
}

bool valid_at(const CertFacts &f, time_t now) {
    return f.parsed && f.not_before != (time_t)-1 && f.not_after != (time_t)-1 && f.not_before <= now &&
           now <= f.not_after;
}

// a is newer than b.
bool newer(const CertFacts &a, const CertFacts &b) {
    if (a.not_before != b.not_before) return a.not_before > b.not_before;
    return a.not_after > b.not_after;
}

}  // namespace

CertFacts cert_facts(const std::vector<unsigned char> &der) {
    CertFacts f;
    gnutls_x509_crt_t crt;
    if (der.empty() || gnutls_x509_crt_init(&crt) < 0) return f;
    gnutls_datum_t d = {const_cast<unsigned char *>(der.data()), static_cast<unsigned>(der.size())};
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0) {
        gnutls_datum_t dn = {nullptr, 0};
        if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) f.subject.assign(reinterpret_cast<char *>(dn.data), dn.size);
        gnutls_free(dn.data);
        unsigned char serial[64];
        size_t n = sizeof serial;
        static const char digits[] = "0123456789abcdef";
        if (gnutls_x509_crt_get_serial(crt, serial, &n) >= 0)
            for (size_t i = 0; i < n; ++i) {
                f.serial += digits[serial[i] >> 4];
                f.serial += digits[serial[i] & 15];
            }
        f.not_before = gnutls_x509_crt_get_activation_time(crt);
        f.not_after = gnutls_x509_crt_get_expiration_time(crt);
        unsigned char id[32];
        size_t id_len = sizeof id;
        if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id, &id_len) >= 0) {
            f.key_id.assign(id, id + id_len);
            f.parsed = true;
        }
    }
    gnutls_x509_crt_deinit(crt);
    return f;
}

std::string describe_cert(const CertFacts &f, time_t now) {
    if (!f.parsed) return "a certificate GnuTLS cannot parse";
    std::string s = "'" + f.subject + "' serial " + f.serial + ", valid " + day(f.not_before) + " to " +
                    day(f.not_after);
    if (f.not_after != (time_t)-1 && now > f.not_after) s += " (expired)";
    else if (f.not_before != (time_t)-1 && now < f.not_before) s += " (not yet valid)";
    return s;
}

bool one_key(const std::vector<CertFacts> &certs) {
    for (const CertFacts &f : certs)
        if (!f.parsed || f.key_id != certs.front().key_id) return false;
    return !certs.empty();
}

size_t pick_current(const std::vector<CertFacts> &certs, time_t now) {
    size_t best = 0;
    for (size_t i = 1; i < certs.size(); ++i) {
        const bool vi = valid_at(certs[i], now), vb = valid_at(certs[best], now);
        if (vi != vb ? vi : newer(certs[i], certs[best])) best = i;
    }
    return best;
}

}  // namespace p11tls
