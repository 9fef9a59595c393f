/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * pam_fork_test.c — pam_p11tls in a process that authenticates many times
 * and forks, the way login(1) and display managers use PAM.
 *
 *   pam_fork_test SERVICE USER CYCLES
 *
 * Runs CYCLES times pam_start / pam_authenticate / pam_acct_mgmt / pam_end
 * (libpam loads the service's modules at the first operation and unloads
 * them in pam_end, so pam_p11tls.so is dlopen()ed and dlclose()d each
 * time), measures the resident set size after the first and the last
 * cycle, then forks and runs one more cycle with a fresh pam_start in the
 * child. The PIN comes from $P11TLS_TEST_PIN through the conversation.
 *
 * Prints one line, parsed by tests/pam/pam_programs_test.sh:
 *   first=RC ok=N refused=M rss_first_kb=A rss_last_kb=B child=RC
 * where RC are PAM codes (0 = PAM_SUCCESS) and child is the child's exit
 * status: its PAM code, 100+signal if it died, 99 if it did not finish in
 * 30 s (it is then killed). The child reports only through that status.
 * Exit status 0 when all of this could be measured, 1 otherwise.
 */
#define _GNU_SOURCE 1

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "../support/wait.h"

static const char *pin;

/* Answers password prompts with the PIN; shows the module's messages on
 * stderr so the test log explains failures. */
static int conv(int n, const struct pam_message **msg, struct pam_response **resp,
                void *arg)
{
    (void)arg;
    struct pam_response *r = calloc((size_t)n, sizeof(*r));
    if (r == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF) {
            r[i].resp = strdup(pin);
            if (r[i].resp == NULL) {
                free(r);
                return PAM_BUF_ERR;
            }
        } else if (msg[i]->msg_style == PAM_ERROR_MSG || msg[i]->msg_style == PAM_TEXT_INFO) {
            fprintf(stderr, "pam_fork_test: message: %s\n", msg[i]->msg);
        } else {
            /* PAM_PROMPT_ECHO_ON: the module asked for something else */
            for (int j = 0; j < i; j++)
                free(r[j].resp);
            free(r);
            return PAM_CONV_ERR;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

/* One full PAM transaction; returns the first failing PAM code or 0. */
static int cycle(const char *service, const char *user)
{
    struct pam_conv c = {conv, NULL};
    pam_handle_t *h = NULL;
    int rc = pam_start(service, user, &c, &h);
    if (rc != PAM_SUCCESS)
        return rc;
    rc = pam_authenticate(h, 0);
    if (rc == PAM_SUCCESS)
        rc = pam_acct_mgmt(h, 0);
    pam_end(h, rc);
    return rc;
}

static long rss_kb(void)
{
    long size = 0, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Waits for pid at most 30 s (polling), then kills it. */
static int wait_bounded(pid_t pid)
{
    int st = test_wait_bounded(pid, 30 * 1000L);
    if (st == -1)
        return 99;
    if (st < 0)
        return 98;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
    if (argc != 4 || atoi(argv[3]) < 1) {
        fprintf(stderr, "usage: %s SERVICE USER CYCLES\n", argv[0]);
        return 2;
    }
    const char *service = argv[1], *user = argv[2];
    int cycles = atoi(argv[3]);
    pin = getenv("P11TLS_TEST_PIN");
    if (pin == NULL)
        pin = "1234";

    int first = -1, ok = 0, refused = 0;
    long rss_first = -1, rss_last = -1;
    for (int i = 0; i < cycles; i++) {
        int rc = cycle(service, user);
        if (i == 0) {
            first = rc;
            rss_first = rss_kb();
        }
        if (rc == PAM_SUCCESS)
            ok++;
        else
            refused++;
    }
    rss_last = rss_kb();

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        int rc = cycle(service, user);
        _exit(rc > 90 ? 90 : rc); /* keep 98, 99, 100+ for the parent */
    }
    int child = wait_bounded(pid);
    printf("first=%d ok=%d refused=%d rss_first_kb=%ld rss_last_kb=%ld child=%d\n", first,
           ok, refused, rss_first, rss_last, child);
    return rss_first < 0 || rss_last < 0 ? 1 : 0;
}
