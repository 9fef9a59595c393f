/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * pam_peer.c — a test-only PAM module that also uses p11tls, to check that
 * two PAM modules with their own p11tls contexts coexist in one stack and
 * one process (tests/pam/pam_programs_test.sh).
 *
 * auth options:
 *   key=URI      open this private key (the URI carries its PIN, e.g.
 *                pin-value) through a context of our own, and sign with it
 *   authtok=PIN  set PAM_AUTHTOK, as a password module before pam_p11tls
 *                would (for try_first_pass / use_first_pass)
 * Logs "pam_peer: ..." with pam_syslog; returns PAM_SUCCESS or PAM_AUTH_ERR.
 * account option:
 *   user=NAME    set PAM_USER (a user change between auth and account)
 * account and setcred return PAM_SUCCESS.
 */
#include <string.h>
#include <syslog.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <p11tls/p11tls.h>

#define PAM_EXPORT __attribute__((visibility("default")))

static int sign_with(pam_handle_t *pamh, const char *uri)
{
    p11tls_ctx *ctx = NULL;
    p11tls_key *key = NULL;
    uint8_t sig[512];
    size_t sig_len = sizeof(sig);
    static const uint8_t msg[] = "pam_peer";
    int rc = p11tls_ctx_new(&ctx);
    if (rc == 0)
        rc = p11tls_key_open(ctx, uri, 0, &key);
    if (rc == 0)
        rc = p11tls_key_sign(key, P11TLS_SIG_ECDSA_SECP256R1_SHA256, msg, sizeof(msg),
                             sig, &sig_len);
    if (rc == 0)
        pam_syslog(pamh, LOG_NOTICE, "pam_peer: signed with its own context");
    else
        pam_syslog(pamh, LOG_NOTICE, "pam_peer: failed: %s: %s", p11tls_strerror_name(rc),
                   p11tls_last_error_detail());
    p11tls_key_free(key);
    p11tls_ctx_free(ctx);
    return rc == 0 ? PAM_SUCCESS : PAM_AUTH_ERR;
}

PAM_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
                                   const char **argv)
{
    int ret = PAM_SUCCESS;
    (void)flags;
    for (int i = 0; i < argc && ret == PAM_SUCCESS; i++) {
        if (strncmp(argv[i], "authtok=", 8) == 0)
            ret = pam_set_item(pamh, PAM_AUTHTOK, argv[i] + 8);
        else if (strncmp(argv[i], "key=", 4) == 0)
            ret = sign_with(pamh, argv[i] + 4);
    }
    return ret;
}

PAM_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}

PAM_EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)flags;
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "user=", 5) == 0)
            return pam_set_item(pamh, PAM_USER, argv[i] + 5);
    return PAM_SUCCESS;
}
