// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// p11tls_token_set_pin on the SoftHSM test token: the PIN really changes,
// a wrong old PIN is tried once, a new PIN the token would refuse and an
// empty PIN never reach C_Login.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <p11tls/p11tls.hpp>
#include <p11tls/provision.h>

#include "../support/helpers.hpp"

namespace {

const char kToken[] = "pkcs11:token=p11tls-test";

// Answers the PIN function's questions and records them.
struct Answers {
    Answers(std::string o, std::string n) : old_pin(std::move(o)), new_pin(std::move(n)) {}
    std::string old_pin, new_pin;
    bool cancel_old = false;
    std::vector<unsigned> asked;  // flags of each call
};

int answer(void *arg, const char *, const char *, unsigned flags, char *pin, size_t size) {
    auto *a = static_cast<Answers *>(arg);
    a->asked.push_back(flags);
    if ((flags & P11TLS_PIN_CHANGE_OLD) && a->cancel_old) return -1;
    const std::string &p = (flags & P11TLS_PIN_CHANGE_NEW) ? a->new_pin : a->old_pin;
    if (p.size() + 1 > size) return -1;
    memcpy(pin, p.c_str(), p.size() + 1);
    return 0;
}

int set_pin(Answers &a) {
    p11tls_cxx::context ctx;
    ctx.set_pin_fn(answer, &a);
    return p11tls_token_set_pin(ctx.get(), kToken, 0);
}

// Whether pin is the user PIN now: a fresh login (logout first) with it.
bool pin_is(const std::string &pin) {
    p11tls_cxx::context ctx;
    p11tls_cxx::key key;
    return p11tls_key_open(ctx.get(), (th::key_uri("p256", false) + ";pin-value=" + pin).c_str(),
                           P11TLS_KEY_OPEN_VERIFY_PIN, key.put()) == 0;
}

// Leaves the token logged out (PKCS#11 login is process-wide: an earlier
// test's login would let C_SetPIN run without a C_Login): a VERIFY_PIN
// open logs out, then its wrong PIN is refused.
void log_out() { ASSERT_FALSE(pin_is("00000")); }

}  // namespace

TEST(SetPin, ChangesThePinAndBack) {
    REQUIRE_TOKEN();
    log_out();
    Answers a{th::test_pin(), "56789"};
    ASSERT_EQ(set_pin(a), 0) << p11tls_last_error_detail();
    ASSERT_EQ(a.asked.size(), 2u);
    EXPECT_TRUE(a.asked[0] & P11TLS_PIN_CHANGE_OLD);
    EXPECT_TRUE(a.asked[1] & P11TLS_PIN_CHANGE_NEW);
    EXPECT_TRUE(pin_is("56789"));
    EXPECT_FALSE(pin_is(th::test_pin()));
    Answers back{"56789", th::test_pin()};
    ASSERT_EQ(set_pin(back), 0) << p11tls_last_error_detail();
    EXPECT_TRUE(pin_is(th::test_pin()));
}

// The token stays logged in after the change (PKCS#11 login is
// session-wide): a URI that gives the new PIN opens keys at once, one that
// gives the old PIN is refused (lib/world/login.cpp check_uri_pin).
TEST(SetPin, NewPinInUriWhileLoggedIn) {
    REQUIRE_TOKEN();
    log_out();
    Answers a{th::test_pin(), "56789"};
    ASSERT_EQ(set_pin(a), 0) << p11tls_last_error_detail();
    p11tls_cxx::key with_new, with_old;
    EXPECT_EQ(p11tls_key_open(nullptr, (th::key_uri("p256", false) + ";pin-value=56789").c_str(), 0,
                              with_new.put()),
              0)
        << p11tls_last_error_detail();
    EXPECT_EQ(p11tls_key_open(nullptr, th::key_uri("p256").c_str(), 0, with_old.put()), P11TLS_E_PIN_INCORRECT);
    Answers back{"56789", th::test_pin()};
    ASSERT_EQ(set_pin(back), 0) << p11tls_last_error_detail();
    EXPECT_TRUE(pin_is(th::test_pin()));
}

TEST(SetPin, WrongOldPinTriedOnce) {
    REQUIRE_TOKEN();
    log_out();
    Answers a{"99999", "56789"};
    EXPECT_EQ(set_pin(a), P11TLS_E_PIN_INCORRECT);
    EXPECT_EQ(a.asked.size(), 2u);  // old and new, no third question
    EXPECT_TRUE(pin_is(th::test_pin()));
}

// The length check comes before any login: with a wrong old PIN as well,
// the answer is the length (a login would have said PIN_INCORRECT).
// SoftHSM's range is 4 to 255, and a PIN longer than 255 bytes does not
// fit the PIN buffer: only the short side can be tried here.
TEST(SetPin, NewPinTooShortBeforeLogin) {
    REQUIRE_TOKEN();
    log_out();
    Answers a{"99999", "12"};
    EXPECT_EQ(set_pin(a), P11TLS_E_PIN_LEN_RANGE);
    EXPECT_NE(std::string(p11tls_last_error_detail()).find("4 to 255"), std::string::npos)
        << p11tls_last_error_detail();
    EXPECT_TRUE(pin_is(th::test_pin()));
}

TEST(SetPin, EmptyOrCancelledPinIsACancel) {
    REQUIRE_TOKEN();
    log_out();
    Answers empty_new{"99999", ""};
    EXPECT_EQ(set_pin(empty_new), P11TLS_E_PIN_CANCELLED);
    Answers empty_old{"", "56789"};
    EXPECT_EQ(set_pin(empty_old), P11TLS_E_PIN_CANCELLED);
    EXPECT_EQ(empty_old.asked.size(), 1u);
    Answers cancelled{"x", "56789"};
    cancelled.cancel_old = true;
    EXPECT_EQ(set_pin(cancelled), P11TLS_E_PIN_CANCELLED);
    EXPECT_EQ(cancelled.asked.size(), 1u);
    EXPECT_TRUE(pin_is(th::test_pin()));
}

TEST(SetPin, BadArguments) {
    REQUIRE_TOKEN();
    Answers a{th::test_pin(), "56789"};
    p11tls_cxx::context ctx;
    ctx.set_pin_fn(answer, &a);
    EXPECT_EQ(p11tls_token_set_pin(ctx.get(), nullptr, 0), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_token_set_pin(ctx.get(), kToken, 1), P11TLS_E_INVALID_ARGUMENT);
    EXPECT_EQ(p11tls_token_set_pin(ctx.get(), "pkcs11:token=no-such-token", 0), P11TLS_E_TOKEN_NOT_PRESENT);
    EXPECT_TRUE(a.asked.empty());
    p11tls_cxx::context no_fn;
    EXPECT_EQ(p11tls_token_set_pin(no_fn.get(), kToken, 0), P11TLS_E_PIN_REQUIRED);
}
