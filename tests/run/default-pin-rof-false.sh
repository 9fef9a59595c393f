#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# The default context's PIN from GnuTLS's PIN function. reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false bash "${srcdir:-.}/tests/gnutls/default_pin_test.sh" "$@"
