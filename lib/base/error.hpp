// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Errors inside p11tls: an exception carrying a P11TLS_E_* code and a
// one-line detail; the C boundary (capi/guard.hpp) turns it into a return
// code and the calling thread's last-error detail.
#pragma once
#include <exception>
#include <string>

#include <p11tls/p11tls.h>

namespace p11tls {

class Error : public std::exception {
public:
    Error(int code, std::string detail) : code_(code), detail_(std::move(detail)) {}
    int code() const noexcept { return code_; }
    const char *what() const noexcept override { return detail_.c_str(); }

private:
    int code_;
    std::string detail_;
};

// Throws Error(code, detail). A code >= 0 (P11TLS_E_SUCCESS, or a table
// entry that maps to it) is a bug on the failure path: it becomes
// P11TLS_E_INTERNAL, so that no failure is ever returned as a success.
[[noreturn]] void fail(int code, const std::string &detail);

// A PIN function forked: this process is the child, and the call it was
// making belongs to the parent's generation (its sessions, its login). The
// C boundary starts the call again in the child (capi/guard.hpp) or fails
// with P11TLS_E_FORKED.
class ForkedDuringCall : public Error {
public:
    ForkedDuringCall()
        : Error(P11TLS_E_FORKED, "the PIN function forked; this child cannot finish the call "
                                 "its parent began") {}
};
// A PIN function that forks every time is asked again in each child at most
// this many times per call.
constexpr int kForkRedoLimit = 2;

// The calling thread's last-error detail (a fixed buffer: thread_local
// storage with a trivial destructor, safe after dlclose and fork).
void set_last_error(const char *detail) noexcept;
void clear_last_error() noexcept;
const char *last_error() noexcept;

}  // namespace p11tls
