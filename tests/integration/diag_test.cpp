// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: diagnostics an application relies on: the per-context log
// function (levels, isolation between contexts, no PIN), and the details
// of "no token", "ambiguous" and attribute-read messages.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sched.h>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <p11tls/p11tls.h>

#include "../support/helpers.hpp"

namespace {

struct Line {
    int level;
    std::string text;
};

// Collects a context's messages (called from any thread).
struct Sink {
    std::mutex mu;
    std::vector<Line> lines;
    static void fn(void *arg, int level, const char *msg) {
        auto *s = static_cast<Sink *>(arg);
        std::lock_guard<std::mutex> g(s->mu);
        s->lines.push_back({level, msg});
    }
    // Index of the first line at level containing text, or -1.
    int find(const std::string &text, int level = 0) {
        std::lock_guard<std::mutex> g(mu);
        for (size_t i = 0; i < lines.size(); ++i)
            if ((level == 0 || lines[i].level == level) && lines[i].text.find(text) != std::string::npos)
                return static_cast<int>(i);
        return -1;
    }
    std::string all() {
        std::lock_guard<std::mutex> g(mu);
        std::string out;
        for (const Line &l : lines) out += std::to_string(l.level) + " " + l.text + "\n";
        return out;
    }
};

using th::in_child;

}  // namespace

TEST(Log, Levels) {
    REQUIRE_TOKEN();
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(p11tls_ctx_new(ctx.put()), 0);
    Sink sink;
    ASSERT_EQ(p11tls_ctx_set_log_fn(ctx.get(), Sink::fn, &sink, P11TLS_LOG_DEBUG), 0);
    p11tls_cxx::key none, key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), th::key_uri("no-such-key").c_str(), 0, none.put()), P11TLS_E_NOT_FOUND);
    EXPECT_GE(sink.find("p11tls_key_open: P11TLS_E_NOT_FOUND: no private key matches", P11TLS_LOG_ERROR), 0)
        << sink.all();
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, key.put()), 0);
    EXPECT_GE(sink.find("opened key pkcs11:", P11TLS_LOG_INFO), 0) << sink.all();
    // An EC private key has no CKA_EC_POINT on SoftHSM: the debug line of
    // the attribute read names it.
    EXPECT_GE(sink.find("CKA_EC_POINT", P11TLS_LOG_DEBUG), 0) << sink.all();
    EXPECT_GE(sink.find("C_GetAttributeValue(", P11TLS_LOG_DEBUG), 0) << sink.all();

    // Up to max_level only.
    Sink errors;
    ASSERT_EQ(p11tls_ctx_set_log_fn(ctx.get(), Sink::fn, &errors, P11TLS_LOG_ERROR), 0);
    p11tls_cxx::key k2, none2;
    ASSERT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, k2.put()), 0);
    EXPECT_EQ(p11tls_key_open(ctx.get(), th::key_uri("no-such-key").c_str(), 0, none2.put()), P11TLS_E_NOT_FOUND);
    EXPECT_GE(errors.find("P11TLS_E_NOT_FOUND", P11TLS_LOG_ERROR), 0) << errors.all();
    EXPECT_EQ(errors.find("opened key"), -1) << errors.all();
}

TEST(Log, BadArguments) {
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(p11tls_ctx_new(ctx.put()), 0);
    Sink sink;
    // The default context is shared by every caller: nobody sets its log.
    EXPECT_EQ(p11tls_ctx_set_log_fn(nullptr, Sink::fn, &sink, P11TLS_LOG_DEBUG), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_ctx_set_log_fn(ctx.get(), Sink::fn, &sink, 0), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_ctx_set_log_fn(ctx.get(), Sink::fn, &sink, P11TLS_LOG_DEBUG + 1), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_ctx_set_log_fn(ctx.get(), nullptr, nullptr, 0), 0);
}

// Two layered callers: each sees its own operations' messages only, keys
// included, and neither sees the default context's.
TEST(Log, ContextsAreIsolated) {
    REQUIRE_TOKEN();
    p11tls_cxx::context a{nullptr}, b{nullptr};
    ASSERT_EQ(p11tls_ctx_new(a.put()), 0);
    ASSERT_EQ(p11tls_ctx_new(b.put()), 0);
    Sink sa, sb;
    ASSERT_EQ(p11tls_ctx_set_log_fn(a.get(), Sink::fn, &sa, P11TLS_LOG_DEBUG), 0);
    ASSERT_EQ(p11tls_ctx_set_log_fn(b.get(), Sink::fn, &sb, P11TLS_LOG_DEBUG), 0);
    p11tls_cxx::key none, kb, nd;
    EXPECT_EQ(p11tls_key_open(a.get(), th::key_uri("only-in-a").c_str(), 0, none.put()), P11TLS_E_NOT_FOUND);
    ASSERT_EQ(p11tls_key_open(b.get(), th::key_uri("rsa2048").c_str(), 0, kb.put()), 0);
    EXPECT_EQ(p11tls_key_open(nullptr, th::key_uri("only-in-default").c_str(), 0, nd.put()), P11TLS_E_NOT_FOUND);
    // A key's operation logs to the context it was opened through.
    size_t len = 0;
    EXPECT_EQ(p11tls_key_sign(kb.get(), 0x7777, reinterpret_cast<const uint8_t *>("m"), 1, nullptr, &len),
              P11TLS_E_UNSUPPORTED);

    EXPECT_GE(sa.find("P11TLS_E_NOT_FOUND"), 0) << sa.all();
    EXPECT_GE(sb.find("opened key"), 0) << sb.all();
    EXPECT_GE(sb.find("p11tls_key_sign: P11TLS_E_UNSUPPORTED", P11TLS_LOG_ERROR), 0) << sb.all();
    EXPECT_EQ(sa.find("opened key"), -1) << sa.all();
    EXPECT_EQ(sa.find("p11tls_key_sign"), -1) << sa.all();
    EXPECT_EQ(sb.find("P11TLS_E_NOT_FOUND"), -1) << sb.all();
    EXPECT_EQ(sa.find("only-in-default"), -1) << sa.all();
    EXPECT_EQ(sb.find("only-in-default"), -1) << sb.all();
    EXPECT_EQ(sa.find("only-in-default"), -1);
}

// Cleared, and on p11tls_ctx_free, the function is called no more, even by
// a key that outlives its context.
TEST(Log, ClearAndFree) {
    REQUIRE_TOKEN();
    Sink sink;
    p11tls_ctx *ctx = nullptr;
    ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
    ASSERT_EQ(p11tls_ctx_set_log_fn(ctx, Sink::fn, &sink, P11TLS_LOG_DEBUG), 0);
    p11tls_cxx::key key, none;
    ASSERT_EQ(p11tls_key_open(ctx, th::key_uri("p256").c_str(), 0, key.put()), 0);
    ASSERT_EQ(p11tls_ctx_set_log_fn(ctx, nullptr, nullptr, 0), 0);
    size_t before = sink.lines.size();
    EXPECT_EQ(p11tls_key_open(ctx, th::key_uri("no-such-key").c_str(), 0, none.put()), P11TLS_E_NOT_FOUND);
    EXPECT_EQ(sink.lines.size(), before) << sink.all();

    ASSERT_EQ(p11tls_ctx_set_log_fn(ctx, Sink::fn, &sink, P11TLS_LOG_DEBUG), 0);
    p11tls_ctx_free(ctx);
    size_t len = 0;
    EXPECT_EQ(p11tls_key_sign(key.get(), 0x7777, reinterpret_cast<const uint8_t *>("m"), 1, nullptr, &len),
              P11TLS_E_UNSUPPORTED);
    EXPECT_EQ(sink.lines.size(), before) << sink.all();
}

namespace {
struct Reentrant {
    p11tls_ctx *ctx;
    std::atomic<int> calls{0};
    static void fn(void *arg, int, const char *) {
        auto *r = static_cast<Reentrant *>(arg);
        if (r->calls++ > 0) return;
        // Calls back into p11tls through the same context (its messages go
        // to stderr only), then clears itself: neither may deadlock.
        p11tls_key *k = nullptr;
        p11tls_key_open(r->ctx, "pkcs11:token=p11tls-test;object=no-such-key;type=private", 0, &k);
        p11tls_key_free(k);
        p11tls_ctx_set_log_fn(r->ctx, nullptr, nullptr, 0);
    }
};
}  // namespace

TEST(Log, FunctionMayCallP11tls) {
    REQUIRE_TOKEN();
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(p11tls_ctx_new(ctx.put()), 0);
    Reentrant r{ctx.get()};
    ASSERT_EQ(p11tls_ctx_set_log_fn(ctx.get(), Reentrant::fn, &r, P11TLS_LOG_ERROR), 0);
    p11tls_cxx::key none;
    EXPECT_EQ(p11tls_key_open(ctx.get(), th::key_uri("no-such-key").c_str(), 0, none.put()), P11TLS_E_NOT_FOUND);
    EXPECT_EQ(r.calls.load(), 1);
    EXPECT_EQ(p11tls_key_open(ctx.get(), th::key_uri("no-such-key").c_str(), 0, none.put()), P11TLS_E_NOT_FOUND);
    EXPECT_EQ(r.calls.load(), 1) << "cleared by itself";
}

// A fresh process (nothing logged in): logins with pin-value, a wrong
// pin-value, pin-source and a PIN check; no message at any level holds a PIN.
TEST(LogPinChild, NoPinInMessages) {
    if (!in_child("P11TLS_LOG_PIN_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const std::string wrong = "wrong-pin-5791";
    const std::string file = th::test_dir() + "/log-pin.txt";
    {
        std::ofstream out(file);
        out << th::test_pin() << "\n";
    }
    ASSERT_EQ(chmod(file.c_str(), 0600), 0);
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(p11tls_ctx_new(ctx.put()), 0);
    Sink sink;
    ASSERT_EQ(p11tls_ctx_set_log_fn(ctx.get(), Sink::fn, &sink, P11TLS_LOG_DEBUG), 0);
    const std::string base = "pkcs11:token=p11tls-test;object=p256;type=private";
    p11tls_cxx::key k1, k2, k3, k4;
    EXPECT_EQ(p11tls_key_open(ctx.get(), (base + ";pin-value=" + wrong).c_str(), 0, k1.put()), P11TLS_E_PIN_INCORRECT);
    EXPECT_EQ(p11tls_key_open(ctx.get(), (base + "?pin-source=" + file).c_str(), 0, k2.put()), 0)
        << p11tls_last_error_detail();
    EXPECT_EQ(p11tls_key_open(ctx.get(), (base + ";pin-value=" + th::test_pin()).c_str(),
                              P11TLS_KEY_OPEN_VERIFY_PIN, k3.put()), 0);
    EXPECT_EQ(p11tls_key_open(ctx.get(), (base + ";pin-value=" + wrong).c_str(), P11TLS_KEY_OPEN_VERIFY_PIN, k4.put()),
              P11TLS_E_PIN_INCORRECT);
    EXPECT_GE(sink.find("CKR_PIN_INCORRECT", P11TLS_LOG_DEBUG), 0) << sink.all();
    EXPECT_GE(sink.find("logged in", P11TLS_LOG_INFO), 0) << sink.all();
    for (const Line &l : sink.lines) {
        EXPECT_EQ(l.text.find(wrong), std::string::npos) << l.text;
        EXPECT_EQ(l.text.find(th::test_pin()), std::string::npos) << l.text;
        EXPECT_EQ(l.text.find("pin-value"), std::string::npos) << l.text;
    }
}

TEST(Log, NoPinInMessages) {
    REQUIRE_TOKEN();
    int st = th::run_exec_child("LogPinChild.*", "P11TLS_LOG_PIN_CHILD", 60);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}

// A typo in the token name: the detail lists the tokens there are.
TEST(Diag, NoTokenListsTokens) {
    REQUIRE_TOKEN();
    p11tls_cxx::key none;
    EXPECT_EQ(p11tls_key_open(nullptr, "pkcs11:token=p11tls-tset;object=p256;type=private", 0, none.put()),
              P11TLS_E_TOKEN_NOT_PRESENT);
    std::string detail = p11tls_last_error_detail();
    EXPECT_EQ(detail.find("no token matches the URI; tokens present: "), 0u) << detail;
    EXPECT_NE(detail.find("'p11tls-test' (module "), std::string::npos) << detail;
}

// The detail names the keys the URI matches.
TEST(Diag, AmbiguousListsKeys) {
    REQUIRE_TOKEN();
    p11tls_cxx::key none;
    EXPECT_EQ(p11tls_key_open(nullptr, ("pkcs11:token=p11tls-test;type=private;pin-value=" + th::test_pin()).c_str(),
                              0, none.put()),
              P11TLS_E_AMBIGUOUS);
    std::string detail = p11tls_last_error_detail();
    size_t first = detail.find("among them: pkcs11:");
    ASSERT_NE(first, std::string::npos) << detail;
    EXPECT_NE(detail.find(", pkcs11:", first), std::string::npos) << detail;
    EXPECT_EQ(detail.find("pin-value"), std::string::npos) << detail;
}

namespace {
// Holds the first caller inside the log function until released.
struct Blocker {
    std::atomic<bool> entered{false}, release{false};
    static void fn(void *arg, int, const char *) {
        auto *b = static_cast<Blocker *>(arg);
        if (b->entered.exchange(true)) return;
        while (!b->release.load()) sched_yield();
    }
};

// Waits (bounded) until flag is set.
bool wait_for(const std::atomic<bool> &flag) {
    for (int i = 0; i < 30000 && !flag.load(); ++i) usleep(1000);
    return flag.load();
}

struct ChildArg {
    p11tls_ctx *ctx;
    Sink *sink;
};

// In the child: replacing the log function must not wait for the parent's
// thread that was inside it at fork time (it does not exist here), and the
// new function gets the child's messages.
int replace_in_child(void *arg) {
    auto *a = static_cast<ChildArg *>(arg);
    if (p11tls_ctx_set_log_fn(a->ctx, Sink::fn, a->sink, P11TLS_LOG_ERROR) != 0) return 1;
    p11tls_key *k = nullptr;
    if (p11tls_key_open(a->ctx, "pkcs11:object=%zz", 0, &k) != P11TLS_E_INVALID_URI) return 2;
    return a->sink->find("P11TLS_E_INVALID_URI", P11TLS_LOG_ERROR) >= 0 ? 0 : 3;
}
}  // namespace

TEST(Log, SetInChildWhileParentThreadInside) {
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(p11tls_ctx_new(ctx.put()), 0);
    Blocker blocker;
    ASSERT_EQ(p11tls_ctx_set_log_fn(ctx.get(), Blocker::fn, &blocker, P11TLS_LOG_ERROR), 0);
    std::thread inside([&] {
        p11tls_key *k = nullptr;
        p11tls_key_open(ctx.get(), "pkcs11:object=%zz", 0, &k);
    });
    ASSERT_TRUE(wait_for(blocker.entered));
    Sink sink;
    ChildArg arg{ctx.get(), &sink};
    int st = th::run_in_child(replace_in_child, &arg, 30);
    blocker.release = true;
    inside.join();
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
}

namespace {
// A log function's arg, retired once the function is replaced: a call that
// starts or runs after the replacement returned is a broken promise.
struct Retired {
    std::atomic<bool> retired{false};
    std::atomic<int> calls{0}, late{0};
    static void fn(void *arg, int, const char *) {
        auto *r = static_cast<Retired *>(arg);
        r->calls++;
        if (r->retired.load()) r->late++;
        sched_yield();
        if (r->retired.load()) r->late++;
    }
};
}  // namespace

// Threads log through one context while another replaces its function:
// no call reaches a function after its replacement returned.
TEST(Log, ReplaceWhileThreadsLog) {
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(p11tls_ctx_new(ctx.put()), 0);
    constexpr int kRounds = 300;
    std::vector<Retired> args(kRounds);
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t)
        threads.emplace_back([&] {
            while (!stop.load()) {
                p11tls_key *k = nullptr;
                p11tls_key_open(ctx.get(), "pkcs11:object=%zz", 0, &k);
            }
        });
    for (int i = 0; i < kRounds; ++i) {
        ASSERT_EQ(p11tls_ctx_set_log_fn(ctx.get(), Retired::fn, &args[i], P11TLS_LOG_ERROR), 0);
        if (i > 0) args[i - 1].retired = true;
        // Replaced only once in use (a bounded wait).
        for (int ms = 0; ms < 30000 && args[i].calls.load() == 0; ++ms) usleep(1000);
        ASSERT_GT(args[i].calls.load(), 0);
    }
    ASSERT_EQ(p11tls_ctx_set_log_fn(ctx.get(), nullptr, nullptr, 0), 0);
    args[kRounds - 1].retired = true;
    stop = true;
    for (auto &t : threads) t.join();
    int calls = 0, late = 0;
    for (auto &a : args) {
        calls += a.calls;
        late += a.late;
    }
    EXPECT_GT(calls, 0);
    EXPECT_EQ(late, 0) << "calls into a replaced log function, of " << calls;
}
