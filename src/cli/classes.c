/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
#include "classes.h"

#include <stdio.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/pkcs11x.h>

/* p11-kit's trust module defines this one in a private header
 * (common/pkcs11i.h), not in the installed pkcs11x.h. */
#ifndef CKO_X_TRUST_ASSERTION
#define CKO_X_TRUST_ASSERTION (CKO_X_VENDOR + 100)
#endif

/* The first three names predate this table: they are kept as they were
 * (scripts read them from --json). */
static const struct {
    unsigned long cls;
    const char *name;
} names[] = {
    {CKO_CERTIFICATE, "certificate"},
    {CKO_PUBLIC_KEY, "public key"},
    {CKO_PRIVATE_KEY, "private key"},
    {CKO_DATA, "data"},
    {CKO_SECRET_KEY, "secret key"},
    {CKO_HW_FEATURE, "hardware feature"},
    {CKO_DOMAIN_PARAMETERS, "domain parameters"},
    {CKO_MECHANISM, "mechanism"},
    {CKO_OTP_KEY, "OTP key"},
    {CKO_X_TRUST_ASSERTION, "CKO_X_TRUST_ASSERTION"},
    {CKO_X_CERTIFICATE_EXTENSION, "CKO_X_CERTIFICATE_EXTENSION"},
    {CKO_NSS_CRL, "CKO_NSS_CRL"},
    {CKO_NSS_SMIME, "CKO_NSS_SMIME"},
    {CKO_NSS_TRUST, "CKO_NSS_TRUST"},
    {CKO_NSS_BUILTIN_ROOT_LIST, "CKO_NSS_BUILTIN_ROOT_LIST"},
    {CKO_NSS_NEWSLOT, "CKO_NSS_NEWSLOT"},
    {CKO_NSS_DELSLOT, "CKO_NSS_DELSLOT"},
};

const char *cli_class_name(unsigned long cls, char *buf, size_t size)
{
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].cls == cls)
            return names[i].name;
    snprintf(buf, size, "0x%lx", cls);
    return buf;
}
