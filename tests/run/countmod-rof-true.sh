#!/bin/bash
# p11tls against the counting test module (tests/module/testmod.c, forwards
# to SoftHSM, logs every call per pid), reset_on_fork = true.
exec bash "${srcdir:-.}/tests/with-token.sh" true ./tests/countmod_tests "$@"
