# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# Sourced by the tests of tokens forwarded by `p11-kit server`: sets
# client to p11-kit's RPC client module, or exits 77 (skip) where it or the
# p11-kit tool is missing. Needs me (the test's name).
# shellcheck source=../support/first_file.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/first_file.sh"
client=$(first_file /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so \
                    /usr/lib/*/pkcs11/p11-kit-client.so \
                    /usr/lib64/pkcs11/p11-kit-client.so \
                    /usr/lib/pkcs11/p11-kit-client.so)
if [ -z "$client" ] || ! command -v p11-kit >/dev/null 2>&1; then
    echo "$me: SKIP: p11-kit or p11-kit-client.so not found (install p11-kit, p11-kit-modules)" >&2
    exit 77
fi
