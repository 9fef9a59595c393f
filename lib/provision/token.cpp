// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The one token a writing job works on, and its read-write session.
#include "provision/token.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "base/log.hpp"
#include "pkcs11/ckrv.hpp"
#include "pkcs11/search.hpp"
#include "uri/uri.hpp"
#include "world/matching.hpp"

namespace p11tls {

TokenState *one_token(const CtxState &ctx, const Uri &uri, const char *what) {
    std::string why;
    std::vector<TokenState *> tokens;
    // An uninitialized token (SoftHSM's spare slot) has no PIN and takes
    // no objects: "pkcs11:" beside it still names the one real token.
    for (TokenState *t : matching_tokens(ctx, uri, &why))
        if (t->info().flags & CKF_TOKEN_INITIALIZED) tokens.push_back(t);
    if (tokens.empty()) fail_no_token(why);
    if (tokens.size() > 1) {
        std::string names;
        for (size_t i = 0; i < tokens.size(); ++i) names += (i ? ", '" : "'") + tokens[i]->label() + "'";
        fail(P11TLS_E_AMBIGUOUS, std::string("the URI matches ") + std::to_string(tokens.size()) +
                                     " tokens (" + names + "); " + what + " needs one");
    }
    return tokens[0];
}

void check_writable(const TokenState &t, const CK_TOKEN_INFO &now) {
    if (now.flags & CKF_WRITE_PROTECTED) fail(P11TLS_E_READ_ONLY, "token " + t.label() + " is write-protected");
}

bool any_object(const RwSession &s, const std::vector<CK_ATTRIBUTE> &tmpl) {
    return !find_objects(s.module(), s.get(), tmpl, 1).empty();
}

bool other_object(const RwSession &s, const std::vector<CK_ATTRIBUTE> &tmpl,
                  const std::vector<CK_OBJECT_HANDLE> &mine) {
    // One more than mine: enough to see one that is not.
    for (CK_OBJECT_HANDLE h : find_objects(s.module(), s.get(), tmpl, mine.size() + 1))
        if (std::find(mine.begin(), mine.end(), h) == mine.end()) return true;
    return false;
}

Removal remove_created(const RwSession &s, const TokenState &t, const std::string &label,
                       const std::vector<Created> &objs) noexcept {
    if (!s.current()) return {false, "nothing removed in this forked child (the parent's call goes on)"};
    try {
        std::string removed, failed;
        size_t n_removed = 0;
        for (const Created &o : objs) {
            const CK_RV rv = P11CALL(s.module(), C_DestroyObject, s.get(), o.handle);
            std::string &list = rv == CKR_OK ? removed : failed;
            if (!list.empty()) list += " and ";
            list += o.what;
            if (rv != CKR_OK) list += std::string(" (C_DestroyObject: ") + ckr_name(rv) + ")";
            else ++n_removed;
        }
        const char *verb = n_removed > 1 ? " were removed" : " was removed";
        if (failed.empty()) return {true, "this call's " + removed + verb};
        std::string out = "could not remove this call's " + failed + ": left on token " + t.label() +
                          ", labelled '" + label + "'; delete it by hand";
        if (!removed.empty()) out += "; its " + removed + verb;
        log_warning("%s", out.c_str());
        return {false, out};
    } catch (...) {  // out of memory while saying so
        return {false, "removing what this call created failed"};
    }
}

std::string hex(const std::vector<unsigned char> &v) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : v) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

RwSession::RwSession(TokenState *t) : use_(t->module_state()), t_(t), gen_(current_generation()) {
    CK_RV rv = P11CALL(t->module(), C_OpenSession, t->slot(), (CK_FLAGS)(CKF_SERIAL_SESSION | CKF_RW_SESSION),
                       (void *)nullptr, (CK_NOTIFY) nullptr, &h_);
    if (rv != CKR_OK) fail_ckr(t->module(), "C_OpenSession(read-write)", rv);
}

RwSession::~RwSession() {
    // Abandoned in a child, or when the module's epoch ended under it (the
    // number may name another session now).
    if (current() && !t_->module_state()->ended()) P11CALL(t_->module(), C_CloseSession, h_);
}

}  // namespace p11tls
