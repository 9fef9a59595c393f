/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * prove.h — the challenge-response proof of possession.
 */
#ifndef PAM_P11TLS_PROVE_H
#define PAM_P11TLS_PROVE_H

#include <stddef.h>
#include <stdint.h>

#include <security/pam_modules.h>

#include <p11tls/p11tls.h>

/* Signs a random challenge with key and verifies the signature with the
 * public key of the DER certificate. Returns PAM_SUCCESS, or PAM_AUTH_ERR
 * after logging why (pam_syslog). debug: log the scheme used. */
int prove_possession(pam_handle_t *pamh, int debug, p11tls_key *key,
                     const uint8_t *cert_der, size_t cert_len);

#endif /* PAM_P11TLS_PROVE_H */
