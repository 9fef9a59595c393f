#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
"""pty_answer.py PROMPT ANSWER COMMAND [ARGS...]
   pty_answer.py PROMPT ANSWER [PROMPT ANSWER]... -- COMMAND [ARGS...]

Runs COMMAND on a new pseudo-terminal (its controlling terminal, so it can
open /dev/tty), waits until PROMPT appears in its output, types ANSWER
(escapes such as \\n are decoded), then waits for the next PROMPT (in the
output after that answer) and types its ANSWER, and so on; then copies the
rest of its output to stdout and exits with COMMAND's exit status. Typing
only once the prompt is there matters: a program that turns echo off with
TCSAFLUSH discards what was typed before. Every wait is bounded: 30 s for
each prompt (exit 124), 30 s for COMMAND to finish after the last answer
(killed, exit 124).
"""
import os
import pty
import select
import signal
import sys
import time


def read_until(fd, want, deadline, out, buf=b""):
    while want is None or want not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return buf, False
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return buf, want is None
        if not chunk:
            return buf, want is None
        buf += chunk
        out.write(chunk)
        out.flush()
    return buf, True


def parse(argv):
    """[(prompt, answer)...], command argv."""
    # "--" after whole PROMPT ANSWER pairs (a command's own "--" is not).
    cut = next((i for i in range(2, len(argv), 2) if argv[i] == "--"), None)
    if cut is not None:
        pairs, command = argv[:cut], argv[cut + 1:]
        if len(pairs) % 2 or not pairs or not command:
            return None, None
    elif len(argv) >= 3:
        pairs, command = argv[:2], argv[2:]
    else:
        return None, None
    return [(pairs[i].encode(), pairs[i + 1].encode().decode("unicode_escape").encode("latin-1"))
            for i in range(0, len(pairs), 2)], command


def main():
    steps, command = parse(sys.argv[1:])
    if steps is None:
        sys.stderr.write(__doc__)
        return 2
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    out = sys.stdout.buffer
    rest = b""
    for prompt, answer in steps:
        buf, seen = read_until(fd, prompt, time.monotonic() + 30, out, rest)
        if not seen:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.stderr.write("pty_answer: the prompt %r did not come (30 s at most)\n" % prompt)
            return 124
        # The next prompt is looked for only in what follows this one.
        rest = buf[buf.index(prompt) + len(prompt):]
        os.write(fd, answer)
    deadline = time.monotonic() + 30
    read_until(fd, None, deadline, out)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") \
                else (os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return 124
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main())
