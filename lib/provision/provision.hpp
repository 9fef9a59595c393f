// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The provisioning jobs behind include/p11tls/provision.h, one file each.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <p11tls/provision.h>

#include "world/context.hpp"

namespace p11tls {

// set_pin.cpp: p11tls_token_set_pin.
void set_user_pin(const CtxState &ctx, const char *token_uri);

// generate.cpp: p11tls_key_generate; want_id empty: SHA-1 of the SPKI.
std::unique_ptr<p11tls_key> generate_key(const std::shared_ptr<CtxState> &ctx, const char *token_uri,
                                         const char *type, const char *label,
                                         const std::vector<unsigned char> &want_id, bool extractable);
// The default CKA_ID of a key pair: SHA-1 of its DER SubjectPublicKeyInfo,
// as GnuTLS's key IDs (gnutls_x509_crt_get_key_id) and p11tool.
std::vector<unsigned char> key_id_of_spki(const std::vector<unsigned char> &spki);

// write_cert.cpp: p11tls_cert_write; returns the certificate's URI, ""
// when skip_existing found it on the token already. trust: the
// P11TLS_CERT_WRITE_TRUSTED, _CA and _DISTRUSTED flags.
std::string write_cert(const CtxState &ctx, const char *token_uri, const std::vector<unsigned char> &der,
                       const char *label, const std::vector<unsigned char> &want_id, bool skip_existing,
                       unsigned trust);

// delete.cpp: p11tls_object_delete; the number deleted.
size_t delete_objects(const CtxState &ctx, const char *uri, bool multiple);

// mechanisms.cpp: p11tls_token_list_mechanisms.
int list_mechanisms(const CtxState &ctx, const char *token_uri, p11tls_mechanism_cb cb, void *arg);

}  // namespace p11tls
