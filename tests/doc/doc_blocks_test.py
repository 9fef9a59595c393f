#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
"""doc_blocks_test.py: every code block of README.md and doc/*.md works as
written (README.md, "Code blocks in the documentation").

The blocks are read from the files at test time, never copied:
  ```c     compiled against the built library (-Wall -Wextra -Werror) with
           the main() given by the line before the block,
           <!-- doc-test: main: BODY -->, and run; exit status 0 passes
  ```sh    run by bash (-e), the built p11tls first on PATH, unless the line
           before is <!-- doc-test: skip: REASON -->
  ```text  never run (diagrams, transcripts)
A block without a language, or a c block without its main, fails.

Every block runs in a fresh directory holding the test token's ca.pem and
<label>.pem files and pin.txt (the PIN, mode 0600), with standard input
"PIN\\n", bounded by a timeout. Run through tests/with-token.sh
(tests/suites/doc-blocks.test). Output: TAP. Exit status 0 all passed, 1 a
block failed, 77 skipped.
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ME = "doc_blocks_test.py"
FENCE = re.compile(r"^```(\S*)\s*$")
MARK = re.compile(r"^<!--\s*doc-test:\s*(main|skip):\s*(.*?)\s*-->\s*$")


def skip(why):
    print(f"{ME}: SKIP: {why}", file=sys.stderr)
    sys.exit(77)


def blocks(path):
    """Yields (line number, language, marker kind, marker text, code)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        prev = lines[start - 1] if start > 0 else ""
        mk = MARK.match(prev)
        yield (start + 1, lang, mk.group(1) if mk else None, mk.group(2) if mk else None,
               "\n".join(lines[start + 1:j]) + "\n")
        i = j + 1


def main():
    srcdir = os.path.abspath(os.environ.get("top_srcdir") or os.environ.get("srcdir") or ".")
    builddir = os.path.abspath(os.environ.get("abs_top_builddir") or os.environ.get("top_builddir") or ".")
    tokdir = os.environ.get("P11TLS_TEST_DIR")
    if not tokdir:
        skip("P11TLS_TEST_DIR not set (run through tests/with-token.sh)")
    libs = os.path.join(builddir, "lib", ".libs")
    if not os.path.exists(os.path.join(libs, "libp11tls.so")):
        skip(f"{libs}/libp11tls.so not built")
    pin = os.environ.get("P11TLS_TEST_PIN", "1234")
    cc = shlex.split(os.environ.get("CC") or "cc")
    # The blocks show how to use the library; the sanitizer builds check the
    # library itself (and their runtime would have to come first).
    if os.environ.get("P11TLS_SANITIZER"):
        skip(f"documentation blocks do not run in the {os.environ['P11TLS_SANITIZER']} build")
    try:
        pc = subprocess.run(["pkg-config", "--cflags", "--libs", "gnutls", "p11-kit-1"],
                            check=True, capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        skip("pkg-config gnutls p11-kit-1 failed")
    env = dict(os.environ)
    env["PATH"] = os.path.join(builddir, "src") + os.pathsep + env.get("PATH", "")

    files = [os.path.join(srcdir, "README.md")] + sorted(glob.glob(os.path.join(srcdir, "doc", "*.md")))
    n = fails = 0
    work = tempfile.mkdtemp(prefix="doc_blocks.")
    try:
        for path in files:
            rel = os.path.relpath(path, srcdir)
            for line, lang, kind, text, code in blocks(path):
                n += 1
                name = f"{rel}:{line} ```{lang}"
                ok, why, out = True, "", ""
                if lang == "text":
                    print(f"ok {n} - {name} # SKIP text: never run")
                    continue
                if kind == "skip":
                    if lang == "c" or not text:
                        ok, why = False, "a c block is always run; a skip needs a reason"
                    else:
                        print(f"ok {n} - {name} # SKIP {text}")
                        continue
                elif lang not in ("c", "sh"):
                    ok, why = False, "no language: mark it ```text (never run), ```sh or ```c"
                elif lang == "c" and kind != "main":
                    ok, why = False, "a c block needs <!-- doc-test: main: BODY --> on the line before"
                if ok:
                    d = os.path.join(work, f"block{n}")
                    os.mkdir(d)
                    for f in glob.glob(os.path.join(tokdir, "*.pem")):
                        if not f.endswith("-key.pem"):
                            shutil.copy(f, d)
                    fd = os.open(os.path.join(d, "pin.txt"), os.O_WRONLY | os.O_CREAT, 0o600)
                    os.write(fd, pin.encode())
                    os.close(fd)
                    if lang == "c":
                        src = os.path.join(d, "block.c")
                        with open(src, "w") as f:
                            f.write(f'#line {line + 1} "{rel}"\n{code}\n'
                                    f'#line 1 "{rel}:{line}: main"\nint main(void) {{ {text} }}\n')
                        cmd = cc + ["-Wall", "-Wextra", "-Werror", "-o", os.path.join(d, "block"), src,
                                    "-I" + os.path.join(srcdir, "include"), "-L" + libs, "-lp11tls",
                                    "-Wl,-rpath," + libs] + pc
                        r = subprocess.run(cmd, capture_output=True, text=True)
                        out = r.stdout + r.stderr
                        if r.returncode != 0:
                            ok, why = False, "does not compile"
                        run = [os.path.join(d, "block")]
                    else:
                        with open(os.path.join(d, "block.sh"), "w") as f:
                            f.write(code)
                        run = ["bash", "-e", os.path.join(d, "block.sh")]
                    if ok:
                        try:
                            r = subprocess.run(run, cwd=d, env=env, input=pin + "\n",
                                               capture_output=True, text=True, timeout=120)
                            out += r.stdout + r.stderr
                            if r.returncode != 0:
                                ok, why = False, f"exit status {r.returncode}"
                        except subprocess.TimeoutExpired as e:
                            ok, why = False, "timed out after 120 s"
                            out += str(e.stdout or "") + str(e.stderr or "")
                if ok:
                    print(f"ok {n} - {name} runs")
                else:
                    fails += 1
                    print(f"not ok {n} - {name}: {why}")
                    for l in out.splitlines()[-30:]:
                        print(f"#   {l}")
    finally:
        if not os.environ.get("P11TLS_KEEP_TMP"):
            shutil.rmtree(work, ignore_errors=True)
    print(f"1..{n}")
    sys.exit(1 if fails else 0)


main()
