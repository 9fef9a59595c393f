// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// tests/module/pin_wipe_test.cpp: no copy of a PIN is left in the process's
// writable anonymous memory ([heap] and anonymous rw mappings: freed heap,
// allocator arenas) after opens that failed and opens that logged in.
//
// The PIN is random, made at run time in stack buffers that the test wipes
// itself, so the test holds no heap copy; the main thread's stack is not
// scanned. The token's PIN is set to it (pkcs11-tool, another process) for
// the logins and set back afterwards. Runs in a fresh re-executed child.
#include <gtest/gtest.h>

#include <p11tls/p11tls.h>

#include "../support/testmod.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace {

using namespace tmh;

constexpr size_t kPinLen = 8;

// Counts the places where needle (n bytes) is found in rw anonymous
// mappings. Allocates nothing while it scans: the maps text is read into a
// static buffer first. Pages that are not resident (never touched) are
// skipped, and so are mappings over 1 GiB (a sanitizer's shadow memory).
// Not instrumented, and compares by hand (ASan checks memcmp's arguments):
// it reads freed memory and red zones on purpose.
struct ScanResult {
    size_t hits = 0;
    size_t bytes = 0;
    bool heap_seen = false;
};
__attribute__((no_sanitize("address"))) ScanResult scan_anonymous(const char *needle, size_t n) {
    static char maps[1 << 20];
    ScanResult r;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return r;
    size_t len = 0;
    for (ssize_t got; len < sizeof maps - 1 && (got = read(fd, maps + len, sizeof maps - 1 - len)) > 0;)
        len += (size_t)got;
    close(fd);
    maps[len] = 0;
    const long page = sysconf(_SC_PAGESIZE);
    static unsigned char resident[(1u << 30) / 4096];
    for (char *line = maps; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        unsigned long lo = 0, hi = 0;
        char perms[8] = "", path[512] = "";
        unsigned long off = 0, inode = 0;
        char dev[32] = "";
        int f = sscanf(line, "%lx-%lx %7s %lx %31s %lu %511s", &lo, &hi, perms, &off, dev, &inode, path);
        line = next;
        if (f < 6 || perms[0] != 'r' || perms[1] != 'w') continue;
        const bool heap = strcmp(path, "[heap]") == 0;
        if (!heap && (f == 7 || inode != 0)) continue;  // named: a file, [stack], ...
        if (hi - lo > (1ul << 30)) continue;
        r.heap_seen = r.heap_seen || heap;
        if (mincore((void *)lo, hi - lo, resident) != 0) continue;
        for (unsigned long p = lo; p < hi; p += page) {
            if (!(resident[(p - lo) / page] & 1)) continue;
            const unsigned char *b = (const unsigned char *)p;
            r.bytes += page;
            // A PIN that straddles two pages is found from the first.
            const size_t span = (p + page < hi) ? page + n - 1 : page;
            for (size_t i = 0; i + n <= span; ++i) {
                size_t k = 0;
                while (k < n && b[i + k] == (unsigned char)needle[k]) ++k;
                if (k == n) ++r.hits;
            }
        }
    }
    return r;
}

// A random PIN of kPinLen letters, in the caller's buffer.
bool random_pin(char (&pin)[kPinLen + 1]) {
    unsigned char raw[kPinLen];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0 && read(fd, raw, sizeof raw) == (ssize_t)sizeof raw;
    if (fd >= 0) close(fd);
    for (size_t i = 0; i < kPinLen; ++i) pin[i] = (char)('a' + raw[i] % 26);
    pin[kPinLen] = 0;
    explicit_bzero(raw, sizeof raw);
    return ok;
}

// Runs pkcs11-tool on the test token with args (pointers into the
// caller's buffers: no copy of a PIN here); true if it exits 0.
bool pkcs11_tool(std::initializer_list<const char *> args) {
    std::vector<const char *> argv = {"pkcs11-tool", "--module", getenv("P11TLS_SOFTHSM_MODULE"),
                                      "--token-label", "p11tls-test"};
    argv.insert(argv.end(), args.begin(), args.end());
    return th::run_quietly(argv, 30);
}

int pin_from_arg(void *arg, const char *, const char *, unsigned, char *pin, size_t size) {
    const char *p = static_cast<const char *>(arg);
    if (strlen(p) + 1 > size) return -1;
    memcpy(pin, p, strlen(p) + 1);
    return 0;
}

}  // namespace

TEST(PinWipeChild, NoCopyLeft) {
    if (!in_child("P11TLS_PIN_WIPE_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    char pin[kPinLen + 1];
    char uri[512];
    char tok_pin[64];
    ASSERT_TRUE(random_pin(pin));
    snprintf(tok_pin, sizeof tok_pin, "%s", th::test_pin().c_str());
    // Set back by the parent test with the SO PIN, whatever happens here.
    ASSERT_TRUE(pkcs11_tool({"--login", "--pin", tok_pin, "--change-pin", "--new-pin", pin}))
        << "pkcs11-tool --change-pin failed";
    const std::string file = count_dir() + "/pin-wipe." + std::to_string(getpid());
    int opened = 0, failed = 0;
    // After each kind of open: later allocations could reuse (and so hide)
    // what an earlier kind left.
    ScanResult after[4];
    {
        p11tls_cxx::context ctx{nullptr};
        ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
        // 100 opens that fail before any module sees the PIN.
        for (int i = 0; i < 100; ++i) {
            snprintf(uri, sizeof uri, "pkcs11:token=no-such-token;object=p256;type=private?pin-value=%s", pin);
            p11tls_cxx::key k;
            failed += p11tls_key_open(ctx.get(), uri, 0, k.put()) != 0;
            explicit_bzero(uri, sizeof uri);
        }
        after[0] = scan_anonymous(pin, kPinLen);
        // Logins (VERIFY_PIN: a C_Login each time) through pin-value,
        // pin-source and the PIN function; each key freed again.
        for (int i = 0; i < 10; ++i) {
            snprintf(uri, sizeof uri, "pkcs11:token=p11tls-test;object=p256;type=private?pin-value=%s", pin);
            p11tls_cxx::key k;
            opened += p11tls_key_open(ctx.get(), uri, P11TLS_KEY_OPEN_VERIFY_PIN, k.put()) == 0;
            explicit_bzero(uri, sizeof uri);
        }
        after[1] = scan_anonymous(pin, kPinLen);
        int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(write(fd, pin, kPinLen), (ssize_t)kPinLen);
        close(fd);
        const std::string src_uri = "pkcs11:token=p11tls-test;object=p256;type=private?pin-source=" + file;
        for (int i = 0; i < 10; ++i) {
            p11tls_cxx::key k;
            opened += p11tls_key_open(ctx.get(), src_uri.c_str(), P11TLS_KEY_OPEN_VERIFY_PIN, k.put()) == 0;
        }
        after[2] = scan_anonymous(pin, kPinLen);
        p11tls_cxx::context fctx{nullptr};
        ASSERT_EQ(make_ctx(fctx, testmod_path()), 0);
        ASSERT_EQ(p11tls_ctx_set_pin_fn(fctx.get(), pin_from_arg, pin), 0);
        for (int i = 0; i < 10; ++i) {
            p11tls_cxx::key k;
            opened += p11tls_key_open(fctx.get(), "pkcs11:token=p11tls-test;object=p256;type=private",
                                      P11TLS_KEY_OPEN_VERIFY_PIN, k.put()) == 0;
        }
    }
    int fd = open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd >= 0) close(fd);
    unlink(file.c_str());

    after[3] = scan_anonymous(pin, kPinLen);
    explicit_bzero(pin, sizeof pin);
    EXPECT_EQ(failed, 100);
    EXPECT_EQ(opened, 30) << "the logins did not all work: " << p11tls_last_error_detail();
    static const char *const what[] = {"100 failed opens", "10 logins with pin-value",
                                       "10 logins with pin-source", "10 logins through the PIN function"};
    std::cout << "[ figures  ] copies of the PIN in writable anonymous memory after";
    for (int i = 0; i < 4; ++i) {
#ifndef __SANITIZE_ADDRESS__  // ASan's allocator has no [heap]: its arenas are anonymous mappings
        EXPECT_TRUE(after[i].heap_seen) << "no [heap] mapping scanned";
#endif
        EXPECT_GT(after[i].bytes, 256u << 10) << "too little memory scanned to mean anything";
        EXPECT_EQ(after[i].hits, 0u) << "copies of the PIN left after " << what[i];
        std::cout << (i ? "; " : " ") << what[i] << ": " << after[i].hits << " (" << after[i].bytes / 1024
                  << " KiB scanned)";
    }
    std::cout << std::endl;
}

TEST(PinWipe, NoCopyLeftInMemory) {
    // ThreadSanitizer maps terabytes of shadow and meta memory of its own
    // into the process, and its instrumented reads of them fault: the scan
    // runs in the plain and ASan builds.
    const char *san = getenv("P11TLS_SANITIZER");
    if (san && strcmp(san, "tsan") == 0) GTEST_SKIP() << "memory scan not run under TSan";
    REQUIRE_SOFTHSM();
    int st = run_exec_child("PinWipeChild.*", "P11TLS_PIN_WIPE_CHILD", {});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
    // The child changed the user PIN: set it back for the tests after this.
    const std::string so_pin = th::env("P11TLS_TEST_SO_PIN"), user_pin = th::test_pin();
    EXPECT_TRUE(pkcs11_tool({"--login", "--login-type", "so", "--so-pin", so_pin.c_str(), "--init-pin",
                             "--new-pin", user_pin.c_str()}))
        << "could not set the token's user PIN back";
}
