#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# default_pin_test.sh: runs each case of tests/gnutls/default_pin (the
# default context asks GnuTLS's process-wide PIN function) in a process of
# its own. Run through tests/with-token.sh (tests/suites/default-pin.*.test).
# Exit status: 0 all cases passed, 1 one failed, 77 skipped.
prog=${abs_top_builddir:-${top_builddir:-.}}/tests/gnutls/default_pin
[ -x "$prog" ] || { echo "default_pin_test.sh: SKIP: $prog not built" >&2; exit 77; }
. "$(dirname "$0")/../support/cases.sh"
run_cases "$prog" none gnutls cancel own-ctx
