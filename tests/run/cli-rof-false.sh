#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# CLI tests against a private SoftHSM token, reset_on_fork = false.
export P11TLS_CLI=${P11TLS_CLI:-./src/p11tls}
exec bash "${srcdir:-.}/tests/with-token.sh" false bash "${srcdir:-.}/tests/cli/cli_test.sh" "$@"
