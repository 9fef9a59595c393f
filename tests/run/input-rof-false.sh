#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# PIN input and pin-source checks, wiping and searches against the counting
# test module (tests/module/pin_input_test.cpp and its neighbours),
# reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false ./tests/input_tests "$@"
