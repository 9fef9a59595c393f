// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: untrusted URIs through the public C API, against the test
// token. A hostile variant of a URI that names a real key opens nothing
// (P11TLS_E_INVALID_URI, no key, no partial match), and a URI's module-path
// loads no code unless the context allows it.
#include <gtest/gtest.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <p11tls/p11tls.h>

#include "../support/helpers.hpp"

namespace {

// Every variant below differs from a URI that opens the p256 key only in a
// way a careless parser would skip over.
std::vector<std::string> hostile_variants(const std::string &good) {
    return {
        good + ";object=p256",                      // attribute twice
        good + ";object=p256%00",                   // object twice, with a NUL
        "pkcs11:;" + good.substr(7),                // empty first element
        good + "?x-pad=" + std::string(1 << 20, 'a'),  // 1 MiB
        good + " ",                                 // raw whitespace
        good + ";slot-id=99999999999999999999999",  // overflowing slot-id
        good + ";frobnicate=1",                     // unknown attribute
        good + "?pin-sorce=/nonexistent",           // misspelt query attribute
        good + ";id=%0",                            // truncated %-encoding
        good + ";type=bogus",                       // wrong value type
    };
}

// The testmod of tests/module: a PKCS#11 module no integration test loads
// otherwise, so whether it is mapped tells whether a URI loaded it.
std::string testmod_path() {
    const char *e = getenv("P11TLS_TESTMOD");
    std::string p = (e && *e) ? e : "./tests/module/.libs/libp11tls-testmod.so";
    char buf[PATH_MAX];
    return realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

bool mapped(const std::string &path) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line))
        if (line.find(path) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST(HostileUri, VariantsOfAGoodUriOpenNothing) {
    REQUIRE_TOKEN();
    const std::string good = th::key_uri("p256");
    {
        p11tls_cxx::key key;  // the control: the unaltered URI opens the key
        ASSERT_EQ(p11tls_key_open(nullptr, good.c_str(), 0, key.put()), 0) << p11tls_last_error_detail();
    }
    for (const std::string &u : hostile_variants(good)) {
        const std::string shown = u.substr(0, 120);
        p11tls_cxx::key key;
        EXPECT_EQ(p11tls_key_open(nullptr, u.c_str(), 0, key.put()), P11TLS_E_INVALID_URI) << shown;
        EXPECT_EQ(key.get(), nullptr) << shown;
        EXPECT_STRNE(p11tls_last_error_detail(), "") << shown;
    }
    // Certificates are looked up through the same parser.
    const std::string cert = th::key_uri("p256", false, "cert");
    uint8_t *der = nullptr;
    size_t len = 0;
    ASSERT_EQ(p11tls_cert_get_der(nullptr, cert.c_str(), &der, &len), 0) << p11tls_last_error_detail();
    p11tls_free(der);
    for (const std::string &u : hostile_variants(cert)) {
        der = nullptr;
        EXPECT_EQ(p11tls_cert_get_der(nullptr, u.c_str(), &der, &len), P11TLS_E_INVALID_URI) << u.substr(0, 120);
        EXPECT_EQ(der, nullptr);
    }
}

// module-path names code to load into the process: from a URI that someone
// else wrote, it loads nothing unless the context says
// P11TLS_CTX_ALLOW_MODULE_PATH (the default context never does).
TEST(HostileUri, ModulePathLoadsNothingUnlessAllowed) {
    REQUIRE_TOKEN();
    const std::string mod = testmod_path();
    if (mod.empty()) GTEST_SKIP() << "tests/module/.libs/libp11tls-testmod.so not built";
    ASSERT_FALSE(mapped(mod)) << "some earlier test loaded " << mod;
    const std::string uri = th::key_uri("p256") + "?module-path=" + mod;

    p11tls_cxx::key k1;
    EXPECT_EQ(p11tls_key_open(nullptr, uri.c_str(), 0, k1.put()), P11TLS_E_NOT_PERMITTED);
    EXPECT_FALSE(mapped(mod)) << "the default context loaded a URI's module-path";

    p11tls_ctx *ctx = nullptr;
    ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
    ASSERT_EQ(p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES), 0);
    p11tls_cxx::key k2;
    EXPECT_EQ(p11tls_key_open(ctx, uri.c_str(), 0, k2.put()), P11TLS_E_NOT_PERMITTED);
    EXPECT_EQ(k2.get(), nullptr);
    EXPECT_FALSE(mapped(mod)) << "a context without ALLOW_MODULE_PATH loaded a URI's module-path";

    // The control: allowed, the same URI loads the module and opens the key.
    ASSERT_EQ(p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES | P11TLS_CTX_ALLOW_MODULE_PATH), 0);
    {
        p11tls_cxx::key k3;
        EXPECT_EQ(p11tls_key_open(ctx, uri.c_str(), 0, k3.put()), 0) << p11tls_last_error_detail();
        EXPECT_TRUE(mapped(mod));
    }
    p11tls_ctx_free(ctx);
}
