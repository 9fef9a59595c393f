#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# make install puts pam_p11tls.so where libpam finds it by its bare name (or,
# for another prefix, where it does not, as configure warns).
exec bash "${srcdir:-.}/tests/with-token.sh" false bash "${srcdir:-.}/tests/pam/pam_install_test.sh" "$@"
