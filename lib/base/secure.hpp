// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Memory that holds secrets (PINs) and wipes itself.
#pragma once
#include <cstddef>
#include <cstring>
#include <string>

#include <gnutls/gnutls.h>

namespace p11tls {

class SecretBuffer {
public:
    explicit SecretBuffer(size_t size = 256) : size_(size), data_(new char[size]()) {}
    ~SecretBuffer() { wipe(); delete[] data_; }
    SecretBuffer(const SecretBuffer &) = delete;
    SecretBuffer &operator=(const SecretBuffer &) = delete;

    char *data() { return data_; }
    size_t size() const { return size_; }
    size_t length() const { return strnlen(data_, size_); }
    void assign(const char *s, size_t n) {
        wipe();
        if (n >= size_) n = size_ - 1;
        std::memcpy(data_, s, n);
        data_[n] = '\0';
    }
    void wipe() { gnutls_memset(data_, 0, size_); }

private:
    size_t size_;
    char *data_;
};

// Wipes a std::string holding a secret before it goes away.
inline void wipe_string(std::string &s) {
    if (!s.empty()) gnutls_memset(&s[0], 0, s.size());
    s.clear();
}

}  // namespace p11tls
