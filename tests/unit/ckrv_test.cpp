// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Unit tests: the CK_RV -> P11TLS_E_* table (lib/pkcs11/ckrv).
#include <gtest/gtest.h>

#include <string>

#include <p11tls/p11tls.h>

#include "pkcs11/ckrv.hpp"

using p11tls::ckr_name;
using p11tls::ckr_to_error;

TEST(Ckrv, Names) {
    EXPECT_STREQ(ckr_name(CKR_OK), "CKR_OK");
    EXPECT_STREQ(ckr_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
    EXPECT_STREQ(ckr_name(CKR_PIN_LOCKED), "CKR_PIN_LOCKED");
    EXPECT_STREQ(ckr_name(CKR_TOKEN_NOT_PRESENT), "CKR_TOKEN_NOT_PRESENT");
    EXPECT_STREQ(ckr_name(CKR_MECHANISM_INVALID), "CKR_MECHANISM_INVALID");
    EXPECT_STREQ(ckr_name(CKR_BUFFER_TOO_SMALL), "CKR_BUFFER_TOO_SMALL");
    const char *unknown = ckr_name(0x7fff1234UL);
    ASSERT_NE(unknown, nullptr);
    EXPECT_NE(std::string(unknown), "");
}

TEST(Ckrv, PinCodes) {
    EXPECT_EQ(ckr_to_error(CKR_PIN_INCORRECT), P11TLS_E_PIN_INCORRECT);
    EXPECT_EQ(ckr_to_error(CKR_PIN_INVALID), P11TLS_E_PIN_INCORRECT);
    EXPECT_EQ(ckr_to_error(CKR_PIN_LEN_RANGE), P11TLS_E_PIN_INCORRECT);
    EXPECT_EQ(ckr_to_error(CKR_PIN_LOCKED), P11TLS_E_PIN_LOCKED);
    EXPECT_EQ(ckr_to_error(CKR_USER_NOT_LOGGED_IN), P11TLS_E_PIN_REQUIRED);
}

TEST(Ckrv, TokenCodes) {
    EXPECT_EQ(ckr_to_error(CKR_TOKEN_NOT_PRESENT), P11TLS_E_TOKEN_NOT_PRESENT);
    EXPECT_EQ(ckr_to_error(CKR_DEVICE_REMOVED), P11TLS_E_TOKEN_NOT_PRESENT);
    EXPECT_EQ(ckr_to_error(CKR_SLOT_ID_INVALID), P11TLS_E_TOKEN_NOT_PRESENT);
    EXPECT_EQ(ckr_to_error(CKR_DEVICE_ERROR), P11TLS_E_DEVICE);
    EXPECT_EQ(ckr_to_error(CKR_GENERAL_ERROR), P11TLS_E_DEVICE);
}

TEST(Ckrv, WriteCodes) {
    EXPECT_EQ(ckr_to_error(CKR_TOKEN_WRITE_PROTECTED), P11TLS_E_READ_ONLY);
    EXPECT_EQ(ckr_to_error(CKR_SESSION_READ_ONLY), P11TLS_E_READ_ONLY);
}

TEST(Ckrv, MechanismCodes) {
    EXPECT_EQ(ckr_to_error(CKR_MECHANISM_INVALID), P11TLS_E_UNSUPPORTED);
    EXPECT_EQ(ckr_to_error(CKR_MECHANISM_PARAM_INVALID), P11TLS_E_UNSUPPORTED);
    EXPECT_EQ(ckr_to_error(CKR_KEY_TYPE_INCONSISTENT), P11TLS_E_UNSUPPORTED);
    EXPECT_EQ(ckr_to_error(CKR_FUNCTION_NOT_SUPPORTED), P11TLS_E_UNSUPPORTED);
}

TEST(Ckrv, OtherCodes) {
    EXPECT_EQ(ckr_to_error(CKR_OK), P11TLS_E_SUCCESS);
    EXPECT_EQ(ckr_to_error(CKR_BUFFER_TOO_SMALL), P11TLS_E_BUFFER_TOO_SMALL);
    EXPECT_EQ(ckr_to_error(CKR_HOST_MEMORY), P11TLS_E_MEMORY);
    EXPECT_EQ(ckr_to_error(CKR_CRYPTOKI_NOT_INITIALIZED), P11TLS_E_MODULE);
}

TEST(Ckrv, UnknownCodeIsDevice) {
    EXPECT_EQ(ckr_to_error(0x7fff1234UL), P11TLS_E_DEVICE);
    EXPECT_EQ(ckr_to_error(CKR_VENDOR_DEFINED | 1), P11TLS_E_DEVICE);
}

// No module answer other than CKR_OK may become a success: a failure path
// that maps one (CKR_USER_ALREADY_LOGGED_IN, CKR_CRYPTOKI_ALREADY_INITIALIZED
// did) would return 0 from p11tls_key_sign with no signature written.
TEST(Ckrv, OnlyOkMapsToSuccess) {
    EXPECT_LT(ckr_to_error(CKR_USER_ALREADY_LOGGED_IN), 0);
    EXPECT_LT(ckr_to_error(CKR_CRYPTOKI_ALREADY_INITIALIZED), 0);
    for (CK_RV rv = 1; rv <= 0x200; ++rv) EXPECT_LT(ckr_to_error(rv), 0) << std::hex << rv;
}
