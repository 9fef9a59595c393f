// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Memory that holds secrets (PINs) and wipes itself.
#pragma once
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include <gnutls/gnutls.h>

namespace p11tls {

// The longest PIN p11tls handles. A longer one is refused, never cut: a
// truncated PIN that happens to be right (the token's 255-byte PIN followed
// by junk) would log in.
constexpr size_t kMaxPinLength = 255;

class SecretBuffer {
public:
    explicit SecretBuffer(size_t size = kMaxPinLength + 1) : size_(size), data_(new char[size]()) {}
    ~SecretBuffer() { wipe(); delete[] data_; }
    SecretBuffer(const SecretBuffer &) = delete;
    SecretBuffer &operator=(const SecretBuffer &) = delete;

    char *data() { return data_; }
    size_t size() const { return size_; }
    size_t length() const { return strnlen(data_, size_); }
    // Copies n bytes and a NUL; false (buffer wiped, nothing copied) if
    // they do not fit: the caller refuses the PIN with its own error.
    [[nodiscard]] bool assign(const char *s, size_t n) {
        wipe();
        if (n >= size_) return false;
        std::memcpy(data_, s, n);
        data_[n] = '\0';
        return true;
    }
    void wipe() { gnutls_memset(data_, 0, size_); }

private:
    size_t size_;
    char *data_;
};

// An allocator that wipes what it frees: for containers that may hold a
// PIN, so no copy is left in freed heap.
template <class T>
struct WipingAllocator {
    using value_type = T;
    WipingAllocator() noexcept = default;
    template <class U>
    WipingAllocator(const WipingAllocator<U> &) noexcept {}
    T *allocate(size_t n) { return std::allocator<T>().allocate(n); }
    void deallocate(T *p, size_t n) noexcept {
        gnutls_memset(p, 0, n * sizeof(T));
        std::allocator<T>().deallocate(p, n);
    }
    template <class U>
    bool operator==(const WipingAllocator<U> &) const noexcept { return true; }
    template <class U>
    bool operator!=(const WipingAllocator<U> &) const noexcept { return false; }
};

// A string for text that may hold a PIN. Its heap buffer is wiped when
// freed; the short-string buffer inside the object is not, so the
// destructor wipes it too.
class SecretString : public std::basic_string<char, std::char_traits<char>, WipingAllocator<char>> {
public:
    using Base = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;
    using Base::Base;
    SecretString(const SecretString &) = default;
    SecretString(SecretString &&) = default;
    SecretString &operator=(const SecretString &) = default;
    SecretString &operator=(SecretString &&) = default;
    ~SecretString() {
        // Everything up to the capacity: a shorter value may have followed
        // a longer one.
        gnutls_memset(&(*this)[0], 0, capacity());
    }
};

// Wipes a std::string holding a secret before it goes away.
inline void wipe_string(std::string &s) {
    if (!s.empty()) gnutls_memset(&s[0], 0, s.size());
    s.clear();
}

}  // namespace p11tls
