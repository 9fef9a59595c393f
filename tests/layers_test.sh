#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# layers_test.sh - the structure doc/architecture.md states, checked:
#  1. each folder of lib/ includes only headers of its own layer and of the
#     layers above it, in the order "Layers and files" lists them (the
#     world layer does not reach the GnuTLS glue, for instance);
#  2. the files of the p11tls tool (src/cli) and of the PAM module
#     (src/pam) call each other in no circle: the graph of which object
#     file uses a symbol another defines (nm) has no cycle.
# Exit status: 0 both hold, 1 not, 77 skipped (no nm or python3).
set -u
src=${srcdir:-.}
build=${top_builddir:-.}
for tool in nm python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found" >&2; exit 77; }
done
exec python3 - "$src" "$build" <<'PY'
import glob, os, re, subprocess, sys

src, build = sys.argv[1], sys.argv[2]
failed = 0

# 1. lib/: the layer order is the order of the `lib/NAME/` paragraphs of
# doc/architecture.md's "Layers and files".
doc = open(os.path.join(src, "doc/architecture.md")).read()
section = doc.split("## Layers and files", 1)[1].split("\n## ", 1)[0]
order = re.findall(r"^`lib/([a-z0-9_]+)/`", section, re.M)
bad = []
for path in sorted(glob.glob(os.path.join(src, "lib/*/*.[ch]pp"))):
    layer = path.split(os.sep)[-2]
    if layer not in order:
        bad.append(f"{path}: folder lib/{layer}/ is not in doc/architecture.md")
        continue
    for n, line in enumerate(open(path), 1):
        m = re.match(r'\s*#\s*include\s+"([a-z0-9_]+)/', line)
        if m and m.group(1) in order and order.index(m.group(1)) > order.index(layer):
            bad.append(f"{path}:{n}: lib/{layer}/ includes {m.group(1)}/, a layer below it")
if bad:
    failed += 1
    print("not ok 1 - lib/ includes follow the layers " + " > ".join(order))
    for b in bad:
        print("#   " + b)
else:
    print("ok 1 - lib/ includes follow the layers " + " > ".join(order))

# 2. no circle of calls among the object files of one program.
def graph(objs, prefix):
    defs, undef = {}, {}
    for o in objs:
        out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
        name = os.path.basename(o)[len(prefix):-len(".o")]
        defs[name], undef[name] = set(), set()
        for l in out.splitlines():
            p = l.split()
            if len(p) == 3 and p[1] in "TDRBC":
                defs[name].add(p[2])
            elif len(p) == 2 and p[0] == "U":
                undef[name].add(p[1])
    return {a: {b for b in defs if b != a and undef[a] & defs[b]} for a in defs}

def cycle(edges):
    state, stack = {}, []
    def visit(a):
        state[a] = 1
        stack.append(a)
        for b in sorted(edges[a]):
            if state.get(b) == 1:
                return stack[stack.index(b):] + [b]
            if b not in state:
                c = visit(b)
                if c:
                    return c
        stack.pop()
        state[a] = 2
        return None
    for a in sorted(edges):
        if a not in state:
            c = visit(a)
            if c:
                return c
    return None

n = 1
for what, pattern, prefix in (("src/cli (the p11tls tool)", "src/cli/p11tls-*.o", "p11tls-"),
                              ("src/pam (pam_p11tls)", "src/pam/.libs/*.o", "")):
    n += 1
    objs = sorted(glob.glob(os.path.join(build, pattern)))
    if not objs:
        print(f"ok {n} - {what}: # SKIP not built")
        continue
    c = cycle(graph(objs, prefix))
    if c:
        failed += 1
        print(f"not ok {n} - {what}: files call each other in a circle: " + " -> ".join(c))
    else:
        print(f"ok {n} - {what}: no circle of calls among {len(objs)} files")
print(f"1..{n}")
sys.exit(1 if failed else 0)
PY
