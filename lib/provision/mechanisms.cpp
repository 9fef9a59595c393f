// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A token's mechanisms, by name, with what C_GetMechanismInfo says.
#include <p11tls/provision.h>

#include "base/error.hpp"
#include "pkcs11/ckm.hpp"
#include "provision/provision.hpp"
#include "provision/token.hpp"
#include "uri/uri.hpp"

namespace p11tls {

int list_mechanisms(const CtxState &ctx, const char *token_uri, p11tls_mechanism_cb cb, void *arg) {
    Uri uri = Uri::parse(token_uri);
    TokenState *t = one_token(ctx, uri, "listing mechanisms");
    for (CK_MECHANISM_TYPE m : t->mechanisms()) {
        CK_MECHANISM_INFO mi = {0, 0, 0};
        CK_RV rv = P11CALL(t->module(), C_GetMechanismInfo, t->slot(), m, &mi);
        if (rv != CKR_OK) fail_ckr(t->module(), ("C_GetMechanismInfo(" + ckm_name(m) + ")").c_str(), rv);
        const std::string name = ckm_name(m);
        p11tls_mechanism_info info = {m, name.c_str(), mi.ulMinKeySize, mi.ulMaxKeySize, mi.flags};
        if (int rc = cb(arg, &info)) return rc;
    }
    return 0;
}

}  // namespace p11tls
