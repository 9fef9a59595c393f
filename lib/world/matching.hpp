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
class ModuleState;

// The initialized modules visible to ctx that uri may name (its
// module-name, module-path and library attributes), in the current world;
// with failures, why the named ones that are not usable failed. Loads a
// module-path the context allows URIs to load.
std::vector<ModuleState *> candidate_modules(const CtxState &ctx, const Uri &uri,
                                             std::vector<std::string> *failures = nullptr,
                                             bool *named_module_found = nullptr);

// Tokens visible to ctx that match uri (module and token attributes). When
// none does, the candidate modules are asked to rescan their slots
// (ModuleState::rescan_slots, rate-limited) and looked at once more: a
// token plugged in after the process started is found.
// Modules that fail to initialize are skipped (reported via the log and
// p11tls_list_modules). With why, when none matches, *why says what was
// seen: the tokens of the modules the URI names (all, if it names none)
// and why such modules showed none (C_Initialize, C_GetSlotList failures).
// Uninitialized tokens (SoftHSM's spare slot) match only with
// uninitialized_too (p11tls_list_tokens shows them): no URI names one to
// use it, and it has no objects.
std::vector<TokenState *> matching_tokens(const CtxState &ctx, const Uri &uri,
                                          std::string *why = nullptr,
                                          bool uninitialized_too = false);

// Throws P11TLS_E_TOKEN_NOT_PRESENT "no token matches the URI; " + why
// (from matching_tokens).
[[noreturn]] void fail_no_token(const std::string &why);
std::string no_token_detail(const std::string &why);

}  // namespace p11tls
