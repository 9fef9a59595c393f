#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# Empty and too-long PINs at the PAM prompt (no C_Login), under pam_wrapper
# and pamtester. reset_on_fork = false (no fork involved).
exec bash "${srcdir:-.}/tests/with-token.sh" false bash "${srcdir:-.}/tests/pam/pam_pin_test.sh" "$@"
