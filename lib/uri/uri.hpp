// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// RFC 7512 pkcs11: URIs, parsed by p11-kit's P11KitUri. Strict: unknown
// attributes, attributes given twice, NUL bytes (%00) outside id and bad
// percent-encoding are P11TLS_E_INVALID_URI.
#pragma once
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "base/secure.hpp"

namespace p11tls {

// Longer URIs are P11TLS_E_INVALID_URI.
constexpr size_t kMaxUriLength = 64 * 1024;

class Uri {
public:
    // Parses text; throws P11TLS_E_INVALID_URI. NULL/"" means "pkcs11:".
    static Uri parse(const char *text);
    Uri() = default;
    ~Uri();
    Uri(Uri &&o) noexcept : u_(o.u_) { o.u_ = nullptr; }
    Uri &operator=(Uri &&o) noexcept;
    Uri(const Uri &) = delete;
    Uri &operator=(const Uri &) = delete;

    // The URI as text (RFC 7512, every attribute it holds, pin-value
    // included: never log it; wiped when freed). parse(format()) gives the
    // same URI.
    SecretString format() const;
    // Same module, slot, token and object attributes, query attributes
    // included (attribute order does not matter).
    bool same_as(const Uri &o) const;

    bool matches_module(const CK_INFO &info) const;
    bool matches_slot(CK_SLOT_ID id, const CK_SLOT_INFO &info) const;
    bool matches_token(const CK_TOKEN_INFO &info) const;
    // CKA_CLASS / CKA_LABEL / CKA_ID from the URI, for C_FindObjectsInit.
    std::vector<CK_ATTRIBUTE> object_template() const;
    bool has_class() const;
    CK_OBJECT_CLASS object_class() const;

    const char *pin_value() const;   // may be NULL; never log it
    const char *pin_source() const;  // may be NULL
    const char *module_name() const; // may be NULL
    const char *module_path() const; // may be NULL

private:
    P11KitUri *u_ = nullptr;
};

// Formats the URI of a token, or of an object on it (label and id may be
// empty: they are then left out).
std::string format_token_uri(const CK_TOKEN_INFO &info);
std::string format_object_uri(const CK_TOKEN_INFO &info, CK_OBJECT_CLASS cls,
                              const std::string &label, const std::vector<unsigned char> &id);

// Space-padded PKCS#11 fields to std::string (trailing spaces removed).
std::string pkcs11_string(const unsigned char *field, size_t len);
#define P11TLS_FIELD(f) ::p11tls::pkcs11_string((f), sizeof(f))

}  // namespace p11tls
