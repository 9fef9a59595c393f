// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// tests/module/badmod_test.cpp: p11tls among bad modules, and a SoftHSM
// token whose directory disappears under an open key. Run through
// tests/suites/badmod.*.test (tests/with-token.sh).
//
// Each case runs in a re-executed child (a fresh process: the cases load
// module copies and break SoftHSM's in-memory state for good), which
// reports only through its exit status; every wait is bounded (30 s, then
// SIGKILL).
#include <gtest/gtest.h>

#include <p11tls/p11tls.h>

#include "../support/testmod.hpp"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

const int kWaitSeconds = 30;
const char kMsg[] = "bad modules";

using th::in_child;
using tmh::testmod_path;

bool copy_file(const std::string &from, const std::string &to) {
    std::ifstream in(from, std::ios::binary);
    std::ofstream out(to, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
    return in && out.good();
}

bool write_text(const std::string &path, const std::string &text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    return out.good();
}

// Module files for one process, under $P11TLS_TEST_DIR/badmod.
struct BadModules {
    std::string good;     // SoftHSM itself
    std::string failinit; // a testmod copy whose C_Initialize fails
    std::string missing;  // a path with no file
    std::string random;   // a testmod copy failing 30% of its calls
};

// Copies, not symlinks: the dynamic linker shares one instance of a file
// however it is named, and each module here needs its own (its own
// configuration, its own C_Initialize). The random module forwards to a
// copy of libsofthsm2.so for the same reason: forwarding to the SoftHSM
// file that the good module is would C_Initialize (and one day
// C_Finalize) that same instance twice. Both instances read the same
// SOFTHSM2_CONF, so both show the token p11tls-test; the URIs pick their
// module with module-path.
bool make_bad_modules(BadModules &b) {
    const std::string dir = th::test_dir() + "/badmod";
    for (const char *sub : {"", "/softhsm-copy", "/failinit", "/random"})
        if (mkdir((dir + sub).c_str(), 0700) != 0 && errno != EEXIST) return false;
    const std::string softhsm_copy = dir + "/softhsm-copy/libsofthsm2.so";
    b.good = th::env("P11TLS_SOFTHSM_MODULE");
    b.failinit = dir + "/failinit/libp11tls-testmod.so";
    b.missing = dir + "/missing/libnothing.so";
    b.random = dir + "/random/libp11tls-testmod.so";
    return copy_file(b.good, softhsm_copy) && copy_file(testmod_path(), b.failinit) &&
           copy_file(testmod_path(), b.random) &&
           write_text(b.failinit + ".env", "P11TLS_TESTMOD_FAIL_INIT=1\n") &&
           write_text(b.random + ".env", "P11TLS_TESTMOD_RANDOM_FAIL=300:20261123\n"
                                         "P11TLS_SOFTHSM_MODULE=" + softhsm_copy + "\n");
}

// Makes ctx a new context that sees only the modules at paths: 0, or the
// first failure's code.
int only_modules(p11tls_cxx::context &ctx, std::initializer_list<std::string> paths) {
    int rc = p11tls_ctx_new(ctx.put());
    if (!rc) rc = p11tls_ctx_set_flags(ctx.get(), P11TLS_CTX_NO_REGISTERED_MODULES);
    for (auto p = paths.begin(); !rc && p != paths.end(); ++p) rc = p11tls_ctx_add_module(ctx.get(), p->c_str());
    return rc;
}

// The bad modules' files, and ctx seeing the good module and the one whose
// C_Initialize fails (which adds without error: it fails when used).
testing::AssertionResult good_and_failinit(BadModules &b, p11tls_cxx::context &ctx) {
    if (!make_bad_modules(b))
        return testing::AssertionFailure() << "cannot copy the modules to " << th::test_dir() << "/badmod";
    if (int rc = only_modules(ctx, {b.good, b.failinit}))
        return testing::AssertionFailure() << p11tls_strerror_name(rc) << ": " << p11tls_last_error_detail();
    return testing::AssertionSuccess();
}

std::string key_uri_in(const std::string &module) {
    return th::key_uri("p256") + "?module-path=" + module;
}

// 0 if the signature verifies against p256's certificate.
int sign_verified(p11tls_key *key) {
    std::vector<unsigned char> sig;
    int rc = th::sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, kMsg, sizeof kMsg - 1, sig);
    if (rc != 0) return rc;
    return th::verify_data("p256", GNUTLS_SIGN_ECDSA_SHA256, kMsg, sizeof kMsg - 1, sig.data(),
                           sig.size()) >= 0
               ? 0
               : 1;  // positive: a signature that does not verify
}

// What a failing module may make p11tls return: its own codes for a device
// error or a missing token/key/module, each with a detail. Never
// P11TLS_E_INTERNAL, a bad-argument code, a key mismatch, or a crash.
bool clean_failure(int rc) {
    return rc == P11TLS_E_DEVICE || rc == P11TLS_E_TOKEN_NOT_PRESENT || rc == P11TLS_E_NOT_FOUND ||
           rc == P11TLS_E_MODULE;
}

struct Tally {
    int ok = 0;
    int bad_signature = 0;
    std::map<int, int> failures;  // code -> count
    std::vector<std::string> unclean;

    void add(int rc) {
        if (rc == 0) ok++;
        else if (rc > 0) bad_signature++;
        else {
            failures[rc]++;
            std::string detail = p11tls_last_error_detail();
            if (!clean_failure(rc) || detail.empty())
                unclean.push_back(std::string(p11tls_strerror_name(rc)) + ": " + detail);
        }
    }
    std::string str() const {
        std::ostringstream o;
        o << ok << " ok";
        for (auto &f : failures) o << ", " << f.second << " " << p11tls_strerror_name(f.first);
        if (bad_signature) o << ", " << bad_signature << " NOT VERIFYING";
        return o.str();
    }
};

struct ModSeen {
    int status = 1;  // 1: not listed
    std::string error;
};

int module_cb(void *arg, const p11tls_module_info *info) {
    auto *seen = static_cast<std::map<std::string, ModSeen> *>(arg);
    std::string key = info->path ? info->path : (info->name ? info->name : "");
    (*seen)[key] = {info->status, info->error ? info->error : ""};
    return 0;
}

}  // namespace

// One context holding a good module, a module whose C_Initialize fails, a
// module path with no file and a module failing 30% of its calls at random.
TEST(BadModChild, MixedModules) {
    if (!in_child("P11TLS_BADMOD_MIXED_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    BadModules b;
    p11tls_cxx::context ctx{nullptr};
    ASSERT_TRUE(good_and_failinit(b, ctx));
    EXPECT_EQ(p11tls_ctx_add_module(ctx.get(), b.missing.c_str()), P11TLS_E_MODULE);
    EXPECT_NE(std::string(p11tls_last_error_detail()).find(b.missing), std::string::npos)
        << p11tls_last_error_detail();
    ASSERT_EQ(p11tls_ctx_add_module(ctx.get(), b.random.c_str()), 0) << p11tls_last_error_detail();

    // The good module's key, before anything else touches the bad ones.
    p11tls_cxx::key good;
    ASSERT_EQ(p11tls_key_open(ctx.get(), key_uri_in(b.good).c_str(), 0, good.put()), 0)
        << p11tls_last_error_detail();

    // The module that fails C_Initialize: its key is not there, cleanly.
    p11tls_cxx::key none;
    EXPECT_EQ(p11tls_key_open(ctx.get(), key_uri_in(b.failinit).c_str(), 0, none.put()),
              P11TLS_E_TOKEN_NOT_PRESENT)
        << p11tls_last_error_detail();
    EXPECT_EQ(none.get(), nullptr);

    // The random module: open until 20 keys are open. Every failure is
    // clean, and every key that opens has the right public key.
    const std::vector<unsigned char> spki = th::cert_spki("p256");
    ASSERT_FALSE(spki.empty());
    Tally opens;
    p11tls_cxx::key rnd;
    int opened = 0, wrong_spki = 0;
    for (int i = 0; i < 5000 && opened < 20; i++) {
        p11tls_cxx::key k;
        int rc = p11tls_key_open(ctx.get(), key_uri_in(b.random).c_str(), 0, k.put());
        opens.add(rc);
        if (rc != 0) {
            EXPECT_EQ(k.get(), nullptr);
            k.release();  // what a failed open left there (checked above) is not freed
        } else {
            opened++;
            uint8_t *der = nullptr;
            size_t len = 0;
            ASSERT_EQ(p11tls_key_get_spki(k.get(), &der, &len), 0);
            if (std::vector<unsigned char>(der, der + len) != spki) wrong_spki++;
            p11tls_free(der);
            if (!rnd) rnd = std::move(k);
        }
        ASSERT_EQ(sign_verified(good.get()), 0) << "good key, after random open " << i << ": "
                                                << p11tls_last_error_detail();
    }
    ASSERT_NE(rnd.get(), nullptr) << "random module: no open succeeded: " << opens.str();
    EXPECT_EQ(opened, 20) << opens.str();
    EXPECT_EQ(wrong_spki, 0);
    EXPECT_TRUE(opens.unclean.empty()) << opens.unclean.front();

    // Signing with the random module's key, interleaved with the good key.
    Tally signs;
    for (int i = 0; i < 300; i++) {
        signs.add(sign_verified(rnd.get()));
        ASSERT_EQ(sign_verified(good.get()), 0) << "good key, after random sign " << i << ": "
                                                << p11tls_last_error_detail();
    }
    EXPECT_EQ(signs.bad_signature, 0);
    EXPECT_TRUE(signs.unclean.empty()) << signs.unclean.front();
    EXPECT_GT(signs.ok, 0) << signs.str();
    EXPECT_FALSE(signs.failures.empty()) << "the random module never failed: " << signs.str();

    // The same from two threads at once, each with both keys (the test
    // module's generator is shared by the threads).
    Tally per_thread[2];
    std::atomic<int> good_failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; t++)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 100; i++) {
                per_thread[t].add(sign_verified(rnd.get()));
                if (sign_verified(good.get()) != 0) good_failures++;
            }
        });
    for (auto &t : threads) t.join();
    EXPECT_EQ(good_failures.load(), 0);
    for (auto &t : per_thread) {
        EXPECT_EQ(t.bad_signature, 0);
        EXPECT_TRUE(t.unclean.empty()) << t.unclean.front();
    }

    // Every module is listed with what happened to it.
    std::map<std::string, ModSeen> seen;
    ASSERT_EQ(p11tls_list_modules(ctx.get(), module_cb, &seen), 0) << p11tls_last_error_detail();
    EXPECT_EQ(seen[b.good].status, 0);
    EXPECT_EQ(seen[b.random].status, 0) << "C_Initialize never fails at random";
    EXPECT_EQ(seen[b.failinit].status, P11TLS_E_MODULE);
    EXPECT_NE(seen[b.failinit].error.find("C_Initialize: CKR_GENERAL_ERROR"), std::string::npos)
        << seen[b.failinit].error;
    EXPECT_NE(seen[b.failinit].error.find(b.failinit), std::string::npos) << seen[b.failinit].error;
    EXPECT_EQ(seen[b.missing].status, P11TLS_E_MODULE);
    EXPECT_NE(seen[b.missing].error.find("cannot load module " + b.missing), std::string::npos)
        << seen[b.missing].error;

    std::cout << "[ figures  ] random module (30% of calls fail): opens " << opens.str()
              << "; signs " << signs.str() << "; two threads " << per_thread[0].str() << " / "
              << per_thread[1].str() << std::endl;
}

TEST(BadMod, MixedModules) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("BadModChild.*", "P11TLS_BADMOD_MIXED_CHILD", kWaitSeconds);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}

// ---- Details of "no token" and of a failed attribute read -----------------
//
// A module that fails to initialize is not blamed for a typo in the token
// name: the detail lists the tokens there are and mentions the failure as
// "also". A URI that names the failed module gets the failure as the cause.
// A failed attribute read names the attribute.
TEST(BadModDetailChild, Details) {
    if (!in_child("P11TLS_BADMOD_DETAIL_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    BadModules b;
    p11tls_cxx::context ctx{nullptr};
    ASSERT_TRUE(good_and_failinit(b, ctx));
    const std::string failed = "module " + b.failinit + " failed to initialize (C_Initialize: CKR_GENERAL_ERROR)";

    p11tls_cxx::key k;
    EXPECT_EQ(p11tls_key_open(ctx.get(), "pkcs11:token=p11tls-tset;object=p256;type=private", 0, k.put()),
              P11TLS_E_TOKEN_NOT_PRESENT);
    std::string typo = p11tls_last_error_detail();
    EXPECT_EQ(typo, "no token matches the URI; tokens present: 'p11tls-test' (module " + b.good +
                        "); also: " + failed)
        << typo;

    EXPECT_EQ(p11tls_key_open(ctx.get(), key_uri_in(b.failinit).c_str(), 0, k.put()), P11TLS_E_TOKEN_NOT_PRESENT);
    std::string named = p11tls_last_error_detail();
    EXPECT_EQ(named, "no token matches the URI; no token present; " + failed) << named;

    const std::string dir = th::test_dir() + "/badmod/attrfail";
    const std::string attrfail = dir + "/libp11tls-testmod.so";
    ASSERT_TRUE((mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) && copy_file(testmod_path(), attrfail) &&
                write_text(attrfail + ".env", "P11TLS_TESTMOD_FAIL=C_GetAttributeValue:1:0x30:100000\n"
                                              "P11TLS_SOFTHSM_MODULE=" + th::test_dir() +
                                              "/badmod/softhsm-copy/libsofthsm2.so\n"));
    p11tls_cxx::context actx{nullptr};
    ASSERT_EQ(only_modules(actx, {attrfail}), 0) << p11tls_last_error_detail();
    EXPECT_EQ(p11tls_key_open(actx.get(), key_uri_in(attrfail).c_str(), 0, k.put()), P11TLS_E_DEVICE);
    std::string attr = p11tls_last_error_detail();
    EXPECT_NE(attr.find(": C_GetAttributeValue(CKA_CLASS): CKR_DEVICE_ERROR"), std::string::npos) << attr;
}

TEST(BadMod, Details) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("BadModDetailChild.*", "P11TLS_BADMOD_DETAIL_CHILD", kWaitSeconds);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}

// ---- The token's directory moved away and back ------------------------------
//
// SoftHSM 2.6.1 (file store) reads a token's directory when C_Initialize
// runs. Moved away under an open key, it keeps listing the slot as holding
// a token, but C_GetTokenInfo fails (CKR_GENERAL_ERROR), the key's handle is
// invalid (CKR_KEY_HANDLE_INVALID) and searches find nothing. Moved back, it
// does not notice: the same instance never serves the token again; only a
// new instance does (a new process, or a forked child when reset_on_fork is
// true, where SoftHSM starts afresh).
namespace {

std::string token_subdir() {
    const std::string tokens = th::test_dir() + "/tokens";
    std::string found;
    if (DIR *d = opendir(tokens.c_str())) {
        while (dirent *e = readdir(d))
            if (e->d_name[0] != '.') found = tokens + "/" + e->d_name;
        closedir(d);
    }
    return found;
}

// Puts the directory back even when an assertion ends the test early.
struct Moved {
    std::string from, to;
    bool away = false;
    bool move_away() { return away = rename(from.c_str(), to.c_str()) == 0; }
    bool move_back() {
        if (away && rename(to.c_str(), from.c_str()) == 0) away = false;
        return !away;
    }
    ~Moved() { move_back(); }
};

// A fresh process (re-executed child): what it gets for the key, 0 if it
// opens and signs, its error otherwise; the expected value is in the
// environment.
int fresh_process_result(const char *expect) {
    return th::run_exec_child("TokenDirFreshChild.*", "P11TLS_TOKENDIR_FRESH_CHILD", kWaitSeconds,
                              {{"P11TLS_TOKENDIR_EXPECT", expect}});
}

int sign_with_softhsm_only(p11tls_cxx::context &ctx, p11tls_cxx::key &key) {
    int rc = only_modules(ctx, {th::env("P11TLS_SOFTHSM_MODULE")});
    if (!rc) rc = p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, key.put());
    return rc ? rc : sign_verified(key.get());
}

// A forked child's report on the key: 0 signed and verified, 100 did not
// verify, else minus the p11tls code.
int child_signs(void *key) {
    int rc = sign_verified(static_cast<p11tls_key *>(key));
    return rc > 0 ? 100 : -rc;
}

}  // namespace

TEST(TokenDirFreshChild, OpenAndSign) {
    if (!in_child("P11TLS_TOKENDIR_FRESH_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const int expect = atoi(th::env("P11TLS_TOKENDIR_EXPECT").c_str());
    p11tls_cxx::context ctx{nullptr};
    p11tls_cxx::key key;
    int rc = sign_with_softhsm_only(ctx, key);
    EXPECT_EQ(rc, expect) << p11tls_strerror_name(rc) << ": " << p11tls_last_error_detail();
    if (rc < 0) {
        EXPECT_STRNE(p11tls_last_error_detail(), "");
    }
}

TEST(TokenDirChild, MovedAwayAndBack) {
    if (!in_child("P11TLS_TOKENDIR_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const bool reset_on_fork = th::env("P11TLS_TEST_RESET_ON_FORK") == "true";
    Moved dir;
    dir.from = token_subdir();
    dir.to = th::test_dir() + "/token-moved-away";
    ASSERT_FALSE(dir.from.empty());

    p11tls_cxx::context ctx{nullptr};
    p11tls_cxx::key key;
    ASSERT_EQ(sign_with_softhsm_only(ctx, key), 0) << p11tls_last_error_detail();

    ASSERT_TRUE(dir.move_away());
    for (int i = 0; i < 3; i++) {
        int rc = sign_verified(key.get());
        EXPECT_EQ(rc, P11TLS_E_NOT_FOUND) << i << ": " << p11tls_strerror_name(rc);
        std::cout << "[ figures  ] token directory gone, held key: " << p11tls_strerror_name(rc) << ": "
                  << p11tls_last_error_detail() << std::endl;
    }
    int st = fresh_process_result(std::to_string(P11TLS_E_TOKEN_NOT_PRESENT).c_str());
    EXPECT_TRUE(th::exited_ok(st)) << "fresh process while gone: " << th::describe_status(st);

    ASSERT_TRUE(dir.move_back());
    int rc = sign_verified(key.get());
    std::cout << "[ figures  ] token directory back, held key: " << p11tls_strerror_name(rc) << ": "
              << p11tls_last_error_detail() << std::endl;
    EXPECT_EQ(rc, P11TLS_E_NOT_FOUND) << "SoftHSM 2.6.1 does not re-read a returned token";

    // A forked child: with reset_on_fork SoftHSM starts afresh there, and
    // the same key object signs again (rebound after fork). Without it the
    // child inherits SoftHSM's state, in which the token is unreadable: the
    // child's new p11tls world finds no token (child_signs reports).
    st = th::run_in_child(child_signs, key.get(), kWaitSeconds);
    ASSERT_TRUE(st >= 0 && WIFEXITED(st)) << th::describe_status(st);
    const int child_rc = -WEXITSTATUS(st);
    std::cout << "[ figures  ] token directory back, held key in a forked child (reset_on_fork="
              << (reset_on_fork ? "true" : "false") << "): "
              << (child_rc == 0 ? "signs" : p11tls_strerror_name(child_rc)) << std::endl;
    EXPECT_EQ(child_rc, reset_on_fork ? 0 : P11TLS_E_TOKEN_NOT_PRESENT) << p11tls_strerror_name(child_rc);

    st = fresh_process_result("0");
    EXPECT_TRUE(th::exited_ok(st)) << "fresh process after the directory is back: " << th::describe_status(st);
}

TEST(TokenDir, MovedAwayAndBack) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("TokenDirChild.*", "P11TLS_TOKENDIR_CHILD", kWaitSeconds);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}
