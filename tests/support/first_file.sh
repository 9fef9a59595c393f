# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# Sourced by the test scripts: where a library (or another file) is.

# Prints the first of its arguments that is a regular file (the caller's
# shell has expanded globs such as /usr/lib/*/pkcs11/x.so); prints nothing
# and returns 1 if none is.
first_file() {
    local f
    for f in "$@"; do
        if [ -f "$f" ]; then
            echo "$f"
            return 0
        fi
    done
    return 1
}
