#!/bin/bash
# The PAM module under pam_wrapper and pamtester. reset_on_fork = true.
exec bash "${srcdir:-.}/tests/with-token.sh" true bash "${srcdir:-.}/tests/pam/pam_test.sh" "$@"
