// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The GnuTLS error code a caller of the GnuTLS glue sees for a p11tls
// failure (the p11tls detail stays in p11tls_last_error_detail()).
#pragma once

namespace p11tls {

int gnutls_error_of(int p11tls_rc);

}  // namespace p11tls
