// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Which tokens visible to a context a URI names.
#pragma once
#include <string>
#include <vector>

#include "world/context.hpp"
#include "world/token_state.hpp"

namespace p11tls {

class Uri;

// Tokens visible to ctx that match uri (module and token attributes).
// Modules that fail to initialize are skipped (reported via the log and
// p11tls_list_modules). With why, when none matches, *why says what was
// seen: the tokens of the modules the URI names (all, if it names none)
// and why such modules showed none (C_Initialize, C_GetSlotList failures).
std::vector<TokenState *> matching_tokens(const CtxState &ctx, const Uri &uri,
                                          std::string *why = nullptr);

// Throws P11TLS_E_TOKEN_NOT_PRESENT "no token matches the URI; " + why
// (from matching_tokens).
[[noreturn]] void fail_no_token(const std::string &why);
std::string no_token_detail(const std::string &why);

}  // namespace p11tls
