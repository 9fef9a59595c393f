// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Templates for objects a job makes: what the object needs, and what it
// can do without. Modules differ in what they take: tpm2-pkcs11 refuses an
// EC pair whose public half has CKA_ENCRYPT=false (a TPM key verifies and
// decrypts, or signs and encrypts, with one attribute each), opencryptoki
// 3.8 any certificate with CKA_CERTIFICATE_CATEGORY. An optional attribute
// is sent, and left out again when the module refuses the template.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "pkcs11/module.hpp"

namespace p11tls {

// One attribute a job can do without, in one of its templates (0: the
// first, the public key's for a key pair; 1: the private key's).
struct OptionalAttribute {
    size_t tmpl;
    CK_ATTRIBUTE attr;
};

// The call the templates are for: C_CreateObject or C_GenerateKeyPair
// with templates[0] (and templates[1]).
using TemplateCall = std::function<CK_RV(std::vector<std::vector<CK_ATTRIBUTE>> &templates)>;

// Calls call with every attribute: the needed ones, then the optional
// ones. While the module refuses the template (a failure that can mean an
// attribute: CKR_ATTRIBUTE_*, CKR_TEMPLATE_INCONSISTENT, and
// CKR_GENERAL_ERROR, which is how tpm2-pkcs11 1.9 says so), calls it again
// without one more optional attribute, in the order given, saying at debug
// level which ("module M: WHAT: CKR_x; trying again without CKA_ENCRYPT=false
// in the public key template"). Returns the last call's CK_RV.
CK_RV call_with_optional(const Module *m, const char *what, std::vector<std::vector<CK_ATTRIBUTE>> needed,
                         const std::vector<OptionalAttribute> &optional, const TemplateCall &call);

}  // namespace p11tls
