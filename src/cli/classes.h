/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* Names of PKCS#11 object classes, for listings. */
#ifndef P11TLS_CLI_CLASSES_H
#define P11TLS_CLI_CLASSES_H

#include <stddef.h>

/* Writes the name of object class cls into buf (size >= 32): "certificate",
 * "public key", "private key", "secret key", "data", ... for standard
 * classes; the vendor macro name (CKO_NSS_TRUST, CKO_X_TRUST_ASSERTION,
 * CKO_X_CERTIFICATE_EXTENSION, ...) for the NSS and p11-kit classes that
 * trust modules list; "0x%lx" for any other. Returns buf. */
const char *cli_class_name(unsigned long cls, char *buf, size_t size);

#endif
