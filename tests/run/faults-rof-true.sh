#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# p11tls against the test module's injected faults (tests/module/testmod.c:
# shuffled handles, slow calls, fork in C_Initialize), reset_on_fork = true.
exec bash "${srcdir:-.}/tests/with-token.sh" true ./tests/faults_tests "$@"
