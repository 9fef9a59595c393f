#include "uri/uri.hpp"

#include <cstdlib>
#include <cstring>

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
// p11-kit ignores query attributes it does not know (RFC 7512 allows it),
// but a URI from a config file with a misspelt "pin-sorce" must not quietly
// mean something else.
void check_query_attributes(const char *text) {
    const char *q = strchr(text, '?');
    if (!q) return;
    static const char *const known[] = {"pin-value", "pin-source", "module-name", "module-path"};
    for (const char *p = q + 1; *p;) {
        size_t len = strcspn(p, "&");
        size_t name_len = strcspn(p, "=&");
        bool ok = name_len > 2 && strncmp(p, "x-", 2) == 0;  // vendor attributes
        for (const char *k : known) ok = ok || (strlen(k) == name_len && strncmp(p, k, name_len) == 0);
        if (!ok) fail(P11TLS_E_INVALID_URI, "pkcs11: URI has an unrecognized query attribute");
        p += len;
        if (*p == '&') ++p;
    }
}
}  // namespace

Uri Uri::parse(const char *text) {
    Uri r;
    r.u_ = p11_kit_uri_new();
    if (!r.u_) fail(P11TLS_E_MEMORY, "out of memory");
    if (!text || !*text) text = "pkcs11:";
    if (strncmp(text, "pkcs11:", 7) != 0)
        fail(P11TLS_E_INVALID_URI, "URI does not start with \"pkcs11:\"");
    int rc = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, r.u_);
    if (rc != P11_KIT_URI_OK)
        fail(P11TLS_E_INVALID_URI, std::string("invalid pkcs11: URI: ") + p11_kit_uri_message(rc));
    if (p11_kit_uri_any_unrecognized(r.u_))
        fail(P11TLS_E_INVALID_URI, "pkcs11: URI has an unrecognized attribute");
    check_query_attributes(text);
    return r;
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
