#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# Processes and threads that end or multiply at awkward moments (issue 12:
# other libraries' atfork handlers, forks without handlers, a forking or
# cancelled PIN function, lost logins), reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false ./tests/robust_tests "$@"
