# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# Sourced by the test scripts (and bench/run.sh): where SoftHSM2's PKCS#11
# module is.

# shellcheck source=first_file.sh
. "$(dirname "${BASH_SOURCE[0]}")/first_file.sh"

# Prints the path of libsofthsm2.so (the Debian multiarch path first, then
# other architectures and distribution layouts); prints nothing and
# returns 1 if there is none.
find_softhsm_module() {
    first_file /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
               /usr/lib/*/softhsm/libsofthsm2.so \
               /usr/lib/softhsm/libsofthsm2.so \
               /usr/lib64/pkcs11/libsofthsm2.so \
               /usr/lib/pkcs11/libsofthsm2.so \
               /usr/local/lib/softhsm/libsofthsm2.so
}
