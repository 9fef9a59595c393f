// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Where a PIN may go when a URI matches several tokens (doc/security.md,
// "Where a PIN goes"). A URI's PIN, the tool's --pin-fd PIN or a PIN
// function's answer is sent only to a token known to hold what the URI
// names, never tried on one token after another: a wrong PIN costs a try
// on every token it is sent to.
#pragma once
#include <functional>
#include <vector>

#include "world/context.hpp"
#include "world/token_state.hpp"

namespace p11tls {

class Uri;

// The tokens a lookup that may log in searches, in two steps: first those
// that need no PIN now (free(): no login required, or logged in already),
// then at most one that does (pin_token()).
class PinRoute {
public:
    // tokens: those uri matches (matching_tokens).
    PinRoute(const Uri &uri, const std::vector<TokenState *> &tokens);

    const std::vector<TokenState *> &free() const { return free_; }

    // The token to log in to and search after the free ones, or null.
    // found_on_free says whether the free tokens hold something the URI
    // names (asked only when it decides). Of the tokens that need a PIN:
    //  - the URI matches that token alone: it;
    //  - else the one that shows (without a login) something the URI names:
    //    for a private key URI its public key or certificate (same label
    //    and CKA_ID), for others an object the URI matches;
    //  - else, if none shows anything and nothing was found on the free
    //    tokens, the only token that needs a PIN.
    // Several that show something, or several and none shows anything
    // while nothing was found on the free tokens: P11TLS_E_AMBIGUOUS naming
    // them, no login made. None shows anything but something was found on
    // the free tokens: null (the PIN goes nowhere; those tokens' private
    // objects are not searched).
    //
    // same_key, when given, is asked about several tokens that show
    // something: if it says they show one and the same key (replicas of it:
    // an HSM cluster, two key servers; doc/remote.md), the first of them is
    // the token, and the others are in replicas() (no PIN sent to them now).
    TokenState *pin_token(const std::function<bool()> &found_on_free,
                          const std::function<bool(const std::vector<TokenState *> &)> &same_key = nullptr);
    const std::vector<TokenState *> &replicas() const { return replicas_; }

private:
    bool shows(TokenState *t) const;

    const Uri &uri_;
    const bool one_token_;
    std::vector<TokenState *> free_, need_pin_, replicas_;
};

// For calls that search every token a URI matches for objects it names
// (listings with a login, delete): logs in where a PIN may go and returns
// the tokens to search, in uri's order: all of them when uri matches one,
// else those that need no PIN and the one pin_token() gives (found on the
// free tokens: an object matching uri's object attributes). Tokens that
// need a PIN and get none are left out: they show nothing uri names.
std::vector<TokenState *> log_in_where_routed(const CtxState &ctx, const Uri &uri,
                                              const std::vector<TokenState *> &tokens);

}  // namespace p11tls
