#!/bin/bash
# Integration tests against a private SoftHSM token, reset_on_fork = true.
exec bash "${srcdir:-.}/tests/with-token.sh" true ./tests/integration_tests "$@"
