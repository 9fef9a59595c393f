#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# p11tls serve tests (TLS handshakes with gnutls-cli and openssl s_client)
# against a private SoftHSM token, reset_on_fork = false.
export P11TLS_CLI=${P11TLS_CLI:-./src/p11tls}
exec bash "${srcdir:-.}/tests/with-token.sh" false bash "${srcdir:-.}/tests/cli/serve_test.sh" "$@"
