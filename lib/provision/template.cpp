// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "provision/template.hpp"

#include "base/log.hpp"
#include "pkcs11/ckrv.hpp"

namespace p11tls {

namespace {

bool template_refused(CK_RV rv) {
    switch (rv) {
    case CKR_ATTRIBUTE_READ_ONLY:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_GENERAL_ERROR:
        return true;
    default:
        return false;
    }
}

// "CKA_ENCRYPT=false", "CKA_CERTIFICATE_CATEGORY=2" (the attributes made
// optional are CK_BBOOLs and CK_ULONGs).
std::string describe(const CK_ATTRIBUTE &a) {
    std::string value;
    if (a.ulValueLen == sizeof(CK_BBOOL))
        value = *static_cast<const CK_BBOOL *>(a.pValue) ? "true" : "false";
    else if (a.ulValueLen == sizeof(CK_ULONG))
        value = std::to_string(*static_cast<const CK_ULONG *>(a.pValue));
    return cka_name(a.type) + (value.empty() ? "" : "=" + value);
}

const char *which(size_t tmpl, size_t count) {
    if (count == 1) return "template";
    return tmpl == 0 ? "public key template" : "private key template";
}

}  // namespace

CK_RV call_with_optional(const Module *m, const char *what, std::vector<std::vector<CK_ATTRIBUTE>> needed,
                         const std::vector<OptionalAttribute> &optional, const TemplateCall &call) {
    for (size_t dropped = 0;; ++dropped) {
        std::vector<std::vector<CK_ATTRIBUTE>> templates = needed;
        for (size_t i = dropped; i < optional.size(); ++i) templates[optional[i].tmpl].push_back(optional[i].attr);
        CK_RV rv = call(templates);
        if (rv == CKR_OK || dropped == optional.size() || !template_refused(rv)) return rv;
        const OptionalAttribute &drop = optional[dropped];
        debug("module %s: %s: %s; trying again without %s in the %s", m->name.c_str(), what, ckr_name(rv),
              describe(drop.attr).c_str(), which(drop.tmpl, needed.size()));
    }
}

}  // namespace p11tls
