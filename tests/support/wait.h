/* SPDX-License-Identifier: BSD-3-Clause */
/* Copyright The p11tls authors */
/* The one bounded wait of the tests (C, so the plain C test programs share
 * it with the gtest suites). */
#ifndef P11TLS_TESTS_SUPPORT_WAIT_H
#define P11TLS_TESTS_SUPPORT_WAIT_H
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Waits for pid at most timeout_ms milliseconds (WNOHANG polls 10 ms
 * apart, so a child that is stopped or hung never blocks the test). On
 * timeout kills it with SIGKILL, reaps it and returns -1; returns -2 if
 * waitpid fails; otherwise the wait status. */
int test_wait_bounded(pid_t pid, long timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
