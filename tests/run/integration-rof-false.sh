#!/bin/bash
# Integration tests against a private SoftHSM token, reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false ./tests/integration_tests "$@"
