#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# p11tls serve/connect against gnutls-cli, gnutls-serv, openssl s_client and
# s_server (tests/cli/tls_peers_test.sh), SoftHSM reset_on_fork = true.
export P11TLS_CLI=${P11TLS_CLI:-./src/p11tls}
exec bash "${srcdir:-.}/tests/with-token.sh" true bash "${srcdir:-.}/tests/cli/tls_peers_test.sh" "$@"
