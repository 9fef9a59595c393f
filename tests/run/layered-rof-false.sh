#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# Two dlopened layered callers of p11tls (tests/layered/), SoftHSM
# reset_on_fork = false.
exec bash "${srcdir:-.}/tests/with-token.sh" false ./tests/layered_test \
    ./tests/layered/.libs/libcaller-a.so ./tests/layered/.libs/libcaller-b.so
