// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Distrust by issuer and serial number in a GnuTLS trust list. GnuTLS's
// blocklist (gnutls_x509_trust_list_remove_cas) needs the certificate, but
// p11-kit's blocklist may name one by issuer and serial number alone. A
// trust list also takes CRLs, which it does not verify unless asked
// (GNUTLS_TL_VERIFY_CRL), and checks every certificate of a chain against
// the CRLs of its issuer's name: an unsigned CRL per issuer, listing the
// serial numbers the tokens distrust, refuses those certificates
// (GNUTLS_CERT_REVOKED) wherever they are in the chain, sent by the peer
// or found by the issuer lookup. Only the verification flag
// GNUTLS_VERIFY_DISABLE_CRL_CHECKS turns that off.
#pragma once
#include <ctime>
#include <vector>

#include <gnutls/x509.h>

#include "gnutls/der.hpp"

namespace p11tls {

// A CRL of issuer (a DER Name) revoking serials (DER INTEGERs, or bare
// numbers: der_integer_of), dated now; nullptr if GnuTLS cannot parse it
// (an issuer that is no DER Name).
gnutls_x509_crl_t distrust_crl(const Der &issuer, const std::vector<Der> &serials, time_t now);

}  // namespace p11tls
