/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * policy.h — options ca=URI (repeatable) and crl=FILE: the certificate on
 * the token must verify, at login time, against the trusted CA
 * certificates the URIs find (p11tls_gnutls_trust_list_add: certificates
 * the tokens mark trusted, not every certificate present), not be revoked
 * by the CRLs of FILE, and be fit for the proof pam_p11tls asks of it: its
 * key usage, if it has one, allows signing (digitalSignature or
 * nonRepudiation), and its extended key usage, if it has one, allows TLS
 * client authentication (or any purpose).
 */
#ifndef PAM_P11TLS_POLICY_H
#define PAM_P11TLS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/x509.h>
#include <security/pam_modules.h>

#include <p11tls/p11tls.h>

/* More ca= options than any configuration needs; further ones are
 * refused (logged), not ignored. */
#define POLICY_MAX_CA 8

/* Builds the trust list from the ca= URIs (through ctx) and the CRL file
 * (NULL: none). Returns PAM_SUCCESS with *list set, or PAM_AUTH_ERR after
 * logging why: a URI that finds no trusted certificate, a failed read, an
 * unreadable CRL file all refuse (the policy asked for cannot be applied). */
int policy_load(pam_handle_t *pamh, p11tls_ctx *ctx, const char *const *ca, size_t n_ca,
                const char *crl, gnutls_x509_trust_list_t *list);

/* 0 if the DER certificate passes; -1 with the reason in why (one line). */
int policy_check(gnutls_x509_trust_list_t list, const uint8_t *der, size_t len, char *why,
                 size_t why_size);

#endif /* PAM_P11TLS_POLICY_H */
