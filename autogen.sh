#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# Regenerate the build system (configure, Makefile.in, ...).
set -e
cd "$(dirname "$0")"
mkdir -p m4
autoreconf -fi
