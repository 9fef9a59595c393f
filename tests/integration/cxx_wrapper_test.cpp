// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: the header-only C++ wrappers (include/p11tls/p11tls.hpp,
// include/p11tls/provision.hpp).
#include <p11tls/p11tls.hpp>
#include <p11tls/provision.hpp>

#include <algorithm>
#include <cstdio>

#include <p11-kit/pkcs11.h>

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

namespace {

const std::string kToken = "pkcs11:token=p11tls-test";

std::string with_pin(const std::string &uri) { return uri + "?pin-value=" + th::test_pin(); }

// Expects fn to throw p11tls_cxx::error with code.
template <typename Fn>
void expect_error(int code, Fn fn) {
    try {
        fn();
        ADD_FAILURE() << "no error thrown, expected " << p11tls_strerror_name(code);
    } catch (const p11tls_cxx::error &e) {
        EXPECT_EQ(e.code(), code) << e.what();
    }
}

}  // namespace

// The provisioning wrappers: a key pair generated, certified, its chain
// read back and the objects deleted, with the C API's errors thrown.
TEST(CxxWrapper, Provisioning) {
    REQUIRE_TOKEN();
    auto ctx = p11tls_cxx::context::process_default();
    auto mechs = p11tls_cxx::token_list_mechanisms(ctx, kToken);
    EXPECT_TRUE(std::any_of(mechs.begin(), mechs.end(), [](const p11tls_cxx::mechanism &m) {
        return m.name == "CKM_EC_KEY_PAIR_GEN" && (m.flags & CKF_GENERATE_KEY_PAIR);
    }));

    p11tls_cxx::key k = p11tls_cxx::key_generate(ctx, with_pin(kToken), "ec:p256", "cxx-gen", {0x5c});
    EXPECT_EQ(k.algorithm(), P11TLS_ALG_ECDSA);
    EXPECT_EQ(k.bits(), 256);
    EXPECT_FALSE(k.sign(P11TLS_SIG_ECDSA_SECP256R1_SHA256, {1, 2, 3}).empty());
    expect_error(P11TLS_E_EXISTS, [&] {
        p11tls_cxx::key_generate(ctx, with_pin(kToken), "ec:p256", "cxx-gen");
    });
    expect_error(P11TLS_E_INVALID_ARGUMENT, [&] {
        p11tls_cxx::key_generate(ctx, with_pin(kToken), "ec:p999", "cxx-gen-2");
    });

    // Label (the common name) and ID (the key's) by default.
    const auto der = th::self_signed(with_pin(kToken + ";object=cxx-gen;type=private"), "cxx-gen");
    ASSERT_FALSE(der.empty());
    const std::string cert_uri = p11tls_cxx::cert_write(ctx, with_pin(kToken), der);
    EXPECT_NE(cert_uri.find("object=cxx-gen"), std::string::npos) << cert_uri;
    EXPECT_NE(cert_uri.find("id=%5C"), std::string::npos) << cert_uri;
    EXPECT_EQ(p11tls_cxx::cert_write(ctx, with_pin(kToken), der, {}, {}, P11TLS_CERT_WRITE_SKIP_EXISTING),
              "");
    expect_error(P11TLS_E_EXISTS, [&] { p11tls_cxx::cert_write(ctx, with_pin(kToken), der); });
    auto chain = p11tls_cxx::cert_get_chain(ctx, cert_uri);
    ASSERT_EQ(chain.size(), 1u);  // self-signed: the leaf is its own root
    EXPECT_EQ(chain[0], der);

    // Key pair and certificate share label and ID: one URI names three.
    const std::string all = with_pin(kToken + ";object=cxx-gen");
    expect_error(P11TLS_E_AMBIGUOUS, [&] { p11tls_cxx::object_delete(ctx, all); });
    EXPECT_EQ(p11tls_cxx::object_delete(ctx, all, P11TLS_DELETE_MULTIPLE), 3);
    expect_error(P11TLS_E_NOT_FOUND, [&] { p11tls_cxx::object_delete(ctx, all); });
}

namespace {

// Old and new PIN for token_set_pin, by the PIN function's flags.
struct PinChange {
    std::string old_pin, new_pin;
    int asked = 0;
};

int change_pin_fn(void *arg, const char *, const char *, unsigned flags, char *pin, size_t size) {
    auto *p = static_cast<PinChange *>(arg);
    ++p->asked;
    const std::string &v = (flags & P11TLS_PIN_CHANGE_NEW) ? p->new_pin : p->old_pin;
    return snprintf(pin, size, "%s", v.c_str()) < (int)size ? 0 : -1;
}

}  // namespace

// token_set_pin through a context's PIN function: changed, then changed
// back (which C_SetPIN accepts only with the new PIN as the old one).
TEST(CxxWrapper, TokenSetPin) {
    REQUIRE_TOKEN();
    p11tls_cxx::context ctx;
    ctx.set_flags(P11TLS_CTX_NO_REGISTERED_MODULES);
    ctx.add_module(th::env("P11TLS_SOFTHSM_MODULE"));
    PinChange there{th::test_pin(), "86429753"}, back{"86429753", th::test_pin()};
    ctx.set_pin_fn(change_pin_fn, &there);
    p11tls_cxx::token_set_pin(ctx, kToken);
    EXPECT_EQ(there.asked, 2);
    PinChange wrong{"13572468", th::test_pin()};
    ctx.set_pin_fn(change_pin_fn, &wrong);
    expect_error(P11TLS_E_PIN_INCORRECT, [&] { p11tls_cxx::token_set_pin(ctx, kToken); });
    ctx.set_pin_fn(change_pin_fn, &back);
    p11tls_cxx::token_set_pin(ctx, kToken);
    EXPECT_EQ(back.asked, 2);
}
