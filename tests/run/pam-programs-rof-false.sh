#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pam_p11tls in stacks, forking programs and the man page example, under
# pam_wrapper. reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false bash "${srcdir:-.}/tests/pam/pam_programs_test.sh" "$@"
