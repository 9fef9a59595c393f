#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# Fork 500 times while 2 threads sign (shared and own keys); every child must
# sign with the inherited and a fresh key within 2 s. reset_on_fork = false.
# Not under ASan: 1 child of 500 hung in 9 of 14 ASan runs: a child forked
# while another thread holds a lock of GCC 12's libasan allocator hangs on
# it (gdb backtrace in doc/fork-model.md; never seen in the plain and TSan
# builds);
# the storm runs in the plain and TSan builds.
if [ "${P11TLS_SANITIZER:-}" = asan ]; then
    echo "SKIP: fork storm not run under ASan (see issue 3 note)" >&2
    exit 77
fi
exec bash "${srcdir:-.}/tests/with-token.sh" false ./tests/fork_storm 2 500 "$@"
