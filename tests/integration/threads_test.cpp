// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: concurrent use of keys from several threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <p11tls/p11tls.h>

#include "../support/helpers.hpp"

TEST(Threads, SharedKeySigns) {
    REQUIRE_TOKEN();
    p11tls_key *key = nullptr;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri("p256").c_str(), 0, &key), 0) << p11tls_last_error_detail();
    std::atomic<int> sign_fail{0}, verify_fail{0}, ok{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                std::string msg = "thread " + std::to_string(t) + " message " + std::to_string(i);
                std::vector<unsigned char> sig;
                if (th::sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg.data(), msg.size(), sig) != 0) {
                    ++sign_fail;
                    continue;
                }
                if (th::verify_data("p256", GNUTLS_SIGN_ECDSA_SHA256, msg.data(), msg.size(), sig.data(),
                                    sig.size()) < 0)
                    ++verify_fail;
                else
                    ++ok;
            }
        });
    for (auto &t : ts) t.join();
    p11tls_key_free(key);
    EXPECT_EQ(sign_fail.load(), 0);
    EXPECT_EQ(verify_fail.load(), 0);
    EXPECT_EQ(ok.load(), 800);
}

// 8 threads open, sign (verified) and free keys in a loop, half through
// their own contexts, for 3 seconds or 40 rounds each, whichever is first.
TEST(Threads, OpenSignFreeLoop) {
    REQUIRE_TOKEN();
    const char *labels[] = {"p256", "rsa2048", "ed25519", "p384"};
    const uint16_t schemes[] = {P11TLS_SIG_ECDSA_SECP256R1_SHA256, P11TLS_SIG_RSA_PSS_RSAE_SHA256,
                                P11TLS_SIG_ED25519, P11TLS_SIG_ECDSA_SECP384R1_SHA384};
    const gnutls_sign_algorithm_t algs[] = {GNUTLS_SIGN_ECDSA_SHA256, GNUTLS_SIGN_RSA_PSS_RSAE_SHA256,
                                            GNUTLS_SIGN_EDDSA_ED25519, GNUTLS_SIGN_ECDSA_SHA384};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    std::atomic<int> failures{0}, rounds{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t)
        ts.emplace_back([&, t] {
            const int k = t % 4;
            p11tls_ctx *ctx = nullptr;
            if (t % 2 && p11tls_ctx_new(&ctx) != 0) {
                ++failures;
                return;
            }
            for (int i = 0; i < 40 && std::chrono::steady_clock::now() < deadline; ++i) {
                p11tls_key *key = nullptr;
                if (p11tls_key_open(ctx, th::key_uri(labels[k]).c_str(), 0, &key) != 0) {
                    ++failures;
                    continue;
                }
                std::vector<unsigned char> sig;
                const char msg[] = "open/sign/free";
                if (th::sign(key, schemes[k], msg, sizeof msg - 1, sig) != 0 ||
                    th::verify_data(labels[k], algs[k], msg, sizeof msg - 1, sig.data(), sig.size()) < 0)
                    ++failures;
                p11tls_key_free(key);
                ++rounds;
            }
            p11tls_ctx_free(ctx);
        });
    for (auto &t : ts) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_GT(rounds.load(), 8);  // every thread got going
}

TEST(Threads, ConfigureContextWhileInUse) {
    REQUIRE_TOKEN();
    p11tls_ctx *ctx = nullptr;
    ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
    std::atomic<bool> stop{false};
    std::thread cfg([&] {
        auto pin = [](void *, const char *, const char *, unsigned, char *pin, size_t n) {
            snprintf(pin, n, "%s", th::test_pin().c_str());
            return 0;
        };
        while (!stop) {
            p11tls_ctx_set_pin_fn(ctx, pin, nullptr);
            p11tls_ctx_set_fork_policy(ctx, P11TLS_FORK_REINIT);
            p11tls_ctx_set_pin_fn(ctx, nullptr, nullptr);
        }
    });
    int failures = 0;
    for (int i = 0; i < 50; ++i) {
        p11tls_key *key = nullptr;
        if (p11tls_key_open(ctx, th::key_uri("p256").c_str(), 0, &key) != 0) {
            ++failures;
            continue;
        }
        std::vector<unsigned char> sig;
        if (th::sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, "x", 1, sig) != 0) ++failures;
        p11tls_key_free(key);
    }
    stop = true;
    cfg.join();
    p11tls_ctx_free(ctx);
    EXPECT_EQ(failures, 0);
}
