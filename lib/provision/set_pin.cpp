// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Changing the user PIN: both PINs asked for, the new one checked against
// the token's limits, then one login with the old PIN and C_SetPIN.
#include <p11tls/provision.h>

#include "base/error.hpp"
#include "base/log.hpp"
#include "base/secure.hpp"
#include "provision/provision.hpp"
#include "provision/token.hpp"
#include "uri/uri.hpp"

namespace p11tls {

namespace {
// ulMaxPinLen 0 (or CK_UNAVAILABLE_INFORMATION, as tokens without a limit
// report) is no upper limit.
void check_length(const TokenState &t, const CK_TOKEN_INFO &ti, size_t len) {
    const CK_ULONG lo = ti.ulMinPinLen == CK_UNAVAILABLE_INFORMATION ? 0 : ti.ulMinPinLen;
    const CK_ULONG hi = ti.ulMaxPinLen == CK_UNAVAILABLE_INFORMATION ? 0 : ti.ulMaxPinLen;
    if (len >= lo && (hi == 0 || len <= hi)) return;
    const std::string range = hi ? std::to_string(lo) + " to " + std::to_string(hi)
                                 : "at least " + std::to_string(lo);
    fail(P11TLS_E_PIN_LEN_RANGE, "token " + t.label() + " takes PINs of " + range + " characters; the new PIN has " +
                                     std::to_string(len));
}
}  // namespace

void set_user_pin(const CtxState &ctx, const char *token_uri) {
    Uri uri = Uri::parse(token_uri);
    TokenState *t = one_token(ctx, uri, "a PIN change");
    const CK_TOKEN_INFO ti = t->info_now();
    check_writable(*t, ti);

    SecretBuffer old_pin, new_pin;
    const bool have_old = t->ask_pin(ctx, &uri, ti.flags, P11TLS_PIN_CHANGE_OLD, old_pin);
    // The final-try and count-low warnings are about the old PIN.
    const CK_FLAGS new_flags = ti.flags & ~(CK_FLAGS)(CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW);
    const bool have_new = t->ask_pin(ctx, nullptr, new_flags, P11TLS_PIN_CHANGE_NEW, new_pin);
    if (have_new) check_length(*t, ti, new_pin.length());

    t->login_with(have_old, old_pin);
    RwSession s(t);
    CK_RV rv = P11CALL(s.module(), C_SetPIN, s.get(), have_old ? (CK_UTF8CHAR *)old_pin.data() : nullptr,
                       have_old ? (CK_ULONG)old_pin.length() : 0UL,
                       have_new ? (CK_UTF8CHAR *)new_pin.data() : nullptr,
                       have_new ? (CK_ULONG)new_pin.length() : 0UL);
    if (rv != CKR_OK) fail_ckr(s.module(), "C_SetPIN", rv);
    t->note_pin_changed(have_new, new_pin);
    log_info("token %s: user PIN changed", t->label().c_str());
}

}  // namespace p11tls
