#!/bin/bash
# Fork 500 times while 4 threads sign (shared and own keys); every child must
# sign with the inherited and a fresh key within 2 s. reset_on_fork = true.
exec bash "${srcdir:-.}/tests/with-token.sh" true ./tests/fork_storm 4 500 "$@"
