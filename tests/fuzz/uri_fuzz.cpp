// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Fuzz target "uri": pkcs11: URIs come from config files and command lines
// that other people write. Parsing any text must either give a URI or throw
// P11TLS_E_INVALID_URI (never crash, never another error), and a parsed URI
// must survive format -> parse unchanged: if formatting lost or altered an
// attribute, a URI p11tls prints (list-objects, key URIs) would name a
// different object when read back.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "uri/uri.hpp"

using p11tls::Error;
using p11tls::Uri;

namespace {

[[noreturn]] void broken(const char *what, const std::string &a, const std::string &b) {
    fprintf(stderr, "uri_fuzz: %s\n  first:  %s\n  second: %s\n", what, a.c_str(), b.c_str());
    abort();
}

bool same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

// The object template is what reaches C_FindObjectsInit: compare it
// attribute by attribute, bytes included. Order does not matter to a token
// (and p11-kit formats attributes in its own order), so sort by type.
std::vector<std::pair<CK_ATTRIBUTE_TYPE, std::string>> template_of(const Uri &u) {
    std::vector<std::pair<CK_ATTRIBUTE_TYPE, std::string>> out;
    for (const CK_ATTRIBUTE &a : u.object_template())
        out.emplace_back(a.type, std::string(static_cast<const char *>(a.pValue), a.ulValueLen));
    std::sort(out.begin(), out.end());
    return out;
}

bool same_template(const Uri &a, const Uri &b) { return template_of(a) == template_of(b); }

void check_same(const Uri &a, const Uri &b, const std::string &ta, const std::string &tb) {
    if (!a.same_as(b)) broken("module, slot, token or attributes changed", ta, tb);
    // The object template and query attributes once more, independently of
    // Uri::same_as.
    if (!same_template(a, b)) broken("object template changed", ta, tb);
    if (a.has_class() != b.has_class() || a.object_class() != b.object_class())
        broken("object class changed", ta, tb);
    if (!same_str(a.pin_value(), b.pin_value())) broken("pin-value changed", ta, tb);
    if (!same_str(a.pin_source(), b.pin_source())) broken("pin-source changed", ta, tb);
    if (!same_str(a.module_name(), b.module_name())) broken("module-name changed", ta, tb);
    if (!same_str(a.module_path(), b.module_path())) broken("module-path changed", ta, tb);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // The C API takes C strings: the text ends at the first NUL.
    std::string text(reinterpret_cast<const char *>(data), strnlen(reinterpret_cast<const char *>(data), size));
    Uri first;
    try {
        first = Uri::parse(text.c_str());
    } catch (const Error &e) {
        if (e.code() != P11TLS_E_INVALID_URI) broken("parse failed with another code than INVALID_URI", text, e.what());
        return 0;
    }
    std::string once = first.format().c_str();
    Uri second;
    try {
        second = Uri::parse(once.c_str());
    } catch (const Error &e) {
        broken("a formatted URI does not parse", text, once + "  (" + e.what() + ")");
    }
    check_same(first, second, text, once);
    // Formatting is a fixed point from the first format on.
    std::string twice = second.format().c_str();
    if (twice != once) broken("format is not stable", once, twice);
    return 0;
}
