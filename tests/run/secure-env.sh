#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# P11TLS_DEBUG is ignored by a setuid program (tests/setuid/). No token needed.
exec bash "${srcdir:-.}/tests/setuid/secure_env_test.sh" ./tests/setuid/secure_env "$@"
