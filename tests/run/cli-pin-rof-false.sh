#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# The tool's PIN input (empty, too long; --pin-fd and the terminal prompt)
# against a private SoftHSM token through the counting test module.
export P11TLS_CLI=${P11TLS_CLI:-./src/p11tls}
exec bash "${srcdir:-.}/tests/with-token.sh" false bash "${srcdir:-.}/tests/cli/pin_test.sh" "$@"
