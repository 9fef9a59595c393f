#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# The PAM module under pam_wrapper and pamtester. reset_on_fork = true.
exec bash "${srcdir:-.}/tests/with-token.sh" true bash "${srcdir:-.}/tests/pam/pam_test.sh" "$@"
