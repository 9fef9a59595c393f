// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Stapled certificate extensions (p11-kit's CKO_X_CERTIFICATE_EXTENSION)
// applied to a certificate as GnuTLS's own PKCS#11 code applies them
// (lib/pkcs11x.c, GNUTLS_PKCS11_OBJ_FLAG_OVERWRITE_TRUSTMOD_EXT): each one
// replaces the certificate's extension of the same OID, or is added, and
// the certificate is encoded again (its signature no longer matches: it is
// an anchor, or a certificate a program asked for that way). Key usage,
// extended key usage, basic constraints and name constraints then restrict
// what GnuTLS lets the certificate do.
#pragma once
#include <gnutls/x509.h>

#include "cert/trust.hpp"

namespace p11tls {

// A certificate parsed from der; nullptr if it is none.
gnutls_x509_crt_t crt_from_der(const Der &der);

// A new certificate: the anchor's DER with its extensions applied; nullptr
// (with the reason in *why) if the DER or an extension cannot be parsed.
gnutls_x509_crt_t stapled_certificate(const Anchor &a, const char **why);

// Imports a certificate with the extensions stapled to it (trust.hpp:
// cert_with_stapled_extensions) into crt: the glue of
// gnutls_x509_crt_import_url() with
// GNUTLS_PKCS11_OBJ_FLAG_OVERWRITE_TRUSTMOD_EXT (lib/gnutls/url.cpp). A
// GNUTLS_E_* code on failure.
int import_crt_stapled(gnutls_x509_crt_t crt, const Anchor &a);

}  // namespace p11tls
