#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
"""man_example.py PAGE NAME - prints the example of a man page marked by the
comment lines '.\\" NAME example begin' and '.\\" NAME example end': the
lines of its .EX blocks, roff escapes undone, as a shell script to run
(tests/cli/lifecycle_test.sh, tests/trust/*_test.sh)."""
import sys

if len(sys.argv) != 3:
    sys.exit(__doc__)
on = ex = False
for line in open(sys.argv[1]).read().split("\n"):
    if line.startswith('.\\" %s example begin' % sys.argv[2]):
        on = True
    elif line.startswith('.\\" %s example end' % sys.argv[2]):
        on = False
    elif on and line == ".EX":
        ex = True
    elif on and line == ".EE":
        ex = False
    elif on and ex:
        print(line.replace("\\-", "-").replace("\\(aq", "'").replace("\\e", "\\"))
