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

[[noreturn]] void fail(int code, const std::string &detail);

// The calling thread's last-error detail (a fixed buffer: thread_local
// storage with a trivial destructor, safe after dlclose and fork).
void set_last_error(const char *detail) noexcept;
void clear_last_error() noexcept;
const char *last_error() noexcept;

}  // namespace p11tls
