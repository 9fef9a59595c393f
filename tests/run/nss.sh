#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# NSS softokn suite (tests/modules/nss_test.sh): its own NSS database, only
# that module registered in p11-kit.
export P11TLS_CLI=${P11TLS_CLI:-./src/p11tls}
exec timeout --kill-after=10 "${P11TLS_TEST_TIMEOUT:-300}" bash "${srcdir:-.}/tests/modules/nss_test.sh" "$@"
