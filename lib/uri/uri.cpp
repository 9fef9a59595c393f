// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "uri/uri.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include <gnutls/gnutls.h>

#include "base/error.hpp"

namespace p11tls {

Uri::~Uri() {
    if (u_) {
        // The URI may hold a pin-value, which p11-kit frees without wiping:
        // clear it in place first.
        if (const char *pin = p11_kit_uri_get_pin_value(u_))
            gnutls_memset(const_cast<char *>(pin), 0, strlen(pin));
        p11_kit_uri_free(u_);
    }
}

Uri &Uri::operator=(Uri &&o) noexcept {
    if (this != &o) {
        this->~Uri();
        u_ = o.u_;
        o.u_ = nullptr;
    }
    return *this;
}

namespace {
// One "name=value" element of the path (separated by ';') or the query
// (separated by '&'); value is still percent-encoded. Views into the text:
// a value may be a PIN, and a copy would outlive the check in freed heap.
struct RawAttr {
    std::string_view name;
    std::string_view value;
};

std::vector<RawAttr> split_attrs(const char *begin, const char *end, char sep) {
    std::vector<RawAttr> out;
    for (const char *p = begin; p < end;) {
        const char *e = static_cast<const char *>(memchr(p, sep, end - p));
        if (!e) e = end;
        const char *eq = static_cast<const char *>(memchr(p, '=', e - p));
        // RFC 7512 has no empty elements. p11-kit 0.24 reads the rest of
        // "pkcs11:;token=a" or "model=m;;token=a" as a query attribute it
        // ignores: the URI would match every token.
        if (e == p) fail(P11TLS_E_INVALID_URI, "pkcs11: URI has an empty attribute (\";;\" or a leading \";\")");
        out.push_back({std::string_view(p, (eq ? eq : e) - p),
                       eq ? std::string_view(eq + 1, e - eq - 1) : std::string_view()});
        p = e + 1;
    }
    return out;
}

// p11-kit reads "slot-id=" as slot 0 and a number too large for CK_SLOT_ID
// (strtoul saturates) as (CK_SLOT_ID)-1, its "any slot": a mistyped slot-id
// would widen the URI to every slot. A slot-id is decimal digits naming a
// slot other than (CK_SLOT_ID)-1.
void check_slot_id(std::string_view v) {
    bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;
    errno = 0;
    unsigned long long n = digits ? strtoull(std::string(v).c_str(), nullptr, 10) : 0;
    if (!digits || errno == ERANGE || n >= (unsigned long long)(CK_SLOT_ID)-1)
        fail(P11TLS_E_INVALID_URI, "pkcs11: URI has a slot-id that is not a slot number");
}

// The path attributes p11-kit 0.24 recognizes (RFC 7512's, its own
// "library-*" and "slot-*", and the PIN attributes it also takes in the
// path), the query attributes p11tls takes, and the object types.
constexpr const char *kPathAttributes[] = {
    "token", "manufacturer", "serial", "model", "library-manufacturer", "library-description",
    "library-version", "object", "type", "id", "slot-description", "slot-manufacturer", "slot-id",
    "pin-value", "pin-source"};
constexpr const char *kQueryAttributes[] = {"pin-value", "pin-source", "module-name", "module-path"};
constexpr const char *kTypes[] = {"cert", "public", "private", "secret-key", "data"};

// Levenshtein distance, for "did you mean": attribute names are short.
size_t distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                               diag + (tolower((unsigned char)a[i - 1]) != b[j - 1] ? 1u : 0u)});
            diag = up;
        }
    }
    return row[b.size()];
}

// The known name nearest to name, if near enough to be a slip (a letter or
// two, or a prefix: "privat", "objekt", "Token", "obj"); else nullptr.
template <size_t N>
const char *nearest(std::string_view name, const char *const (&known)[N]) {
    const char *best = nullptr;
    size_t best_d = 3;
    for (const char *k : known) {
        std::string_view kv(k);
        size_t d = distance(name, kv);
        if ((name.size() >= 3 && kv.substr(0, name.size()) == name) ||
            (kv.size() >= 4 && name.substr(0, kv.size()) == kv))
            d = std::min<size_t>(d, 1);
        if (d < best_d && d <= std::max<size_t>(1, kv.size() / 3)) best = k, best_d = d;
    }
    return best;
}

// A name or type as typed, for a message: only if it is a plain word
// starting with a letter (names and types are no secrets, but a mistyped
// element could be anything, a PIN included).
std::string shown(std::string_view v) {
    if (v.empty()) return "\"\" (empty)";
    bool plain = v.size() <= 32 && isalpha((unsigned char)v[0]);
    for (char c : v) plain = plain && (isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.');
    return plain ? "\"" + std::string(v) + "\"" : std::string("(not shown)");
}

template <size_t N>
bool is_one_of(std::string_view v, const char *const (&known)[N]) {
    for (const char *k : known)
        if (v == k) return true;
    return false;
}

template <size_t N>
std::string joined(const char *const (&known)[N]) {
    std::string out;
    for (const char *k : known) out += (out.empty() ? "" : ", ") + std::string(k);
    return out;
}

// Why p11-kit found something unrecognized, naming it: the first path
// attribute it does not know, or a query attribute in the path, or the
// value of type=. Called only when p11-kit said so.
[[noreturn]] void fail_unrecognized(const char *text) {
    const char *path = text + 7;
    const char *q = strchr(path, '?');
    for (const RawAttr &a : split_attrs(path, q ? q : path + strlen(path), ';')) {
        if (a.name == "type") {
            if (is_one_of(a.value, kTypes) || a.value == "secretkey") continue;
            const char *near = nearest(a.value, kTypes);
            fail(P11TLS_E_INVALID_URI, "pkcs11: URI has an unrecognized type " + shown(a.value) +
                                           (near ? std::string(" (did you mean \"") + near + "\"?)" : "") +
                                           "; types: " + joined(kTypes));
        }
        if (is_one_of(a.name, kPathAttributes) || a.name == "object-type") continue;
        if (is_one_of(a.name, kQueryAttributes))
            fail(P11TLS_E_INVALID_URI, "pkcs11: URI has " + shown(a.name) +
                                           " in its path; it belongs in the query: pkcs11:...?" +
                                           std::string(a.name) + "=...");
        const char *near = nearest(a.name, kPathAttributes);
        fail(P11TLS_E_INVALID_URI, "pkcs11: URI has an unrecognized attribute " + shown(a.name) +
                                       (near ? std::string(" (did you mean \"") + near + "\"?)"
                                             : "; attributes: " + joined(kPathAttributes)));
    }
    fail(P11TLS_E_INVALID_URI, "pkcs11: URI has an unrecognized attribute or value");
}

// What p11-kit accepts but a URI from a config file written by someone else
// must not mean:
//  - a query attribute p11-kit ignores (RFC 7512 allows it): a misspelt
//    "pin-sorce" would quietly mean "no PIN source";
//  - an attribute given twice: p11-kit keeps the last, so "object=a;object=b"
//    would match only b although a reader may see a;
//  - %00 anywhere but in id: every other value is text that p11-kit hands
//    on as a C string (the PIN "12%0034" would silently become "12") or that
//    no token can carry. id is binary and may hold zero bytes.
void check_attributes(const char *text) {
    const char *path = text + 7;  // after "pkcs11:"
    const char *q = strchr(path, '?');
    const char *path_end = q ? q : path + strlen(path);
    auto path_attrs = split_attrs(path, path_end, ';');
    auto query_attrs = q ? split_attrs(q + 1, q + 1 + strlen(q + 1), '&') : std::vector<RawAttr>{};

    for (const RawAttr &a : query_attrs) {
        bool ok = a.name.size() > 2 && a.name.compare(0, 2, "x-") == 0;  // vendor attributes
        if (ok || is_one_of(a.name, kQueryAttributes)) continue;
        const char *near = nearest(a.name, kQueryAttributes);
        fail(P11TLS_E_INVALID_URI, "pkcs11: URI has an unrecognized query attribute " + shown(a.name) +
                                       (near ? std::string(" (did you mean \"") + near + "\"?)"
                                             : "; query attributes: " + joined(kQueryAttributes)));
    }
    // pin-value and the other query attributes are also accepted in the path
    // (older style), so "twice" spans path and query.
    std::vector<RawAttr> all = path_attrs;
    all.insert(all.end(), query_attrs.begin(), query_attrs.end());
    for (size_t i = 0; i < all.size(); ++i) {
        const RawAttr &a = all[i];
        for (size_t j = 0; j < i; ++j)
            if (all[j].name == a.name)
                fail(P11TLS_E_INVALID_URI, "pkcs11: URI gives the attribute \"" + std::string(a.name) + "\" twice");
        if (a.name == "slot-id") check_slot_id(a.value);
        if (a.name != "id" && a.value.find("%00") != std::string_view::npos)
            fail(P11TLS_E_INVALID_URI, "pkcs11: URI has a NUL byte (%00) in \"" + std::string(a.name) + "\"");
    }
}
}  // namespace

Uri Uri::parse(const char *text) {
    Uri r;
    r.u_ = p11_kit_uri_new();
    if (!r.u_) fail(P11TLS_E_MEMORY, "out of memory");
    if (!text || !*text) text = "pkcs11:";
    // Far above any real URI (all token fields, a 255-byte label and id,
    // and a PATH_MAX pin-source, all percent-encoded, stay under 16 KiB),
    // far below what would make parsing and matching costly.
    if (strnlen(text, kMaxUriLength + 1) > kMaxUriLength)
        fail(P11TLS_E_INVALID_URI, "pkcs11: URI longer than " + std::to_string(kMaxUriLength) + " bytes");
    if (strncmp(text, "pkcs11:", 7) != 0)
        fail(P11TLS_E_INVALID_URI, "URI does not start with \"pkcs11:\"");
    // p11-kit drops whitespace anywhere in a URI (RFC 3986, appendix C), so
    // "token=My Token" would quietly name "MyToken", and a whitespace-only
    // element becomes an empty one (see split_attrs). RFC 7512 wants them
    // percent-encoded: refuse raw whitespace and control characters.
    for (const char *p = text; *p; ++p)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            fail(P11TLS_E_INVALID_URI, "pkcs11: URI has a space or control character (percent-encode it: %20)");
    int rc = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, r.u_);
    if (rc != P11_KIT_URI_OK)
        fail(P11TLS_E_INVALID_URI, std::string("invalid pkcs11: URI: ") + p11_kit_uri_message(rc));
    if (p11_kit_uri_any_unrecognized(r.u_)) fail_unrecognized(text);
    check_attributes(text);
    return r;
}

SecretString Uri::format() const {
    char *s = nullptr;
    int rc = p11_kit_uri_format(u_, P11_KIT_URI_FOR_ANY, &s);
    if (rc != P11_KIT_URI_OK || !s) fail(P11TLS_E_INTERNAL, "cannot format URI");
    // The text may hold a pin-value.
    SecretString r = s;
    gnutls_memset(s, 0, r.size());
    free(s);
    return r;
}

namespace {
template <size_t N>
bool same_field(const CK_UTF8CHAR (&a)[N], const CK_UTF8CHAR (&b)[N]) {
    return memcmp(a, b, N) == 0;
}
bool same_cstr(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }
}  // namespace

bool Uri::same_as(const Uri &o) const {
    // Field by field, not memcmp of the structs: their padding is not ours.
    const CK_INFO *ma = p11_kit_uri_get_module_info(u_), *mb = p11_kit_uri_get_module_info(o.u_);
    const CK_SLOT_INFO *sa = p11_kit_uri_get_slot_info(u_), *sb = p11_kit_uri_get_slot_info(o.u_);
    const CK_TOKEN_INFO *ta = p11_kit_uri_get_token_info(u_), *tb = p11_kit_uri_get_token_info(o.u_);
    if (!same_field(ma->manufacturerID, mb->manufacturerID) ||
        !same_field(ma->libraryDescription, mb->libraryDescription) ||
        ma->libraryVersion.major != mb->libraryVersion.major ||
        ma->libraryVersion.minor != mb->libraryVersion.minor)
        return false;
    if (!same_field(sa->slotDescription, sb->slotDescription) ||
        !same_field(sa->manufacturerID, sb->manufacturerID) ||
        p11_kit_uri_get_slot_id(u_) != p11_kit_uri_get_slot_id(o.u_))
        return false;
    if (!same_field(ta->label, tb->label) || !same_field(ta->manufacturerID, tb->manufacturerID) ||
        !same_field(ta->model, tb->model) || !same_field(ta->serialNumber, tb->serialNumber))
        return false;
    auto attrs = [](const Uri &u) {
        std::vector<std::pair<CK_ATTRIBUTE_TYPE, std::string>> v;
        for (const CK_ATTRIBUTE &a : u.object_template())
            v.emplace_back(a.type, std::string(static_cast<const char *>(a.pValue), a.ulValueLen));
        std::sort(v.begin(), v.end());
        return v;
    };
    return attrs(*this) == attrs(o) && same_cstr(pin_value(), o.pin_value()) &&
           same_cstr(pin_source(), o.pin_source()) && same_cstr(module_name(), o.module_name()) &&
           same_cstr(module_path(), o.module_path());
}

bool Uri::matches_module(const CK_INFO &info) const {
    return p11_kit_uri_match_module_info(u_, &info) == 1;
}

bool Uri::matches_slot(CK_SLOT_ID id, const CK_SLOT_INFO &info) const {
    CK_SLOT_ID want = p11_kit_uri_get_slot_id(u_);
    if (want != (CK_SLOT_ID)-1 && want != id) return false;
    return p11_kit_uri_match_slot_info(u_, &info) == 1;
}

bool Uri::matches_token(const CK_TOKEN_INFO &info) const {
    return p11_kit_uri_match_token_info(u_, &info) == 1;
}

std::vector<CK_ATTRIBUTE> Uri::object_template() const {
    CK_ULONG n = 0;
    CK_ATTRIBUTE *attrs = p11_kit_uri_get_attributes(u_, &n);
    return std::vector<CK_ATTRIBUTE>(attrs, attrs + n);
}

bool Uri::has_class() const { return p11_kit_uri_get_attribute(u_, CKA_CLASS) != nullptr; }

CK_OBJECT_CLASS Uri::object_class() const {
    CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(u_, CKA_CLASS);
    CK_OBJECT_CLASS c = 0;
    if (a && a->ulValueLen == sizeof c) memcpy(&c, a->pValue, sizeof c);
    return c;
}

const char *Uri::pin_value() const { return p11_kit_uri_get_pin_value(u_); }
const char *Uri::pin_source() const { return p11_kit_uri_get_pin_source(u_); }
const char *Uri::module_name() const { return p11_kit_uri_get_module_name(u_); }
const char *Uri::module_path() const { return p11_kit_uri_get_module_path(u_); }

namespace {
std::string format(P11KitUri *u, P11KitUriType type) {
    char *s = nullptr;
    int rc = p11_kit_uri_format(u, type, &s);
    p11_kit_uri_free(u);
    if (rc != P11_KIT_URI_OK || !s) fail(P11TLS_E_INTERNAL, "cannot format URI");
    std::string r = s;
    free(s);
    return r;
}
}  // namespace

std::string format_token_uri(const CK_TOKEN_INFO &info) {
    P11KitUri *u = p11_kit_uri_new();
    if (!u) fail(P11TLS_E_MEMORY, "out of memory");
    *p11_kit_uri_get_token_info(u) = info;
    return format(u, P11_KIT_URI_FOR_TOKEN);
}

std::string format_object_uri(const CK_TOKEN_INFO &info, CK_OBJECT_CLASS cls,
                              const std::string &label, const std::vector<unsigned char> &id) {
    P11KitUri *u = p11_kit_uri_new();
    if (!u) fail(P11TLS_E_MEMORY, "out of memory");
    *p11_kit_uri_get_token_info(u) = info;
    CK_ATTRIBUTE a;
    a = {CKA_CLASS, &cls, sizeof cls};
    p11_kit_uri_set_attribute(u, &a);
    if (!label.empty()) {
        a = {CKA_LABEL, (void *)label.data(), label.size()};
        p11_kit_uri_set_attribute(u, &a);
    }
    if (!id.empty()) {
        a = {CKA_ID, (void *)id.data(), id.size()};
        p11_kit_uri_set_attribute(u, &a);
    }
    return format(u, P11_KIT_URI_FOR_OBJECT_ON_TOKEN);
}

std::string pkcs11_string(const unsigned char *field, size_t len) {
    while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == '\0')) --len;
    return std::string(reinterpret_cast<const char *>(field), len);
}

}  // namespace p11tls
