// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// tests/module/listing_test.cpp: searches are read to their end. PKCS#11
// lets C_FindObjects return fewer handles than asked while more remain; the
// test module does so on request (P11TLS_TESTMOD_FIND_CHUNK), or never ends
// a search (P11TLS_TESTMOD_FIND_ENDLESS). Run through tests/suites/input.*.test.
#include <gtest/gtest.h>

#include <p11tls/p11tls.h>

#include "../support/testmod.hpp"

#include <string>

namespace {

using namespace tmh;

int count_object(void *arg, const p11tls_object_info *) {
    ++*static_cast<int *>(arg);
    return 0;
}

// Objects the URI lists through the module at path (-1000 + code on error).
int count_listed(const std::string &module, const char *uri, unsigned flags) {
    p11tls_cxx::context ctx{nullptr};
    if (make_ctx(ctx, module) != 0) return -2000;
    int n = 0;
    int rc = p11tls_list_objects(ctx.get(), uri, flags, count_object, &n);
    return rc ? -1000 + rc : n;
}

}  // namespace

TEST(FindChunkChild, AllObjectsSeen) {
    if (!in_child("P11TLS_FIND_CHUNK_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    const std::string pin_uri = "pkcs11:token=p11tls-test?pin-value=" + th::test_pin();
    // SoftHSM itself returns everything at once: the reference.
    const int direct = count_listed(th::env("P11TLS_SOFTHSM_MODULE"), pin_uri.c_str(), P11TLS_LIST_LOGIN);
    const int chunked = count_listed(testmod_path(), pin_uri.c_str(), P11TLS_LIST_LOGIN);
    EXPECT_GT(direct, 2);
    EXPECT_EQ(chunked, direct) << "objects listed through a module that returns one handle per call";
    EXPECT_GT(count_calls(read_log(), getpid(), "C_FindObjects"), (size_t)direct);

    // Two private keys match: that must be seen, not the first one opened.
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0);
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), pin_uri.c_str(), 0, key.put()), P11TLS_E_AMBIGUOUS)
        << p11tls_last_error_detail();
    p11tls_cxx::key p256;
    EXPECT_EQ(p11tls_key_open(ctx.get(), th::key_uri("p256").c_str(), 0, p256.put()), 0) << p11tls_last_error_detail();
}

TEST(Search, ReadToTheEnd) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("FindChunkChild.*", "P11TLS_FIND_CHUNK_CHILD",
                            {{"P11TLS_TESTMOD_FIND_CHUNK", "1"}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

// A module that never ends a search: the listing stops at its limit with an
// error, never a partial list, and never loops forever.
TEST(FindEndlessChild, ClearError) {
    if (!in_child("P11TLS_FIND_ENDLESS_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0);
    int n = 0;
    EXPECT_EQ(p11tls_list_objects(ctx.get(), "pkcs11:token=p11tls-test;type=cert", 0, count_object, &n),
              P11TLS_E_UNSUPPORTED);
    EXPECT_NE(std::string(p11tls_last_error_detail()).find("more than 100000"), std::string::npos)
        << p11tls_last_error_detail();
    EXPECT_EQ(n, 0) << "a partial list was given";
}

TEST(Search, EndlessSearchRefused) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child("FindEndlessChild.*", "P11TLS_FIND_ENDLESS_CHILD",
                            {{"P11TLS_TESTMOD_FIND_ENDLESS", "1"}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}
