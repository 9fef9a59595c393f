// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: the header-only C++ wrappers (include/p11tls/p11tls.hpp).
#include <p11tls/p11tls.hpp>

#include "../support/helpers.hpp"

TEST(CxxWrapper, SignVerifyAndErrors) {
    REQUIRE_TOKEN();
    auto ctx = p11tls_cxx::context::process_default();
    p11tls_cxx::key key(ctx, th::key_uri("p384"));
    EXPECT_EQ(key.algorithm(), P11TLS_ALG_ECDSA);
    EXPECT_EQ(key.bits(), 384);
    EXPECT_EQ(key.spki(), th::cert_spki("p384"));
    EXPECT_TRUE(key.supports(P11TLS_SIG_ECDSA_SECP384R1_SHA384));
    const std::vector<uint8_t> msg = {'h', 'e', 'l', 'l', 'o'};
    auto sig = key.sign(P11TLS_SIG_ECDSA_SECP384R1_SHA384, msg);
    EXPECT_EQ(th::verify_data("p384", GNUTLS_SIGN_ECDSA_SHA384, msg.data(), msg.size(), sig.data(),
                              sig.size()),
              0);
    try {
        p11tls_cxx::key missing(ctx, "pkcs11:token=p11tls-test;object=no-such-key;pin-value=" +
                                         th::test_pin());
        FAIL() << "opening a missing key did not throw";
    } catch (const p11tls_cxx::error &e) {
        EXPECT_EQ(e.code(), P11TLS_E_NOT_FOUND);
        EXPECT_NE(std::string(e.what()).find("no private key"), std::string::npos) << e.what();
    }
}

TEST(CxxWrapper, OwnContextWithModule) {
    REQUIRE_TOKEN();
    p11tls_cxx::context ctx;
    ctx.set_flags(P11TLS_CTX_NO_REGISTERED_MODULES);
    ctx.add_module(th::env("P11TLS_SOFTHSM_MODULE"));
    auto der = ctx.cert_der("pkcs11:token=p11tls-test;object=p256;type=cert");
    EXPECT_EQ(der, th::cert_der("p256"));
    p11tls_cxx::key key(ctx, th::key_uri("ed25519"));
    auto sig = key.sign(P11TLS_SIG_ED25519, {1, 2, 3});
    EXPECT_EQ(sig.size(), 64u);

    // The C calls fill the wrappers in place (put()), for their return
    // codes; ownership moves between wrappers and raw pointers.
    p11tls_cxx::context own{nullptr};
    EXPECT_EQ(own.get(), nullptr);
    ASSERT_EQ(p11tls_ctx_new(own.put()), 0);
    ASSERT_NE(own.get(), nullptr);
    own.set_flags(P11TLS_CTX_NO_REGISTERED_MODULES);
    own.add_module(th::env("P11TLS_SOFTHSM_MODULE"));
    p11tls_cxx::key none;
    EXPECT_FALSE(none);
    EXPECT_EQ(p11tls_key_open(own.get(), th::key_uri("no-such-key").c_str(), 0, none.put()), P11TLS_E_NOT_FOUND);
    EXPECT_FALSE(none);
    p11tls_cxx::key filled;
    ASSERT_EQ(p11tls_key_open(own.get(), th::key_uri("p256").c_str(), 0, filled.put()), 0)
        << p11tls_last_error_detail();
    p11tls_cxx::key adopted(filled.release());
    EXPECT_FALSE(filled);
    p11tls_cxx::key moved = std::move(adopted);
    EXPECT_FALSE(adopted);
    EXPECT_EQ(moved.spki(), th::cert_spki("p256"));
}
