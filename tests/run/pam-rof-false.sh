#!/bin/bash
# The PAM module under pam_wrapper and pamtester. reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false bash "${srcdir:-.}/tests/pam/pam_test.sh" "$@"
