#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# p11tls against the counting test module (tests/module/testmod.c, forwards
# to SoftHSM, logs every call per pid), reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false ./tests/countmod_tests "$@"
