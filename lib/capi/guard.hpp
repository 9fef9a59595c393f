// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The exception firewall: every exported function runs its body through
// guard(), which initializes the process state once and turns any C++
// exception into a P11TLS_E_* code plus the thread's last-error detail.
#pragma once
#include <new>
#include <utility>

#include <p11tls/p11tls.h>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"

namespace p11tls {

// Messages of the body go to sink (the context the call works for; see
// base/log.hpp), and so does the error line of a failure.
template <typename F>
int guard(const char *fn, LogSink *sink, F &&body) noexcept {
    process_init();
    clear_last_error();
    LogScope scope(sink);
    try {
        return body();
    } catch (const Error &e) {
        set_last_error(e.what());
        log_error("%s: %s: %s", fn, p11tls_strerror_name(e.code()), e.what());
        return e.code();
    } catch (const std::bad_alloc &) {
        set_last_error("out of memory");
        log_error("%s: P11TLS_E_MEMORY", fn);
        return P11TLS_E_MEMORY;
    } catch (...) {
        set_last_error("unexpected internal exception");
        log_error("%s: P11TLS_E_INTERNAL: unexpected internal exception", fn);
        return P11TLS_E_INTERNAL;
    }
}

// A call tied to no context keeps the caller's (a nested call).
template <typename F>
int guard(const char *fn, F &&body) noexcept {
    return guard(fn, current_log_sink(), std::forward<F>(body));
}

// Copies out into a caller buffer with an in/out length (NULL asks for size).
int copy_out(const void *src, size_t len, uint8_t *dst, size_t *dst_len);
// Copies out into memory the caller frees with p11tls_free().
int alloc_out(const void *src, size_t len, uint8_t **out, size_t *out_len);

}  // namespace p11tls
