// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: the re-executed child runner (tests/support/helpers.cpp)
// itself. A child filter that selects no test must fail its caller: a
// mistyped filter would otherwise run nothing, exit 0 and pass.
#include <gtest/gtest.h>

#include "../support/helpers.hpp"

TEST(ChildRunner, FilterThatSelectsNoTestFails) {
    int st = th::run_exec_child("NoSuchSuiteChild.*", "P11TLS_NO_SUCH_CHILD", 10);
    EXPECT_EQ(st, th::kNoSuchChild) << th::describe_status(st);
    EXPECT_FALSE(th::exited_ok(st));
}
