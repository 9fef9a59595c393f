# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# bounded SECONDS REPORT COMMAND [ARG]...: runs COMMAND (standard input
# passed on) for at most SECONDS. If it is still running then, REPORT gets
# what every process of the machine (or of the test's PID namespace) and
# each of its threads is blocked in (state, kernel wait channel, system
# call: a futex is a lock, a read or poll a peer that does not answer),
# before COMMAND and its children are killed. Returns COMMAND's status, or
# 124 after a timeout, like timeout(1), which cannot say where a hang was.
# Sourced by the tests that talk to daemons (tests/smartcard/card_test.sh).
bounded() {
    local secs=$1 report=$2 pid i
    shift 2
    "$@" <&0 &
    pid=$!
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid"; return; }
        sleep 0.1
    done
    {
        echo "after ${secs} s, still running: $*"
        ps -eLo pid,tid,ppid,stat,wchan:28,etimes,args 2>&1
        local t
        for t in /proc/[0-9]*/task/[0-9]*; do
            # syscall: "NR arg1 ..." while blocked in one; 202 is futex,
            # 7 poll, 0 read, 23 select, 232 epoll_wait (x86_64)
            printf '%s %s: %s\n' "${t#/proc/}" "$(cat "$t/comm" 2>/dev/null)" \
                "$(cut -d' ' -f1-3 "$t/syscall" 2>/dev/null)"
        done
    } >"$report" 2>&1
    pkill -KILL -P "$pid" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
}
