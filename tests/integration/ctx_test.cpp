// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: contexts (own modules, PIN functions, lifetime, isolation).
#include <gtest/gtest.h>

#include <atomic>
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

namespace {
struct PinState {
    int calls = 0;
    std::string pin;        // what to answer
    int ret = 0;            // what to return
    std::string label;      // last token_label
    std::string token_uri;  // last token_uri
    unsigned flags = 0;
};

int pin_fn(void *arg, const char *token_uri, const char *token_label, unsigned flags, char *pin,
           size_t pin_size) {
    auto *s = static_cast<PinState *>(arg);
    ++s->calls;
    s->label = token_label ? token_label : "(null)";
    s->token_uri = token_uri ? token_uri : "(null)";
    s->flags = flags;
    if (s->ret < 0) return s->ret;
    snprintf(pin, pin_size, "%s", s->pin.c_str());
    return 0;
}

bool sign_ok(p11tls_key *k) {
    std::vector<unsigned char> sig;
    const char msg[] = "context test";
    if (th::sign(k, P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg, sizeof msg - 1, sig) != 0) return false;
    return th::verify_data("p256", GNUTLS_SIGN_ECDSA_SHA256, msg, sizeof msg - 1, sig.data(), sig.size()) >= 0;
}

int count_token(void *arg, const p11tls_token_info *info) {
    if (std::string(info->label) == "p11tls-test") ++*static_cast<int *>(arg);
    return 0;
}
}  // namespace

TEST(Ctx, OwnModuleOnly) {
    REQUIRE_TOKEN();
    const std::string mod = th::env("P11TLS_SOFTHSM_MODULE");
    ASSERT_FALSE(mod.empty());
    p11tls_cxx::context ctx;
    ASSERT_EQ(p11tls_ctx_set_flags(ctx.get(), P11TLS_CTX_NO_REGISTERED_MODULES), 0);
    int n = 0;
    ASSERT_EQ(p11tls_list_tokens(ctx.get(), nullptr, count_token, &n), 0) << p11tls_last_error_detail();
    EXPECT_EQ(n, 0) << "no module yet: the token must not be visible";
    p11tls_cxx::key none;
    EXPECT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, none.put()), P11TLS_E_TOKEN_NOT_PRESENT);

    ASSERT_EQ(p11tls_ctx_add_module(ctx.get(), mod.c_str()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(p11tls_ctx_add_module(ctx.get(), mod.c_str()), 0) << "adding twice is harmless";
    n = 0;
    ASSERT_EQ(p11tls_list_tokens(ctx.get(), nullptr, count_token, &n), 0) << p11tls_last_error_detail();
    EXPECT_EQ(n, 1);
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, key.put()), 0) << p11tls_last_error_detail();
    EXPECT_TRUE(sign_ok(key.get()));

    // The module is visible to this context only.
    p11tls_cxx::context other;
    ASSERT_EQ(p11tls_ctx_set_flags(other.get(), P11TLS_CTX_NO_REGISTERED_MODULES), 0);
    n = 0;
    ASSERT_EQ(p11tls_list_tokens(other.get(), nullptr, count_token, &n), 0);
    EXPECT_EQ(n, 0);
}

TEST(Ctx, DefaultContextSeesRegisteredToken) {
    REQUIRE_TOKEN();
    int n = 0;
    ASSERT_EQ(p11tls_list_tokens(nullptr, nullptr, count_token, &n), 0) << p11tls_last_error_detail();
    EXPECT_EQ(n, 1);
}

TEST(Ctx, FreeContextWhileKeyInUse) {
    REQUIRE_TOKEN();
    p11tls_ctx *ctx = nullptr;
    ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
    PinState ps;
    ps.pin = th::test_pin();
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx, pin_fn, &ps), 0);
    ASSERT_EQ(p11tls_ctx_set_fork_policy(ctx, P11TLS_FORK_FAIL), 0);
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx, th::key_uri("p256").c_str(), 0, key.put()), 0) << p11tls_last_error_detail();
    p11tls_ctx_free(ctx);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(sign_ok(key.get())) << p11tls_last_error_detail();
    EXPECT_EQ(p11tls_key_get_algorithm(key.get()), P11TLS_ALG_ECDSA);
}

// ---- PIN function tests: need a process where nothing is logged in yet ----

TEST(PinFnChild, CalledWhenUriHasNoPin) {
    if (!th::in_child("P11TLS_PIN_FN_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    // 1. A PIN function that declines: P11TLS_E_PIN_CANCELLED.
    {
        p11tls_cxx::context ctx;
        PinState ps;
        ps.ret = -1;
        ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), pin_fn, &ps), 0);
        p11tls_cxx::key key;
        EXPECT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256", false).c_str(), 0, key.put()), P11TLS_E_PIN_CANCELLED);
        EXPECT_EQ(ps.calls, 1);
        EXPECT_EQ(ps.label, "p11tls-test");
    }
    // 2. Two contexts: B answers a wrong PIN, A the right one. Each sees
    //    only its own function.
    p11tls_cxx::context a, b;
    PinState pa, pb;
    pa.pin = th::test_pin();
    pb.pin = "0000";
    ASSERT_EQ(p11tls_ctx_set_pin_fn(a.get(), pin_fn, &pa), 0);
    ASSERT_EQ(p11tls_ctx_set_pin_fn(b.get(), pin_fn, &pb), 0);
    {
        p11tls_cxx::key kb;
        EXPECT_EQ(p11tls_key_open(b.get(), th::key_uri("p256", false).c_str(), 0, kb.put()), P11TLS_E_PIN_INCORRECT);
        EXPECT_EQ(pb.calls, 1);
        EXPECT_EQ(pa.calls, 0);
    }
    p11tls_cxx::key ka;
    ASSERT_EQ(p11tls_key_open(a.get(), th::key_uri("p256", false).c_str(), 0, ka.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(pa.calls, 1);
    EXPECT_EQ(pb.calls, 1);
    EXPECT_EQ(pa.label, "p11tls-test");
    EXPECT_EQ(pa.token_uri.rfind("pkcs11:", 0), 0u) << pa.token_uri;
    EXPECT_NE(pa.token_uri.find("token=p11tls-test"), std::string::npos) << pa.token_uri;
    EXPECT_TRUE(sign_ok(ka.get()));
    // Logged in now: opening more keys asks nobody.
    p11tls_cxx::key ka2;
    ASSERT_EQ(p11tls_key_open(a.get(), th::key_uri("rsa2048", false).c_str(), 0, ka2.put()), 0);
    EXPECT_EQ(pa.calls, 1);
    // Clearing B's function does not affect A.
    ASSERT_EQ(p11tls_ctx_set_pin_fn(b.get(), nullptr, nullptr), 0);
    EXPECT_TRUE(sign_ok(ka.get()));
}

TEST(Ctx, PinFunction) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("PinFnChild.*", "P11TLS_PIN_FN_CHILD", 30);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}

TEST(Ctx, UriPinWinsOverPinFunction) {
    REQUIRE_TOKEN();
    p11tls_cxx::context ctx;
    PinState ps;
    ps.pin = "0000";
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), pin_fn, &ps), 0);
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, key.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(ps.calls, 0);
}

// ---- PIN functions that fork or call back into p11tls (fork model: no lock
// is held across user code). A deadlock shows as the child timing out.
namespace {
int child_opens_and_signs(void *) {
    p11tls_key *k = nullptr;
    if (p11tls_key_open(nullptr, th::key_uri("p256").c_str(), 0, &k) != 0) return 40;
    int rc = sign_ok(k) ? 0 : 41;
    p11tls_key_free(k);
    return rc;
}

struct ReentrantPin {
    int calls = 0;
    int forked_child_status = -2;
    int inner_open = 1, inner_sign = 0, inner_list = 1;
};

// Forks a child that uses p11tls (its own key, PIN from the URI) and waits
// for it, bounded, before answering.
int forking_pin_fn(void *arg, const char *, const char *, unsigned, char *pin, size_t size) {
    auto *s = static_cast<ReentrantPin *>(arg);
    s->calls++;
    s->forked_child_status = th::run_in_child(child_opens_and_signs, nullptr, 20);
    snprintf(pin, size, "%s", th::test_pin().c_str());
    return 0;
}

// Uses p11tls on the same token (listing, opening and signing with a key
// whose URI carries the PIN) before answering.
int reentrant_pin_fn(void *arg, const char *, const char *, unsigned, char *pin, size_t size) {
    auto *s = static_cast<ReentrantPin *>(arg);
    s->calls++;
    int tokens = 0;
    s->inner_list = p11tls_list_tokens(nullptr, "pkcs11:token=p11tls-test", count_token, &tokens);
    if (s->inner_list == 0 && tokens != 1) s->inner_list = -100 - tokens;
    p11tls_key *k = nullptr;
    s->inner_open = p11tls_key_open(nullptr, th::key_uri("p256").c_str(), 0, &k);
    if (s->inner_open == 0) {
        s->inner_sign = sign_ok(k) ? 0 : -1;
        p11tls_key_free(k);
    }
    snprintf(pin, size, "%s", th::test_pin().c_str());
    return 0;
}
}  // namespace

TEST(PinFnForksChild, NoDeadlock) {
    if (!th::in_child("P11TLS_PIN_FN_FORK_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx;
    ReentrantPin rp;
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), forking_pin_fn, &rp), 0);
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256", false).c_str(), 0, key.put()), 0)
        << p11tls_last_error_detail();
    EXPECT_EQ(rp.calls, 1);
    EXPECT_TRUE(th::exited_ok(rp.forked_child_status)) << th::describe_status(rp.forked_child_status);
    EXPECT_TRUE(sign_ok(key.get()));
}

TEST(Ctx, PinFunctionThatForks) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("PinFnForksChild.*", "P11TLS_PIN_FN_FORK_CHILD", 60);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}

TEST(PinFnReentersChild, NoDeadlock) {
    if (!th::in_child("P11TLS_PIN_FN_REENTER_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx;
    ReentrantPin rp;
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), reentrant_pin_fn, &rp), 0);
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256", false).c_str(), 0, key.put()), 0)
        << p11tls_last_error_detail();
    EXPECT_EQ(rp.calls, 1);
    EXPECT_EQ(rp.inner_list, 0) << p11tls_strerror_name(rp.inner_list);
    EXPECT_EQ(rp.inner_open, 0) << p11tls_strerror_name(rp.inner_open);
    EXPECT_EQ(rp.inner_sign, 0);
    EXPECT_TRUE(sign_ok(key.get()));
}

TEST(Ctx, PinFunctionThatCallsP11tls) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("PinFnReentersChild.*", "P11TLS_PIN_FN_REENTER_CHILD", 60);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}
