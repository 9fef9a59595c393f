#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# tpm2-pkcs11 suite (tests/modules/tpm2_test.sh): swtpm + tpm2-abrmd on a
# private D-Bus bus in private namespaces, only that module registered in
# p11-kit.
export P11TLS_CLI=${P11TLS_CLI:-./src/p11tls}
exec timeout --kill-after=10 "${P11TLS_TEST_TIMEOUT:-300}" bash "${srcdir:-.}/tests/modules/tpm2_test.sh" "$@"
