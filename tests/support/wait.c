/* SPDX-License-Identifier: BSD-3-Clause */
/* Copyright The p11tls authors */
#include "wait.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

int test_wait_bounded(pid_t pid, long timeout_ms)
{
    int status = 0;
    long waited_ms;
    for (waited_ms = 0;; waited_ms += 10) {
        struct timespec tick = {0, 10 * 1000 * 1000};
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -2;
        if (waited_ms >= timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        nanosleep(&tick, NULL);
    }
}
