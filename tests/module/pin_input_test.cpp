// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// tests/module/pin_input_test.cpp: PINs that must never reach the token, and
// pin-source paths that must never hang a login. Counted with the test
// module (tests/module/testmod.c, forwarding to SoftHSM): "no C_Login" is
// read from its per-pid call log. Run through tests/suites/input.*.test.
//
// Each case runs in a fresh re-executed child (nothing logged in there, so
// a login is really attempted) or a forked child; every wait is bounded.
#include <gtest/gtest.h>

#include <p11tls/p11tls.h>

#include "../support/testmod.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

namespace {

using namespace tmh;

const char kNoPinUri[] = "pkcs11:token=p11tls-test;object=p256;type=private";

// Opens uri through the test module in a new context; the open's result,
// the error detail and this process's C_Login count after it.
struct Opened {
    int rc;
    std::string detail;
    size_t logins;
};
Opened open_counted(const std::string &uri, p11tls_pin_fn fn = nullptr, void *arg = nullptr) {
    p11tls_cxx::context ctx{nullptr};
    Opened r{P11TLS_E_INTERNAL, "", 0};
    if (make_ctx(ctx, testmod_path()) != 0) return r;
    if (fn && p11tls_ctx_set_pin_fn(ctx.get(), fn, arg) != 0) return r;
    p11tls_cxx::key key;
    r.rc = p11tls_key_open(ctx.get(), uri.c_str(), 0, key.put());
    r.detail = p11tls_last_error_detail();
    r.logins = count_calls(read_log(), getpid(), "C_Login");
    return r;
}

bool write_file(const std::string &path, const std::string &text) {
    unlink(path.c_str());
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    bool ok = write(fd, text.data(), text.size()) == (ssize_t)text.size();
    return close(fd) == 0 && ok;
}

std::string scratch(const char *name) { return count_dir() + "/" + name + "." + std::to_string(getpid()); }

// ---- 1. pin-source paths that are not regular files ----------------------

struct NonRegular {
    std::string path;
    const char *word;  // what the detail must name
};

// In a forked child: the open must fail at once with P11TLS_E_PIN_SOURCE,
// say why, and make no C_Login. Exit status 0 = so; a hang is killed by
// the bounded wait and fails the test.
int open_non_regular(void *arg) {
    const NonRegular *nr = static_cast<const NonRegular *>(arg);
    Opened o = open_counted(std::string(kNoPinUri) + "?pin-source=" + nr->path);
    if (o.rc != P11TLS_E_PIN_SOURCE) return 10;
    if (o.detail.find(nr->word) == std::string::npos) return 11;
    if (o.logins != 0) return 12;
    return 0;
}

}  // namespace

TEST(PinSource, NonRegularRefusedAtOnce) {
    REQUIRE_SOFTHSM();
    const std::string fifo = scratch("pin-fifo");
    unlink(fifo.c_str());
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);  // nobody will ever write to it

    char sockdir[] = "/tmp/p11tls-sock.XXXXXX";
    ASSERT_NE(mkdtemp(sockdir), nullptr);
    const std::string sock = std::string(sockdir) + "/pin";
    int sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(sfd, 0);
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock.c_str());
    ASSERT_EQ(bind(sfd, (struct sockaddr *)&sa, sizeof sa), 0);
    ASSERT_EQ(listen(sfd, 1), 0);
    chmod(sock.c_str(), 0600);

    const NonRegular cases[] = {
        {fifo, "FIFO"}, {sock, "socket"}, {"/dev/zero", "device"}, {count_dir(), "directory"}};
    for (const NonRegular &c : cases) {
        pid_t pid = 0;
        int st = th::run_in_child(open_non_regular, const_cast<NonRegular *>(&c), 10, &pid);
        EXPECT_TRUE(exited_ok(st)) << c.path << " (" << c.word << "): " << describe(st)
                                   << " (-1: hung and was killed; 10: other code; 11: detail; 12: C_Login)";
    }
    close(sfd);
    unlink(sock.c_str());
    rmdir(sockdir);
    unlink(fifo.c_str());
}

// ---- 2. PINs that do not fit are refused, never cut ------------------------

namespace {
int fill_without_nul(void *, const char *, const char *, unsigned, char *pin, size_t size) {
    memset(pin, 'x', size);
    memcpy(pin, "1234", 4);
    return 0;
}
int give_255(void *, const char *, const char *, unsigned, char *pin, size_t size) {
    if (size < 256) return -1;
    memset(pin, 'z', 255);
    pin[255] = 0;
    return 0;
}
}  // namespace

TEST(PinTooLongChild, Refused) {
    if (!in_child("P11TLS_PIN_TOO_LONG_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    // The token's PIN followed by junk past 255 bytes: cut to 255 bytes it
    // would have been sent; refused, it costs no C_Login.
    const std::string long_pin = th::test_pin() + std::string(300, 'x');
    Opened o = open_counted(std::string(kNoPinUri) + "?pin-value=" + long_pin);
    EXPECT_EQ(o.rc, P11TLS_E_INVALID_URI) << o.detail;
    EXPECT_NE(o.detail.find("longer than 255"), std::string::npos) << o.detail;
    EXPECT_EQ(o.detail.find("xxxx"), std::string::npos) << "the PIN is in the detail";
    EXPECT_EQ(o.logins, 0u);

    const std::string file = scratch("pin-long");
    ASSERT_TRUE(write_file(file, long_pin + "\n"));
    o = open_counted(std::string(kNoPinUri) + "?pin-source=" + file);
    EXPECT_EQ(o.rc, P11TLS_E_PIN_SOURCE) << o.detail;
    EXPECT_NE(o.detail.find("longer than 255"), std::string::npos) << o.detail;
    EXPECT_EQ(o.logins, 0u);

    o = open_counted(kNoPinUri, fill_without_nul);
    EXPECT_EQ(o.rc, P11TLS_E_PIN_CANCELLED) << o.detail;
    EXPECT_NE(o.detail.find("longer than 255"), std::string::npos) << o.detail;
    EXPECT_EQ(o.logins, 0u);

    // 255 bytes fit: sent whole (a wrong PIN here), one C_Login each. Three
    // different PINs: a PIN the token refused is not sent again.
    const std::string pin255(255, 'x');
    o = open_counted(std::string(kNoPinUri) + "?pin-value=" + pin255);
    EXPECT_EQ(o.rc, P11TLS_E_PIN_INCORRECT) << o.detail;
    EXPECT_EQ(o.logins, 1u);
    ASSERT_TRUE(write_file(file, std::string(255, 'y')));
    o = open_counted(std::string(kNoPinUri) + "?pin-source=" + file);
    EXPECT_EQ(o.rc, P11TLS_E_PIN_INCORRECT) << o.detail;
    EXPECT_EQ(o.logins, 2u);
    o = open_counted(kNoPinUri, give_255);
    EXPECT_EQ(o.rc, P11TLS_E_PIN_INCORRECT) << o.detail;
    EXPECT_EQ(o.logins, 3u);
    unlink(file.c_str());
}

TEST(Pin, TooLongRefusedNotCut) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("PinTooLongChild.*", "P11TLS_PIN_TOO_LONG_CHILD", {});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// ---- 3. A PIN with a NUL byte inside is refused, never cut there ---------

TEST(PinNulChild, Refused) {
    if (!in_child("P11TLS_PIN_NUL_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    // The right PIN, a NUL, junk: cut at the NUL it logged in.
    const std::string file = scratch("pin-nul");
    ASSERT_TRUE(write_file(file, th::test_pin() + std::string("\0JUNK\n", 6)));
    Opened o = open_counted(std::string(kNoPinUri) + "?pin-source=" + file);
    EXPECT_EQ(o.rc, P11TLS_E_PIN_SOURCE) << o.detail;
    EXPECT_NE(o.detail.find("NUL"), std::string::npos) << o.detail;
    EXPECT_EQ(o.logins, 0u);
    // The same bytes as pin-value (%00) were refused before, by the URI check.
    o = open_counted(std::string(kNoPinUri) + "?pin-value=" + th::test_pin() + "%00JUNK");
    EXPECT_EQ(o.rc, P11TLS_E_INVALID_URI) << o.detail;
    EXPECT_EQ(o.logins, 0u);
    // Without the NUL the file logs in: the refusal above is the NUL's.
    ASSERT_TRUE(write_file(file, th::test_pin() + "\n"));
    o = open_counted(std::string(kNoPinUri) + "?pin-source=" + file);
    EXPECT_EQ(o.rc, 0) << o.detail;
    EXPECT_EQ(o.logins, 1u);
    unlink(file.c_str());
}

TEST(Pin, NulRefusedNotCut) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("PinNulChild.*", "P11TLS_PIN_NUL_CHILD", {});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// ---- 4. An empty PIN is no PIN: never sent -----------------------------

namespace {
int give_empty(void *arg, const char *, const char *, unsigned, char *pin, size_t) {
    ++*static_cast<int *>(arg);
    pin[0] = 0;
    return 0;
}
}  // namespace

TEST(PinEmptyChild, NoLogin) {
    if (!in_child("P11TLS_PIN_EMPTY_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    Opened o = open_counted(std::string(kNoPinUri) + "?pin-value=");
    EXPECT_EQ(o.rc, P11TLS_E_PIN_REQUIRED) << o.detail;
    EXPECT_EQ(o.logins, 0u);

    const std::string file = scratch("pin-empty");
    for (const char *text : {"", "\n", "\r\n1234\n"}) {
        ASSERT_TRUE(write_file(file, text));
        o = open_counted(std::string(kNoPinUri) + "?pin-source=" + file);
        EXPECT_EQ(o.rc, P11TLS_E_PIN_REQUIRED) << o.detail;
        EXPECT_NE(o.detail.find("no PIN given"), std::string::npos) << o.detail;
        EXPECT_EQ(o.logins, 0u) << "pin-source holding \"" << text << "\"";
    }
    unlink(file.c_str());

    int calls = 0;
    o = open_counted(kNoPinUri, give_empty, &calls);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(o.rc, P11TLS_E_PIN_CANCELLED) << o.detail;
    EXPECT_NE(o.detail.find("no PIN given"), std::string::npos) << o.detail;
    EXPECT_EQ(o.logins, 0u);
}

TEST(Pin, EmptyIsNoPin) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("PinEmptyChild.*", "P11TLS_PIN_EMPTY_CHILD", {});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// A token with a protected authentication path (flag injected by the test
// module) is still logged into with a NULL PIN, without asking anyone.
TEST(PinProtectedPathChild, LogsInWithoutPin) {
    if (!in_child("P11TLS_PIN_PROTECTED_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    Opened o = open_counted(std::string(kNoPinUri) + "?pin-value=");
    EXPECT_EQ(o.logins, 1u) << o.detail;
    int calls = 0;
    o = open_counted(kNoPinUri, give_empty, &calls);
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(o.logins, 2u) << o.detail;
}

TEST(Pin, ProtectedPathStillLogsIn) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("PinProtectedPathChild.*", "P11TLS_PIN_PROTECTED_CHILD",
                            {{"P11TLS_TESTMOD_TOKEN_FLAGS", "0x100"}});  // CKF_PROTECTED_AUTHENTICATION_PATH
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}
