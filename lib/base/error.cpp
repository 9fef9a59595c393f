// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "base/error.hpp"

#include <cstring>

namespace p11tls {

namespace {
thread_local char t_last_error[512];
}

void fail(int code, const std::string &detail) {
    if (code >= 0)
        throw Error(P11TLS_E_INTERNAL,
                    "internal error: failure reported with non-error code " + std::to_string(code) + " (" + detail + ")");
    throw Error(code, detail);
}

void set_last_error(const char *detail) noexcept {
    std::strncpy(t_last_error, detail ? detail : "", sizeof t_last_error - 1);
    t_last_error[sizeof t_last_error - 1] = '\0';
}

void clear_last_error() noexcept { t_last_error[0] = '\0'; }

const char *last_error() noexcept { return t_last_error; }

}  // namespace p11tls

extern "C" {

const char *p11tls_last_error_detail(void) { return p11tls::last_error(); }

const char *p11tls_strerror(int err) {
    switch (err) {
    case P11TLS_E_SUCCESS: return "Success";
    case P11TLS_E_INVALID_ARGUMENT: return "Invalid argument";
    case P11TLS_E_INVALID_URI: return "Invalid PKCS#11 URI";
    case P11TLS_E_NOT_FOUND: return "No matching object found";
    case P11TLS_E_AMBIGUOUS: return "The URI matches more than one object";
    case P11TLS_E_PIN_INCORRECT: return "Incorrect PIN";
    case P11TLS_E_PIN_LOCKED: return "The PIN is locked";
    case P11TLS_E_PIN_REQUIRED: return "Login required but no PIN available";
    case P11TLS_E_PIN_CANCELLED: return "PIN entry cancelled";
    case P11TLS_E_TOKEN_NOT_PRESENT: return "Token not present";
    case P11TLS_E_UNSUPPORTED: return "Operation not supported by this key or token";
    case P11TLS_E_BUFFER_TOO_SMALL: return "Output buffer too small";
    case P11TLS_E_FORKED: return "Object is stale after fork";
    case P11TLS_E_MODULE: return "PKCS#11 module failed to load or initialize";
    case P11TLS_E_DEVICE: return "Token or module error";
    case P11TLS_E_KEY_MISMATCH: return "Key found again differs from the key opened";
    case P11TLS_E_MEMORY: return "Out of memory";
    case P11TLS_E_NOT_PERMITTED: return "Not permitted by the context's policy";
    case P11TLS_E_PIN_SOURCE: return "PIN source unreadable or unsafe";
    case P11TLS_E_INTERNAL: return "Internal error";
    case P11TLS_E_READ_ONLY: return "The token is write-protected";
    case P11TLS_E_EXISTS: return "An object with that label or ID exists";
    case P11TLS_E_PIN_LEN_RANGE: return "The new PIN is too short or too long for the token";
    case P11TLS_E_TIMEOUT: return "Nothing appeared in time";
    default: return "Unknown error";
    }
}

const char *p11tls_strerror_name(int err) {
    switch (err) {
#define N(x) case x: return #x;
    N(P11TLS_E_SUCCESS) N(P11TLS_E_INVALID_ARGUMENT) N(P11TLS_E_INVALID_URI)
    N(P11TLS_E_NOT_FOUND) N(P11TLS_E_AMBIGUOUS) N(P11TLS_E_PIN_INCORRECT)
    N(P11TLS_E_PIN_LOCKED) N(P11TLS_E_PIN_REQUIRED) N(P11TLS_E_PIN_CANCELLED)
    N(P11TLS_E_TOKEN_NOT_PRESENT) N(P11TLS_E_UNSUPPORTED) N(P11TLS_E_BUFFER_TOO_SMALL)
    N(P11TLS_E_FORKED) N(P11TLS_E_MODULE) N(P11TLS_E_DEVICE) N(P11TLS_E_KEY_MISMATCH)
    N(P11TLS_E_MEMORY) N(P11TLS_E_NOT_PERMITTED) N(P11TLS_E_PIN_SOURCE) N(P11TLS_E_INTERNAL)
    N(P11TLS_E_READ_ONLY) N(P11TLS_E_EXISTS) N(P11TLS_E_PIN_LEN_RANGE)
    N(P11TLS_E_TIMEOUT)
#undef N
    default: return "P11TLS_E_UNKNOWN";
    }
}

}  // extern "C"
