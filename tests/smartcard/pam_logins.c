/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* tests/smartcard/pam_logins.c: authenticates a user N times in one
 * process, each from pam_start to pam_end, as a login daemon does (pamtester
 * keeps one PAM handle for all its operations, so the modules' pam_end
 * cleanup, pam_p11's C_Finalize, never comes between two of them).
 *
 *   pam_logins SERVICE USER N
 *
 * Answers every prompt with the next line of standard input, shows the
 * modules' messages on standard output, and prints "login I: RESULT" (the
 * pam_strerror text after PAM_SUCCESS or the code's name) for each. Exits 0
 * if every authentication succeeded. Run under pam_wrapper by
 * tests/smartcard/card_test.sh.
 */
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *arg)
{
    (void)arg;
    struct pam_response *r = calloc((size_t)n, sizeof *r);
    if (!r)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        const int style = msg[i]->msg_style;
        printf("%s%s\n", style == PAM_ERROR_MSG ? "error: " : "", msg[i]->msg);
        if (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) {
            char line[512];
            if (!fgets(line, sizeof line, stdin))
                line[0] = 0;
            line[strcspn(line, "\r\n")] = 0;
            r[i].resp = strdup(line);
            memset(line, 0, sizeof line);
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: pam_logins SERVICE USER N\n");
        return 2;
    }
    const int n = atoi(argv[3]);
    const struct pam_conv c = {conv, NULL};
    int failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i <= n; i++) {
        pam_handle_t *pamh = NULL;
        int rc = pam_start(argv[1], argv[2], &c, &pamh);
        if (rc == PAM_SUCCESS)
            rc = pam_authenticate(pamh, 0);
        printf("login %d: %s (%s)\n", i, rc == PAM_SUCCESS ? "PAM_SUCCESS" : "failed",
               pamh ? pam_strerror(pamh, rc) : "pam_start");
        failed |= rc != PAM_SUCCESS;
        if (pamh)
            pam_end(pamh, rc);
    }
    return failed;
}
