#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# A module p11tls does not know failing in the parent after a forked child
# used it (tests/modules/may_share_test.sh), against the test module over a
# private SoftHSM token, reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false bash "${srcdir:-.}/tests/modules/may_share_test.sh" "$@"
