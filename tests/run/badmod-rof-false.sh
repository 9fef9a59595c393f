#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# p11tls among bad modules (copies of the test module: failing C_Initialize,
# failing at random) and with the token directory moved away and back,
# reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false ./tests/badmod_tests "$@"
