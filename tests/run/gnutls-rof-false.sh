#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# GnuTLS glue tests (in-process handshakes) against a private SoftHSM token,
# reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false ./tests/gnutls_tests "$@"
