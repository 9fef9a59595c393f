#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# A token forwarded by p11-kit server, used through p11-kit-client.so by a
# process that forks (tests/forward/). SoftHSM runs in the server's processes,
# which do not fork, so only reset_on_fork = false is run.
exec bash "${srcdir:-.}/tests/with-token.sh" false \
    bash "${srcdir:-.}/tests/forward/forwarded_test.sh" ./tests/forwarded_sign "$@"
