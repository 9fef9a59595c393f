// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Unit tests: the header's version is configure.ac's (AC_INIT), and the
// run-time version call agrees with it.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "config.h"

#include <p11tls/p11tls.h>

TEST(Version, HeaderMatchesConfigure) {
    EXPECT_STREQ(P11TLS_VERSION, PACKAGE_VERSION);
    unsigned major = 0, minor = 0, patch = 0;
    ASSERT_EQ(std::sscanf(PACKAGE_VERSION, "%u.%u.%u", &major, &minor, &patch), 3);
    EXPECT_EQ(P11TLS_VERSION_NUMBER, (major << 16) | (minor << 8) | patch);
}

TEST(Version, CheckVersion) {
    EXPECT_STREQ(p11tls_check_version(nullptr), PACKAGE_VERSION);
    EXPECT_STREQ(p11tls_check_version(PACKAGE_VERSION), PACKAGE_VERSION);
    EXPECT_STREQ(p11tls_check_version("0"), PACKAGE_VERSION);
    EXPECT_EQ(p11tls_check_version("255.0.0"), nullptr);
    EXPECT_EQ(p11tls_check_version("1.2.3.4"), nullptr);
    EXPECT_EQ(p11tls_check_version("1.x"), nullptr);
    EXPECT_EQ(p11tls_check_version("-1"), nullptr);
}
