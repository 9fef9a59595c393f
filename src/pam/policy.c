/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * policy.c — ca= and crl= (see policy.h). GnuTLS verifies the chain (at
 * the current time, with the anchors and CRLs of the list, and the TLS
 * client purpose against extended key usages); the key usage is checked
 * here because the proof of possession is a signature.
 */
#include "policy.h"

#include <stdio.h>
#include <syslog.h>

#include <gnutls/gnutls.h>
#include <security/pam_ext.h>

#include <p11tls/gnutls.h>

static int add_crls(gnutls_x509_trust_list_t list, const char *crl)
{
    /* After the anchors: GNUTLS_TL_VERIFY_CRL keeps only CRLs one of them
     * signed. */
    int rc = gnutls_x509_trust_list_add_trust_file(list, NULL, crl, GNUTLS_X509_FMT_PEM,
                                                   GNUTLS_TL_VERIFY_CRL, 0);
    if (rc <= 0)
        rc = gnutls_x509_trust_list_add_trust_file(list, NULL, crl, GNUTLS_X509_FMT_DER,
                                                   GNUTLS_TL_VERIFY_CRL, 0);
    return rc;
}

int policy_load(pam_handle_t *pamh, p11tls_ctx *ctx, const char *const *ca, size_t n_ca,
                const char *crl, gnutls_x509_trust_list_t *list)
{
    int rc = gnutls_x509_trust_list_init(list, 0);
    if (rc < 0) {
        pam_syslog(pamh, LOG_ERR, "ca=: %s", gnutls_strerror(rc));
        *list = NULL;
        return PAM_AUTH_ERR;
    }
    for (size_t i = 0; i < n_ca; i++) {
        /* Anchors for client authentication (policy_check's purpose). */
        rc = p11tls_gnutls_trust_list_add(*list, ctx, ca[i], P11TLS_TRUST_FOR_CLIENTS);
        if (rc < 0)
            pam_syslog(pamh, LOG_ERR, "ca=%s: cannot read the trusted CAs (%s): %s", ca[i],
                       gnutls_strerror(rc), p11tls_last_error_detail());
        else if (rc == 0)
            pam_syslog(pamh, LOG_ERR, "ca=%s: no certificate marked trusted there", ca[i]);
        if (rc <= 0)
            goto fail;
    }
    if (crl) {
        rc = add_crls(*list, crl);
        if (rc <= 0) {
            pam_syslog(pamh, LOG_ERR, "crl=%s: no CRL signed by a ca= certificate read (%s)",
                       crl, rc < 0 ? gnutls_strerror(rc) : "none in the file");
            goto fail;
        }
    }
    return PAM_SUCCESS;
fail:
    gnutls_x509_trust_list_deinit(*list, 1);
    *list = NULL;
    return PAM_AUTH_ERR;
}

int policy_check(gnutls_x509_trust_list_t list, const uint8_t *der, size_t len, char *why,
                 size_t why_size)
{
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
    gnutls_datum_t text = {NULL, 0};
    unsigned status = 0, usage = 0;
    int ret = -1;
    int rc = gnutls_x509_crt_init(&crt);
    if (rc >= 0)
        rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
    if (rc < 0) {
        snprintf(why, why_size, "unreadable certificate: %s", gnutls_strerror(rc));
        goto out;
    }
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                     (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    rc = gnutls_x509_trust_list_verify_crt2(list, &crt, 1, &purpose, 1, 0, &status, NULL);
    if (rc < 0) {
        snprintf(why, why_size, "verification failed: %s", gnutls_strerror(rc));
        goto out;
    }
    if (status != 0) {
        rc = gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0);
        snprintf(why, why_size, "%s", rc >= 0 ? (const char *)text.data : "does not verify");
        goto out;
    }
    rc = gnutls_x509_crt_get_key_usage(crt, &usage, NULL);
    if (rc >= 0 && !(usage & (GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_NON_REPUDIATION))) {
        snprintf(why, why_size, "its key usage does not allow signing");
        goto out;
    }
    ret = 0;
out:
    gnutls_free(text.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return ret;
}
