// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// tests/module/countmod_test.cpp: p11tls against a counting PKCS#11 module
// (tests/module/testmod.c, which forwards to SoftHSM and appends
// "<pid> <function>" to $P11TLS_TESTMOD_COUNT_DIR/calls.log per call).
// Run through tests/suites/countmod.*.test (tests/with-token.sh).
//
// Children report only through their exit status; every wait is bounded
// (WNOHANG polling for at most 30 s, then SIGKILL).
#include <gtest/gtest.h>

#include <p11-kit/pkcs11.h>
#include <p11tls/gnutls.h>
#include <p11tls/p11tls.h>

#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "../support/testmod.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

const char kKeyUri[] = "pkcs11:token=p11tls-test;object=p256;type=private;pin-value=1234";
const char kBadPinUri[] = "pkcs11:token=p11tls-test;object=p256;type=private;pin-value=0000";

using namespace tmh;

int sign_once(p11tls_key *key) {
    static const uint8_t msg[] = "count me";
    uint8_t sig[512];
    size_t sig_len = sizeof sig;
    return p11tls_key_sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg, sizeof msg - 1, sig, &sig_len);
}

// Opened once per process (in the first test that needs it) and shared.
p11tls_key *shared_key() {
    static p11tls_cxx::context ctx{nullptr};
    static p11tls_cxx::key key;
    if (!key.get()) {
        if (make_ctx(ctx, testmod_path()) != 0) return nullptr;
        if (p11tls_key_open(ctx.get(), kKeyUri, 0, key.put()) != 0) return nullptr;
    }
    return key.get();
}

// Forked children that make no p11tls call: one exits, one execs.
int just_exit(void *) { return 0; }
int exec_true(void *) {
    execl("/bin/true", "true", (char *)nullptr);
    return 127;
}

}  // namespace

// 1. Open + sign through the counting module.
TEST(CountMod, OpenAndSign) {
    REQUIRE_SOFTHSM();
    ASSERT_FALSE(count_dir().empty());
    size_t before = read_log().size();

    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << testmod_path() << ": " << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    size_t after_open = read_log().size();
    ASSERT_EQ(sign_once(key.get()), 0) << p11tls_last_error_detail();

    auto log = read_log();
    long me = getpid();
    size_t sign_calls = count_calls(log, me, "C_Sign", after_open);
    EXPECT_GE(sign_calls, 1u);
    EXPECT_EQ(count_calls(log, me, "C_Initialize"), 1u);
    std::cout << "[ figures  ] PKCS#11 calls: open " << count_calls(log, me, nullptr, before) -
                     count_calls(log, me, nullptr, after_open)
              << " (incl. C_Initialize), sign " << count_calls(log, me, nullptr, after_open)
              << " (C_Sign " << sign_calls << "), total open+sign " << count_calls(log, me, nullptr, before)
              << std::endl;

    // A second sign with the same key: no re-login, no new lookup.
    size_t mark = log.size();
    ASSERT_EQ(sign_once(key.get()), 0) << p11tls_last_error_detail();
    log = read_log();
    EXPECT_EQ(count_calls(log, me, "C_Login", mark), 0u);
    EXPECT_EQ(count_calls(log, me, "C_FindObjectsInit", mark), 0u);
    std::cout << "[ figures  ] PKCS#11 calls for a second sign: " << count_calls(log, me, nullptr, mark)
              << std::endl;
}

// 2. A child that only _exits or execs makes no PKCS#11 call.
namespace {
// child runs in a forked child of a process that signed; what names it.
void expect_child_makes_no_call(int (*child)(void *), const char *what) {
    p11tls_key *key = shared_key();
    ASSERT_NE(key, nullptr) << p11tls_last_error_detail();
    ASSERT_EQ(sign_once(key), 0) << p11tls_last_error_detail();

    pid_t pid = 0;
    int st = run_in_child(child, nullptr, &pid);
    EXPECT_TRUE(exited_ok(st)) << describe(st);
    EXPECT_EQ(count_calls(read_log(), pid), 0u) << "calls from the " << what << " child " << pid;
    std::cout << "[ figures  ] PKCS#11 calls in the fork+" << what << " child: " << count_calls(read_log(), pid)
              << std::endl;
    // The parent still signs.
    EXPECT_EQ(sign_once(key), 0) << p11tls_last_error_detail();
}
}  // namespace

TEST(CountMod, ForkExitMakesNoCall) {
    REQUIRE_SOFTHSM();
    expect_child_makes_no_call(just_exit, "_exit");
}

TEST(CountMod, ForkExecMakesNoCall) {
    REQUIRE_SOFTHSM();
    expect_child_makes_no_call(exec_true, "exec");
}

// 3. A wrong PIN is tried exactly once (fresh process: nothing logged in).
TEST(CountModWrongPinChild, OneLogin) {
    if (!in_child("P11TLS_COUNTMOD_WRONG_PIN_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kBadPinUri, 0, key.put()), P11TLS_E_PIN_INCORRECT)
        << p11tls_last_error_detail();
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login"), 1u);
}

TEST(CountMod, WrongPinLoginOnce) {
    REQUIRE_SOFTHSM();
    pid_t child = 0;
    int st = run_exec_child("CountModWrongPinChild.*", "P11TLS_COUNTMOD_WRONG_PIN_CHILD", {}, &child);
    EXPECT_TRUE(exited_ok(st)) << describe(st);
    auto log = read_log();
    EXPECT_EQ(count_calls(log, child, "C_Login"), 1u);
    std::cout << "[ figures  ] wrong-PIN child: C_Login " << count_calls(log, child, "C_Login")
              << ", PKCS#11 calls " << count_calls(log, child) << std::endl;
}

// 4. A module whose C_Initialize fails is reported, and does not stop
//    another context from using SoftHSM directly in the same process.
namespace {
struct ModSeen {
    std::string want;
    bool found = false;
    int status = 0;
    std::string error;
};
int module_cb(void *arg, const p11tls_module_info *info) {
    ModSeen *s = static_cast<ModSeen *>(arg);
    std::string name = info->name ? info->name : "";
    std::string path = info->path ? info->path : "";
    if (name.find(s->want) != std::string::npos || path.find(s->want) != std::string::npos) {
        s->found = true;
        s->status = info->status;
        s->error = info->error ? info->error : "";
    }
    return 0;
}
}  // namespace

TEST(CountModFailInitChild, Reported) {
    if (!in_child("P11TLS_COUNTMOD_FAIL_INIT_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context bad{nullptr};
    ASSERT_EQ(make_ctx(bad, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    int rc = p11tls_key_open(bad.get(), kKeyUri, 0, key.put());
    EXPECT_TRUE(rc == P11TLS_E_TOKEN_NOT_PRESENT || rc == P11TLS_E_MODULE)
        << p11tls_strerror_name(rc) << ": " << p11tls_last_error_detail();

    ModSeen seen;
    seen.want = "libp11tls-testmod";
    EXPECT_EQ(p11tls_list_modules(bad.get(), module_cb, &seen), 0) << p11tls_last_error_detail();
    EXPECT_TRUE(seen.found);
    EXPECT_EQ(seen.status, P11TLS_E_MODULE) << p11tls_strerror_name(seen.status);
    EXPECT_NE(seen.error.find("C_Initialize"), std::string::npos) << seen.error;
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Initialize"), 1u);

    p11tls_cxx::context good{nullptr};
    ASSERT_EQ(make_ctx(good, getenv("P11TLS_SOFTHSM_MODULE")), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key2;
    ASSERT_EQ(p11tls_key_open(good.get(), kKeyUri, 0, key2.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(sign_once(key2.get()), 0) << p11tls_last_error_detail();
}

TEST(CountMod, FailInitReported) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("CountModFailInitChild.*", "P11TLS_COUNTMOD_FAIL_INIT_CHILD",
                            {{"P11TLS_TESTMOD_FAIL_INIT", "1"}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// 5. An injected CKR_DEVICE_ERROR on the 3rd C_Sign fails exactly one sign.
TEST(CountModFailSignChild, OneSignFails) {
    if (!in_child("P11TLS_COUNTMOD_FAIL_SIGN_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    int failures = 0, last_rc = 0;
    for (int i = 0; i < 4; i++) {
        int rc = sign_once(key.get());
        if (rc != 0) {
            failures++;
            last_rc = rc;
        }
    }
    EXPECT_EQ(failures, 1);
    EXPECT_EQ(last_rc, P11TLS_E_DEVICE) << p11tls_strerror_name(last_rc);
}

TEST(CountMod, InjectedSignFailure) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("CountModFailSignChild.*", "P11TLS_COUNTMOD_FAIL_SIGN_CHILD",
                            {{"P11TLS_TESTMOD_FAIL", "C_Sign:3:0x30"}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// 6. A token pulled mid-operation (CKR_TOKEN_NOT_PRESENT or CKR_DEVICE_REMOVED
//    injected at the 2nd C_Sign; the module also closes every session, so the
//    login is gone as after a real removal): that sign is
//    P11TLS_E_TOKEN_NOT_PRESENT and is not retried; the token is back at once,
//    and the same key object signs again: rebound to the returned token,
//    logged in again (once, with the URI's PIN).
TEST(CountModPulledChild, SameKeyWorksAgain) {
    if (!in_child("P11TLS_COUNTMOD_PULLED_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(sign_once(key.get()), 0) << p11tls_last_error_detail();
    size_t before = read_log().size();
    EXPECT_EQ(sign_once(key.get()), P11TLS_E_TOKEN_NOT_PRESENT) << p11tls_last_error_detail();
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Sign", before), 1u) << "a pulled token is not retried";
    for (int i = 0; i < 3; i++) EXPECT_EQ(sign_once(key.get()), 0) << i << ": " << p11tls_last_error_detail();
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login", before), 1u);
}

TEST(CountMod, PulledTokenReturns) {
    REQUIRE_SOFTHSM();
    for (const char *rv : {"0xE0", "0x32"}) {  // CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_REMOVED
        std::string rule = std::string("C_Sign:2:") + rv;
        int st = run_exec_child("CountModPulledChild.*", "P11TLS_COUNTMOD_PULLED_CHILD",
                                {{"P11TLS_TESTMOD_FAIL", rule}});
        EXPECT_TRUE(exited_ok(st)) << rv << ": " << describe(st);
    }
}

// 7. CKR_SESSION_HANDLE_INVALID mid-operation is retried once on a fresh
//    session: one injected failure is invisible; two in a row fail the
//    operation after exactly two C_Sign calls, never a third.
TEST(CountModSessionRetryChild, RetriedOnce) {
    if (!in_child("P11TLS_COUNTMOD_RETRY_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const bool twice = getenv("P11TLS_COUNTMOD_RETRY_TWICE") != nullptr;
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(sign_once(key.get()), 0) << p11tls_last_error_detail();
    size_t before = read_log().size();
    int rc = sign_once(key.get());  // C_Sign #2 (and #3) fail
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Sign", before), 2u);
    if (twice)
        EXPECT_EQ(rc, P11TLS_E_DEVICE) << p11tls_strerror_name(rc);
    else
        EXPECT_EQ(rc, 0) << p11tls_last_error_detail();
    EXPECT_EQ(sign_once(key.get()), 0) << p11tls_last_error_detail();
}

TEST(CountMod, SessionInvalidRetriedOnce) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("CountModSessionRetryChild.*", "P11TLS_COUNTMOD_RETRY_CHILD",
                            {{"P11TLS_TESTMOD_FAIL", "C_Sign:2:0xB3"}});
    EXPECT_TRUE(exited_ok(st)) << "once: " << describe(st);
    st = run_exec_child("CountModSessionRetryChild.*", "P11TLS_COUNTMOD_RETRY_CHILD",
                        {{"P11TLS_TESTMOD_FAIL", "C_Sign:2:0xB3:2"}, {"P11TLS_COUNTMOD_RETRY_TWICE", "1"}});
    EXPECT_TRUE(exited_ok(st)) << "twice: " << describe(st);
}

// 8. PIN counter flags, injected by the test module into C_GetTokenInfo
//    (P11TLS_TESTMOD_TOKEN_FLAGS): SoftHSM never sets them. Each case runs
//    in a fresh re-executed child, where nothing is logged in yet.
namespace {
struct FinalTryPin {
    int calls = 0;
    unsigned flags = 0;
};
int final_try_pin_fn(void *arg, const char *, const char *, unsigned flags, char *pin, size_t size) {
    auto *s = static_cast<FinalTryPin *>(arg);
    ++s->calls;
    s->flags = flags;
    snprintf(pin, size, "%s", th::test_pin().c_str());
    return 0;
}
}  // namespace

// A locked user PIN: P11TLS_E_PIN_LOCKED without a single C_Login, whatever
// the URI offers.
TEST(CountModLockedChild, NoLogin) {
    if (!in_child("P11TLS_COUNTMOD_LOCKED_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 0, key.put()), P11TLS_E_PIN_LOCKED) << p11tls_last_error_detail();
    EXPECT_EQ(key.get(), nullptr);
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login"), 0u);
}

TEST(CountMod, LockedPinNoLogin) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("CountModLockedChild.*", "P11TLS_COUNTMOD_LOCKED_CHILD",
                            {{"P11TLS_TESTMOD_TOKEN_FLAGS", std::to_string(CKF_USER_PIN_LOCKED)}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// A module that cannot list its slots: the open fails with
// P11TLS_E_TOKEN_NOT_PRESENT, and the detail names the module's error
// rather than only "no token matches".
TEST(CountModSlotListChild, ErrorNamed) {
    if (!in_child("P11TLS_COUNTMOD_SLOTLIST_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 0, key.put()), P11TLS_E_TOKEN_NOT_PRESENT);
    std::string detail = p11tls_last_error_detail();
    EXPECT_NE(detail.find("C_GetSlotList: CKR_DEVICE_ERROR"), std::string::npos) << detail;
}

TEST(CountMod, SlotListFailureNamed) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("CountModSlotListChild.*", "P11TLS_COUNTMOD_SLOTLIST_CHILD",
                            {{"P11TLS_TESTMOD_FAIL", "C_GetSlotList:1:0x30:1000"}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// On the final PIN try, a PIN from the URI (pin-value or pin-source) is not
// used: without a PIN function P11TLS_E_PIN_REQUIRED and no C_Login; with
// one, only its PIN is tried, once, and it is told P11TLS_PIN_FINAL_TRY.
TEST(CountModFinalTryChild, OnlyThePinFunction) {
    if (!in_child("P11TLS_COUNTMOD_FINAL_TRY_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const std::string pin_file = count_dir() + "/pin";
    {
        std::ofstream out(pin_file);
        out << th::test_pin() << "\n";
    }
    ASSERT_EQ(chmod(pin_file.c_str(), 0600), 0);
    const std::string source_uri = "pkcs11:token=p11tls-test;object=p256;type=private?pin-source=" + pin_file;
    {
        p11tls_cxx::context ctx{nullptr};
        ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
        p11tls_cxx::key k1, k2;
        EXPECT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 0, k1.put()), P11TLS_E_PIN_REQUIRED) << p11tls_last_error_detail();
        EXPECT_EQ(p11tls_key_open(ctx.get(), source_uri.c_str(), 0, k2.put()), P11TLS_E_PIN_REQUIRED)
            << p11tls_last_error_detail();
        EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login"), 0u);
    }
    // The URI's PIN is wrong here: had it been tried, the open would fail.
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    FinalTryPin fp;
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), final_try_pin_fn, &fp), 0);
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kBadPinUri, 0, key.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(fp.calls, 1);
    EXPECT_TRUE(fp.flags & P11TLS_PIN_FINAL_TRY) << fp.flags;
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login"), 1u);
    unlink(pin_file.c_str());
}

TEST(CountMod, FinalTryOnlyPinFunction) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("CountModFinalTryChild.*", "P11TLS_COUNTMOD_FINAL_TRY_CHILD",
                            {{"P11TLS_TESTMOD_TOKEN_FLAGS", std::to_string(CKF_USER_PIN_FINAL_TRY)}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// 9. P11TLS_KEY_OPEN_VERIFY_PIN: proves the PIN although the token is logged
//    in already (logout + one C_Login); a wrong PIN fails with one C_Login
//    (without the flag: at once, with none),
//    and the other key on the token logs in again on its next operation,
//    with its own PIN.
TEST(CountModVerifyPinChild, Checked) {
    if (!in_child("P11TLS_COUNTMOD_VERIFY_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const char kWrong[] = "pkcs11:token=p11tls-test;object=p256;type=private;pin-value=0000";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key held;
    ASSERT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 0, held.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(sign_once(held.get()), 0);
    const long me = getpid();

    size_t mark = read_log().size();
    p11tls_cxx::key plain;
    // Logged in with another PIN: refused, compared with the login's PIN
    // without a module call (doc/security.md, "A PIN given to a logged-in
    // token"), so it costs the token no try.
    EXPECT_EQ(p11tls_key_open(ctx.get(), kWrong, 0, plain.put()), P11TLS_E_PIN_INCORRECT);
    EXPECT_EQ(count_calls(read_log(), me, "C_Login", mark), 0u);
    EXPECT_EQ(count_calls(read_log(), me, "C_Logout", mark), 0u);

    mark = read_log().size();
    p11tls_cxx::key v;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kWrong, P11TLS_KEY_OPEN_VERIFY_PIN, v.put()), P11TLS_E_PIN_INCORRECT);
    auto log = read_log();
    EXPECT_EQ(count_calls(log, me, "C_Logout", mark), 1u);
    EXPECT_EQ(count_calls(log, me, "C_Login", mark), 1u);

    mark = read_log().size();
    EXPECT_EQ(sign_once(held.get()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(count_calls(read_log(), me, "C_Login", mark), 1u) << "the held key logs in again, once";

    mark = read_log().size();
    EXPECT_EQ(p11tls_key_open(ctx.get(), kKeyUri, P11TLS_KEY_OPEN_VERIFY_PIN, v.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(count_calls(read_log(), me, "C_Login", mark), 1u);
    EXPECT_EQ(sign_once(v.get()), 0);
    EXPECT_EQ(sign_once(held.get()), 0);
    p11tls_cxx::key bad;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 2u, bad.put()), P11TLS_E_INVALID_ARGUMENT);
}

TEST(CountMod, VerifyPinFlag) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("CountModVerifyPinChild.*", "P11TLS_COUNTMOD_VERIFY_CHILD", {});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// 10. What the PIN function is told. A refused PIN is not retried by
//     p11tls; the next request for that token tells the PIN function that
//     the previous PIN was refused (P11TLS_PIN_WRONG).
namespace {
const char kNoPinUri[] = "pkcs11:token=p11tls-test;object=p256;type=private";

struct PinScript {
    std::vector<std::string> pins;  // returned in turn
    std::vector<unsigned> flags;    // flags of each call
};
int script_pin_fn(void *arg, const char *, const char *, unsigned flags, char *pin, size_t size) {
    auto *s = static_cast<PinScript *>(arg);
    size_t i = s->flags.size();
    s->flags.push_back(flags);
    if (i >= s->pins.size()) return -1;
    snprintf(pin, size, "%s", s->pins[i].c_str());
    return 0;
}
}  // namespace

TEST(CountModPinWrongChild, ToldOnNextRequest) {
    if (!in_child("P11TLS_COUNTMOD_PIN_WRONG_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    PinScript ps;
    ps.pins = {"0000", th::test_pin()};
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), script_pin_fn, &ps), 0);
    const long me = getpid();

    p11tls_cxx::key k1;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kNoPinUri, 0, k1.put()), P11TLS_E_PIN_INCORRECT) << p11tls_last_error_detail();
    ASSERT_EQ(ps.flags.size(), 1u) << "p11tls asked again by itself";
    EXPECT_FALSE(ps.flags[0] & P11TLS_PIN_WRONG) << ps.flags[0];
    EXPECT_EQ(count_calls(read_log(), me, "C_Login"), 1u);

    p11tls_cxx::key k2;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kNoPinUri, 0, k2.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(ps.flags.size(), 2u);
    EXPECT_TRUE(ps.flags[1] & P11TLS_PIN_WRONG) << ps.flags[1];
    EXPECT_FALSE(ps.flags[1] & P11TLS_PIN_FINAL_TRY) << ps.flags[1];
    EXPECT_EQ(count_calls(read_log(), me, "C_Login"), 2u);
    EXPECT_EQ(sign_once(k2.get()), 0) << p11tls_last_error_detail();
    std::cout << "[ figures  ] PIN function flags: first request 0x" << std::hex << ps.flags[0]
              << ", after a refused PIN 0x" << ps.flags[1] << std::dec
              << " (P11TLS_PIN_COUNT_LOW = 0x2 comes from SoftHSM's own CKF_USER_PIN_COUNT_LOW)" << std::endl;
}

TEST(CountMod, PinWrongToldOnNextRequest) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("CountModPinWrongChild.*", "P11TLS_COUNTMOD_PIN_WRONG_CHILD", {});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// CKF_USER_PIN_COUNT_LOW (injected: the token has not refused a PIN in this
// process) reaches the PIN function as P11TLS_PIN_COUNT_LOW alone; unlike
// the final try it does not stop a URI's PIN from being used.
TEST(CountModCountLowChild, Told) {
    if (!in_child("P11TLS_COUNTMOD_COUNT_LOW_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    PinScript ps;
    ps.pins = {th::test_pin()};
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), script_pin_fn, &ps), 0);
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kNoPinUri, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(ps.flags.size(), 1u);
    EXPECT_EQ(ps.flags[0], P11TLS_PIN_COUNT_LOW);
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login"), 1u);
}

TEST(CountModCountLowUriChild, UriPinStillUsed) {
    if (!in_child("P11TLS_COUNTMOD_COUNT_LOW_URI_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    PinScript ps;
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), script_pin_fn, &ps), 0);
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    EXPECT_TRUE(ps.flags.empty());
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login"), 1u);
}

TEST(CountMod, PinCountLowTold) {
    REQUIRE_SOFTHSM();
    const std::string flags = std::to_string(CKF_USER_PIN_COUNT_LOW);
    int st = run_exec_child("CountModCountLowChild.*", "P11TLS_COUNTMOD_COUNT_LOW_CHILD",
                            {{"P11TLS_TESTMOD_TOKEN_FLAGS", flags}});
    EXPECT_TRUE(exited_ok(st)) << "PIN function: " << describe(st);
    st = run_exec_child("CountModCountLowUriChild.*", "P11TLS_COUNTMOD_COUNT_LOW_URI_CHILD",
                        {{"P11TLS_TESTMOD_TOKEN_FLAGS", flags}});
    EXPECT_TRUE(exited_ok(st)) << "URI PIN: " << describe(st);
}

// 11. Only the first line of a pin-source file is the PIN: a wrong first
//     line fails after exactly one C_Login (the right PIN on the second line
//     is never tried); a right first line logs in whatever follows it.
TEST(CountModPinSourceLineChild, FirstLineOnly) {
    if (!in_child("P11TLS_COUNTMOD_PIN_SOURCE_LINE_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const std::string file = count_dir() + "/pin-lines." + std::to_string(getpid());
    const std::string uri = std::string(kNoPinUri) + "?pin-source=" + file;
    auto write_pin_file = [&](const std::string &text) {
        std::ofstream out(file, std::ios::trunc);
        out << text;
        out.close();
        return chmod(file.c_str(), 0600) == 0;
    };
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    const long me = getpid();

    ASSERT_TRUE(write_pin_file("0000\n" + th::test_pin() + "\n"));
    p11tls_cxx::key bad;
    EXPECT_EQ(p11tls_key_open(ctx.get(), uri.c_str(), 0, bad.put()), P11TLS_E_PIN_INCORRECT) << p11tls_last_error_detail();
    EXPECT_EQ(count_calls(read_log(), me, "C_Login"), 1u);

    ASSERT_TRUE(write_pin_file(th::test_pin() + "\nGARBAGE"));
    p11tls_cxx::key good;
    EXPECT_EQ(p11tls_key_open(ctx.get(), uri.c_str(), 0, good.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(count_calls(read_log(), me, "C_Login"), 2u);
    EXPECT_EQ(sign_once(good.get()), 0) << p11tls_last_error_detail();
    unlink(file.c_str());
}

TEST(CountMod, PinSourceFirstLineOnly) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("CountModPinSourceLineChild.*", "P11TLS_COUNTMOD_PIN_SOURCE_LINE_CHILD", {});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// 12. Context-specific login (CKA_ALWAYS_AUTHENTICATE). SoftHSM 2.6.1
//     supports it: a key generated with the attribute set needs a
//     CKU_CONTEXT_SPECIFIC C_Login after each C_SignInit. The key is made
//     in this run's private token copy with pkcs11-tool --always-auth.
namespace {
const char kAlwaysAuthLabel[] = "always-auth";
const char kAlwaysAuthUri[] = "pkcs11:token=p11tls-test;object=always-auth;type=private";

bool run_tool(const std::vector<std::string> &args) {
    std::vector<const char *> argv;
    for (auto &a : args) argv.push_back(a.c_str());
    return th::run_quietly(argv, 30);
}

// Made once per process; the token copy is private to this run.
bool make_always_auth_key() {
    static int made = -1;
    if (made < 0)
        made = run_tool({"pkcs11-tool", "--module", getenv("P11TLS_SOFTHSM_MODULE"), "--token-label",
                         "p11tls-test", "--login", "--pin", th::test_pin(), "--keypairgen",
                         "--key-type", "EC:prime256v1", "--label", kAlwaysAuthLabel, "--id", "a1",
                         "--usage-sign", "--always-auth"});
    return made == 1;
}

// 0 if sig is key's ECDSA P-256 signature of msg (checked with the public
// key p11tls recorded at open).
int verify_with_key(p11tls_key *key, const char *msg, const std::vector<unsigned char> &sig) {
    uint8_t *der = nullptr;
    size_t len = 0;
    if (p11tls_key_get_spki(key, &der, &len) != 0) return -1;
    gnutls_pubkey_t pk;
    gnutls_pubkey_init(&pk);
    gnutls_datum_t d = {der, (unsigned)len};
    int rc = gnutls_pubkey_import(pk, &d, GNUTLS_X509_FMT_DER);
    if (rc >= 0) {
        gnutls_datum_t m = {(unsigned char *)msg, (unsigned)strlen(msg)};
        gnutls_datum_t s = {(unsigned char *)sig.data(), (unsigned)sig.size()};
        rc = gnutls_pubkey_verify_data2(pk, GNUTLS_SIGN_ECDSA_SHA256, 0, &m, &s);
    }
    gnutls_pubkey_deinit(pk);
    p11tls_free(der);
    return rc < 0 ? rc : 0;
}
}  // namespace

// The PIN function is asked once for the login and once per signature, the
// latter with P11TLS_PIN_CONTEXT_SPECIFIC; each signature costs one
// context-specific C_Login and verifies.
TEST(CountModAlwaysAuthChild, PinPerSignature) {
    if (!in_child("P11TLS_COUNTMOD_ALWAYS_AUTH_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    PinScript ps;
    ps.pins.assign(8, th::test_pin());
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), script_pin_fn, &ps), 0);
    const long me = getpid();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), kAlwaysAuthUri, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(ps.flags.size(), 1u);
    EXPECT_FALSE(ps.flags[0] & P11TLS_PIN_CONTEXT_SPECIFIC) << ps.flags[0];
    EXPECT_EQ(count_calls(read_log(), me, "C_Login"), 1u);
    for (int i = 0; i < 2; i++) {
        const char msg[] = "context-specific";
        std::vector<unsigned char> sig;
        ASSERT_EQ(th::sign(key.get(), P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg, strlen(msg), sig), 0)
            << i << ": " << p11tls_last_error_detail();
        EXPECT_EQ(verify_with_key(key.get(), msg, sig), 0) << i;
    }
    // th::sign asks for the size first (no module call), then signs: two
    // signatures, two context-specific logins.
    ASSERT_EQ(ps.flags.size(), 3u);
    EXPECT_TRUE(ps.flags[1] & P11TLS_PIN_CONTEXT_SPECIFIC) << ps.flags[1];
    EXPECT_TRUE(ps.flags[2] & P11TLS_PIN_CONTEXT_SPECIFIC) << ps.flags[2];
    EXPECT_EQ(count_calls(read_log(), me, "C_Login"), 3u);

    // The PIN function declining gives P11TLS_E_PIN_CANCELLED, and the key
    // works again afterwards (the pending operation's session is dropped).
    ps.pins.resize(ps.flags.size());
    EXPECT_EQ(sign_once(key.get()), P11TLS_E_PIN_CANCELLED) << p11tls_last_error_detail();
    ps.pins.resize(8, th::test_pin());
    EXPECT_EQ(sign_once(key.get()), 0) << p11tls_last_error_detail();
}

// A locked PIN: P11TLS_E_PIN_LOCKED at signing, without calling the PIN
// function and without any C_Login. The token was logged in before the
// lock (here by the test itself, straight through SoftHSM, which the test
// module forwards to: one login state), so the key opens without a PIN.
TEST(CountModAlwaysAuthLockedChild, NoLogin) {
    if (!in_child("P11TLS_COUNTMOD_ALWAYS_AUTH_LOCKED_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    void *h = dlopen(getenv("P11TLS_SOFTHSM_MODULE"), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(h, nullptr) << dlerror();
    auto gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
    ASSERT_NE(gfl, nullptr);
    CK_FUNCTION_LIST *f = nullptr;
    ASSERT_EQ(gfl(&f), CKR_OK);
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    ASSERT_EQ(f->C_Initialize(&args), CKR_OK);
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    ASSERT_EQ(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    bool logged_in = false;
    for (CK_ULONG i = 0; i < n && !logged_in; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || memcmp(ti.label, "p11tls-test ", 12) != 0) continue;
        CK_SESSION_HANDLE s;
        ASSERT_EQ(f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, nullptr, nullptr, &s), CKR_OK);
        std::string pin = th::test_pin();
        ASSERT_EQ(f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin.data(), pin.size()), CKR_OK);
        logged_in = true;  // the session stays open: it keeps the login
    }
    ASSERT_TRUE(logged_in);

    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    PinScript ps;
    ps.pins.assign(4, th::test_pin());
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), script_pin_fn, &ps), 0);
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), kAlwaysAuthUri, 0, key.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(sign_once(key.get()), P11TLS_E_PIN_LOCKED) << p11tls_last_error_detail();
    EXPECT_TRUE(ps.flags.empty());
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login"), 0u);
}

// A context-specific C_Login answered CKR_USER_ALREADY_LOGGED_IN (injected
// by the test module for the second C_Login, the first signature's): the
// login is in effect, so the signature goes on. SoftHSM was not logged in
// for the operation and refuses C_Sign; p11tls finds the key again and
// logs in for it once more. Whatever the call returns, 0 comes with a
// signature that verifies (it used to be 0 with none written, from the
// table entry that mapped the code to P11TLS_E_SUCCESS).
TEST(CountModAlreadyLoggedInChild, SignatureOrError) {
    if (!in_child("P11TLS_COUNTMOD_ALREADY_LOGGED_IN_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    PinScript ps;
    ps.pins.assign(8, th::test_pin());
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), script_pin_fn, &ps), 0);
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), kAlwaysAuthUri, 0, key.put()), 0) << p11tls_last_error_detail();
    const char msg[] = "already logged in";
    std::vector<unsigned char> sig;
    int rc = th::sign(key.get(), P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg, strlen(msg), sig);
    EXPECT_LE(rc, 0);
    if (rc == 0) {
        EXPECT_EQ(verify_with_key(key.get(), msg, sig), 0) << "0 returned without a valid signature";
    }
    EXPECT_EQ(rc, 0) << p11tls_last_error_detail();
}

TEST(CountMod, ContextSpecificLogin) {
    REQUIRE_SOFTHSM();
    ASSERT_TRUE(make_always_auth_key()) << "pkcs11-tool --keypairgen --always-auth failed";
    int st = run_exec_child("CountModAlwaysAuthChild.*", "P11TLS_COUNTMOD_ALWAYS_AUTH_CHILD", {});
    EXPECT_TRUE(exited_ok(st)) << "PIN per signature: " << describe(st);
    st = run_exec_child("CountModAlwaysAuthLockedChild.*", "P11TLS_COUNTMOD_ALWAYS_AUTH_LOCKED_CHILD",
                        {{"P11TLS_TESTMOD_TOKEN_FLAGS", std::to_string(CKF_USER_PIN_LOCKED)}});
    EXPECT_TRUE(exited_ok(st)) << "locked: " << describe(st);
    st = run_exec_child("CountModAlreadyLoggedInChild.*", "P11TLS_COUNTMOD_ALREADY_LOGGED_IN_CHILD",
                        {{"P11TLS_TESTMOD_FAIL", "C_Login:2:0x100"}});
    EXPECT_TRUE(exited_ok(st)) << "CKR_USER_ALREADY_LOGGED_IN: " << describe(st);
}

// 13. A trust list answers the issuer lookup from memory, misses too: a
// certificate of an issuer the tokens do not have costs no token search,
// the first time or later (tests/trust/make-pki.sh's other-leaf; its
// issuer is on no token).
TEST(CountMod, TrustListMissAnsweredFromMemory) {
    REQUIRE_SOFTHSM();
    const char *src = getenv("srcdir");
    const std::string dir = th::test_dir() + "/countmod-pki";
    const std::string make = std::string("bash '") + (src && *src ? src : ".") +
                             "/tests/trust/make-pki.sh' '" + dir + "' >/dev/null 2>&1";
    ASSERT_EQ(system(make.c_str()), 0);
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    gnutls_x509_trust_list_t list;
    ASSERT_GE(gnutls_x509_trust_list_init(&list, 0), 0);
    ASSERT_GE(p11tls_gnutls_trust_list_add(list, ctx.get(), "pkcs11:token=p11tls-test", 0), 0)
        << p11tls_last_error_detail();
    gnutls_datum_t pem = {nullptr, 0};
    ASSERT_GE(gnutls_load_file((dir + "/other-leaf.pem").c_str(), &pem), 0);
    gnutls_x509_crt_t crt;
    gnutls_x509_crt_init(&crt);
    ASSERT_GE(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM), 0);
    gnutls_free(pem.data);
    size_t mark = read_log().size();
    for (int i = 0; i < 3; i++) {
        unsigned status = 0;
        ASSERT_GE(gnutls_x509_trust_list_verify_crt2(list, &crt, 1, nullptr, 0, 0, &status, nullptr), 0);
        EXPECT_NE(status & GNUTLS_CERT_SIGNER_NOT_FOUND, 0u);
    }
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_FindObjectsInit", mark), 0u)
        << "a token search inside a verification";
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_trust_list_deinit(list, 1);
}
