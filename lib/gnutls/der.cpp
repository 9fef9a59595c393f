// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "gnutls/der.hpp"

#include <cstdint>

namespace p11tls {

namespace {

// Reads one TLV at pos of d: its tag, and its content as [*start, *end).
// False on a truncated or non-minimal encoding (DER), an indefinite length
// or a length past the end.
bool read_tlv(const Der &d, size_t pos, unsigned char *tag, size_t *start, size_t *end) {
    if (pos + 2 > d.size()) return false;
    *tag = d[pos];
    if ((*tag & 0x1f) == 0x1f) return false;  // multi-byte tags: none here
    size_t len = d[pos + 1], at = pos + 2;
    if (len & 0x80) {
        const size_t n = len & 0x7f;
        if (n == 0 || n > sizeof(size_t) || at + n > d.size() || d[at] == 0) return false;
        len = 0;
        for (size_t i = 0; i < n; i++) len = len << 8 | d[at + i];
        at += n;
        if (len < 0x80) return false;
    }
    if (len > d.size() - at) return false;
    *start = at;
    *end = at + len;
    return true;
}

// The dotted form of an OID's content octets; empty if malformed.
std::string dotted(const unsigned char *p, size_t n) {
    std::string out;
    uint64_t v = 0;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (v == 0 && p[i] == 0x80) return "";  // non-minimal arc
        if (v > (UINT64_MAX >> 7)) return "";
        v = v << 7 | (p[i] & 0x7f);
        if (p[i] & 0x80) {
            if (i + 1 == n) return "";  // arc not ended
            continue;
        }
        if (first) {
            const uint64_t top = v < 80 ? v / 40 : 2;
            out = std::to_string(top) + "." + std::to_string(v - 40 * top);
            first = false;
        } else {
            out += "." + std::to_string(v);
        }
        v = 0;
    }
    return out;
}

}  // namespace

Der der_tlv(unsigned char tag, const Der &content) {
    Der out = {tag};
    const size_t n = content.size();
    if (n < 0x80) {
        out.push_back(static_cast<unsigned char>(n));
    } else {
        unsigned char len[sizeof(size_t)];
        size_t k = 0;
        for (size_t v = n; v; v >>= 8) len[k++] = static_cast<unsigned char>(v);
        out.push_back(static_cast<unsigned char>(0x80 | k));
        while (k) out.push_back(len[--k]);
    }
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

Der der_integer_of(const Der &serial) {
    unsigned char tag;
    size_t start, end;
    if (read_tlv(serial, 0, &tag, &start, &end) && tag == 0x02 && end == serial.size() &&
        end > start)
        return serial;
    return der_integer_from_bytes(serial);
}

Der der_integer_from_bytes(const Der &bytes) {
    if (bytes.empty() || bytes.size() > 64) return {};
    Der content;
    size_t i = 0;
    while (i + 1 < bytes.size() && bytes[i] == 0) i++;  // minimal
    if (bytes[i] & 0x80) content.push_back(0);           // non-negative
    content.insert(content.end(), bytes.begin() + (long)i, bytes.end());
    return der_tlv(0x02, content);
}

bool parse_extension(const Der &ext, Extension *out) {
    unsigned char tag;
    size_t start, end, s, e;
    if (!read_tlv(ext, 0, &tag, &start, &end) || tag != 0x30 || end != ext.size()) return false;
    if (!read_tlv(ext, start, &tag, &s, &e) || tag != 0x06 || e == s) return false;
    out->oid = dotted(ext.data() + s, e - s);
    if (out->oid.empty()) return false;
    size_t at = e;
    out->critical = false;
    if (at < end && ext[at] == 0x01) {
        if (!read_tlv(ext, at, &tag, &s, &e) || e - s != 1 || (ext[s] != 0 && ext[s] != 0xff))
            return false;
        out->critical = ext[s] == 0xff;
        at = e;
    }
    if (!read_tlv(ext, at, &tag, &s, &e) || tag != 0x04 || e != end) return false;
    out->value.assign(ext.begin() + (long)s, ext.begin() + (long)e);
    return true;
}

}  // namespace p11tls
