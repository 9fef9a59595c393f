// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: error codes and details of the public API.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/types.h>
#include <vector>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <p11tls/p11tls.h>

#include "../support/helpers.hpp"

#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace {

int open_code(p11tls_ctx *ctx, const std::string &uri) {
    p11tls_cxx::key key;
    int rc = p11tls_key_open(ctx, uri.c_str(), 0, key.put());
    if (rc != 0) {
        EXPECT_EQ(key.get(), nullptr);
    }
    return rc;
}

using th::in_child;
}  // namespace

TEST(Errors, MalformedUri) {
    REQUIRE_TOKEN();
    for (const char *u : {"http://example.com", "pkcs11:object=%zz", "pkcs11:frobnicate=1",
                          "not a uri", "pkcs11:type=bogus"}) {
        EXPECT_EQ(open_code(nullptr, u), P11TLS_E_INVALID_URI) << u;
        EXPECT_STRNE(p11tls_last_error_detail(), "") << u;
    }
    uint8_t *der = nullptr;
    size_t len = 0;
    EXPECT_EQ(p11tls_cert_get_der(nullptr, "pkcs11:object=%zz", &der, &len), P11TLS_E_INVALID_URI);
    EXPECT_STRNE(p11tls_last_error_detail(), "");
}

TEST(Errors, DetailClearedOnSuccess) {
    REQUIRE_TOKEN();
    EXPECT_EQ(open_code(nullptr, "pkcs11:object=%zz"), P11TLS_E_INVALID_URI);
    EXPECT_STRNE(p11tls_last_error_detail(), "");
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri("p256").c_str(), 0, key.put()), 0);
    EXPECT_STREQ(p11tls_last_error_detail(), "");
}

TEST(Errors, NotFound) {
    REQUIRE_TOKEN();
    EXPECT_EQ(open_code(nullptr, th::key_uri("no-such-key")), P11TLS_E_NOT_FOUND);
    EXPECT_STRNE(p11tls_last_error_detail(), "");
    EXPECT_EQ(open_code(nullptr, "pkcs11:token=p11tls-test;id=%42;type=private;pin-value=" + th::test_pin()),
              P11TLS_E_NOT_FOUND);
    uint8_t *der = nullptr;
    size_t len = 0;
    EXPECT_EQ(p11tls_cert_get_der(nullptr, th::key_uri("no-such-cert", false, "cert").c_str(), &der, &len),
              P11TLS_E_NOT_FOUND);
}

TEST(Errors, Ambiguous) {
    REQUIRE_TOKEN();
    EXPECT_EQ(open_code(nullptr, "pkcs11:token=p11tls-test;type=private;pin-value=" + th::test_pin()),
              P11TLS_E_AMBIGUOUS);
    EXPECT_STRNE(p11tls_last_error_detail(), "");
    uint8_t *der = nullptr;
    size_t len = 0;
    EXPECT_EQ(p11tls_cert_get_der(nullptr, "pkcs11:token=p11tls-test;type=cert", &der, &len),
              P11TLS_E_AMBIGUOUS);
}

TEST(Errors, TokenNotPresent) {
    REQUIRE_TOKEN();
    EXPECT_EQ(open_code(nullptr, "pkcs11:token=no-such-token;object=p256;type=private;pin-value=1234"),
              P11TLS_E_TOKEN_NOT_PRESENT);
    EXPECT_STRNE(p11tls_last_error_detail(), "");
}

// Runs only in a re-executed child (fresh process: nothing logged in yet).
TEST(WrongPinChild, WrongPin) {
    if (!in_child("P11TLS_WRONG_PIN_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const std::string uri = "pkcs11:token=p11tls-test;object=p256;type=private;pin-value=0000";
    EXPECT_EQ(open_code(nullptr, uri), P11TLS_E_PIN_INCORRECT);
    std::string detail = p11tls_last_error_detail();
    EXPECT_NE(detail.find("CKR_PIN_INCORRECT"), std::string::npos) << detail;
    EXPECT_EQ(detail.find("0000"), std::string::npos) << "the PIN leaked into: " << detail;
    // Never retried automatically and not cached: a second wrong try fails too.
    EXPECT_EQ(open_code(nullptr, uri), P11TLS_E_PIN_INCORRECT);
    // The right PIN works afterwards.
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(nullptr, th::key_uri("p256").c_str(), 0, key.put()), 0)
        << p11tls_last_error_detail();
}

TEST(Errors, WrongPin) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("WrongPinChild.*", "P11TLS_WRONG_PIN_CHILD", 30);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}

TEST(NoPinChild, PinRequired) {
    if (!in_child("P11TLS_NO_PIN_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    EXPECT_EQ(open_code(nullptr, th::key_uri("p256", false)), P11TLS_E_PIN_REQUIRED);
    EXPECT_STRNE(p11tls_last_error_detail(), "");
    // The same with a context that has no PIN function.
    p11tls_ctx *ctx = nullptr;
    ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
    EXPECT_EQ(open_code(ctx, th::key_uri("rsa2048", false)), P11TLS_E_PIN_REQUIRED);
    p11tls_ctx_free(ctx);
}

TEST(Errors, PinRequired) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("NoPinChild.*", "P11TLS_NO_PIN_CHILD", 30);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}

// pin-source must be a regular file that others cannot read, named
// without a symbolic link as its last component.
TEST(PinSourceChild, PinSource) {
    if (!in_child("P11TLS_PIN_SOURCE_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const std::string dir = th::test_dir();
    const std::string file = dir + "/pin.txt";
    const std::string base = "pkcs11:token=p11tls-test;object=p256;type=private?pin-source=";
    {
        std::ofstream out(file);
        out << th::test_pin() << "\n";
    }
    ASSERT_EQ(chmod(file.c_str(), 0644), 0);
    EXPECT_EQ(open_code(nullptr, base + file), P11TLS_E_PIN_SOURCE);
    EXPECT_NE(std::string(p11tls_last_error_detail()).find("readable by others"), std::string::npos)
        << p11tls_last_error_detail();
    EXPECT_EQ(open_code(nullptr, base + dir), P11TLS_E_PIN_SOURCE);  // not a regular file
    EXPECT_EQ(open_code(nullptr, base + dir + "/missing"), P11TLS_E_PIN_SOURCE);
    ASSERT_EQ(chmod(file.c_str(), 0600), 0);
    // A symbolic link, even to this good file, is not followed (O_NOFOLLOW):
    // whoever can replace the link chooses what is read. Checked before the
    // file is used, while nothing is logged in yet.
    const std::string link = dir + "/pin-link.txt";
    unlink(link.c_str());
    ASSERT_EQ(symlink(file.c_str(), link.c_str()), 0);
    EXPECT_EQ(open_code(nullptr, base + link), P11TLS_E_PIN_SOURCE);
    EXPECT_NE(std::string(p11tls_last_error_detail()).find("symbolic link"), std::string::npos)
        << p11tls_last_error_detail();
    EXPECT_EQ(open_code(nullptr, base + file), 0) << p11tls_last_error_detail();
    unlink(link.c_str());
    unlink(file.c_str());
}

TEST(Errors, PinSource) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("PinSourceChild.*", "P11TLS_PIN_SOURCE_CHILD", 30);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}

TEST(Errors, MissingModule) {
    p11tls_ctx *ctx = nullptr;
    ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
    EXPECT_EQ(p11tls_ctx_add_module(ctx, "/nonexistent.so"), P11TLS_E_MODULE);
    EXPECT_STRNE(p11tls_last_error_detail(), "");
    EXPECT_EQ(p11tls_ctx_add_module(ctx, nullptr), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_ctx_add_module(nullptr, "/nonexistent.so"), P11TLS_E_INVALID_ARGUMENT);
    p11tls_ctx_free(ctx);
}

TEST(Errors, ModulePathNotPermitted) {
    REQUIRE_TOKEN();
    p11tls_ctx *ctx = nullptr;
    ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
    ASSERT_EQ(p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES), 0);
    std::string uri = th::key_uri("p256") + "?module-path=/nonexistent/libnothing.so";
    EXPECT_EQ(open_code(ctx, uri), P11TLS_E_NOT_PERMITTED);
    EXPECT_STRNE(p11tls_last_error_detail(), "");
    p11tls_ctx_free(ctx);
}

TEST(Errors, ModulePathAllowed) {
    REQUIRE_TOKEN();
    const std::string mod = th::env("P11TLS_SOFTHSM_MODULE");
    if (mod.empty()) GTEST_SKIP() << "P11TLS_SOFTHSM_MODULE not set";
    p11tls_ctx *ctx = nullptr;
    ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
    ASSERT_EQ(p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES | P11TLS_CTX_ALLOW_MODULE_PATH), 0);
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx, (th::key_uri("p256") + "?module-path=" + mod).c_str(), 0, key.put()), 0)
        << p11tls_last_error_detail();
    p11tls_ctx_free(ctx);
}

TEST(Errors, DefaultContextNotConfigurable) {
    EXPECT_EQ(p11tls_ctx_set_fork_policy(nullptr, P11TLS_FORK_FAIL), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_ctx_set_pin_fn(nullptr, nullptr, nullptr), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_ctx_set_flags(nullptr, 0), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_ctx_new(nullptr), P11TLS_E_INVALID_ARGUMENT);
    p11tls_ctx *ctx = nullptr;
    ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
    EXPECT_EQ(p11tls_ctx_set_fork_policy(ctx, 7), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_ctx_set_fork_policy(ctx, -1), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_ctx_set_flags(ctx, 1u << 20), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_ctx_set_fork_policy(ctx, P11TLS_FORK_FAIL), 0);
    p11tls_ctx_free(ctx);
    p11tls_ctx_free(nullptr);
    p11tls_key_free(nullptr);
    p11tls_free(nullptr);
}

TEST(Errors, NullArguments) {
    REQUIRE_TOKEN();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri("p256").c_str(), 0, key.put()), 0);
    size_t n = 0;
    EXPECT_EQ(p11tls_key_sign(nullptr, P11TLS_SIG_ED25519, (const uint8_t *)"x", 1, nullptr, &n),
              P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_key_sign(key.get(), P11TLS_SIG_ECDSA_SECP256R1_SHA256, nullptr, 5, nullptr, &n),
              P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_list_tokens(nullptr, nullptr, nullptr, nullptr), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_list_objects(nullptr, nullptr, 0, nullptr, nullptr), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_list_modules(nullptr, nullptr, nullptr), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_cert_get_der(nullptr, nullptr, nullptr, nullptr), P11TLS_E_INVALID_ARGUMENT);
    uint8_t *der = nullptr;
    EXPECT_EQ(p11tls_cert_get_der(nullptr, th::key_uri("p256", false, "cert").c_str(), &der, nullptr),
              P11TLS_E_INVALID_ARGUMENT);
}
