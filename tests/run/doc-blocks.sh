#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# Every code block of README.md and doc/*.md, as written, on the test token.
exec bash "${srcdir:-.}/tests/with-token.sh" false python3 "${srcdir:-.}/tests/doc/doc_blocks_test.py" "$@"
