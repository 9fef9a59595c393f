// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Finding private keys a URI names, and what open and rebind read of them.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "key/key.hpp"
#include "key/pubkey.hpp"
#include "pkcs11/attributes.hpp"

namespace p11tls {

class TokenState;

struct Found {
    CK_OBJECT_HANDLE handle;
    Attributes attrs;
};

struct Match {
    TokenState *token;
    CK_OBJECT_HANDLE handle;
    std::optional<Attributes> attrs;  // the key's, when the search read them
    std::vector<Found> companions;    // its public key, certificate, ... if found
    std::optional<PublicKey> pub;     // when the check of an index hit read it
};

// Private keys on tokens matching uri's object attributes, logging in
// where a PIN may go (world/pin_route.hpp); the search stops once two are
// found. With use_index, each token's object index answers first
// (world/object_index.hpp), every hit checked on the token; a miss or a
// failed check searches for real and tells the index what it found.
//
// Tokens that each show (before a login) the same one public key for the
// URI are replicas of one key (doc/remote.md, "Replicas"): the PIN goes to
// the first; the others are added to *replicas, for the key to fail over
// to (key.hpp, p11tls_key::replicas).
std::vector<Match> find_private_keys(const CtxState &ctx, const Uri &uri,
                                     const std::vector<TokenState *> &tokens, bool use_index,
                                     std::vector<TokenState *> *replicas = nullptr);

// The public keys (SPKI DER) that t shows without a login in public key
// objects and certificates matching base (a CKA_ID or CKA_LABEL), at most
// max per class.
std::vector<std::vector<unsigned char>> shown_public_keys(TokenState *t, const std::vector<CK_ATTRIBUTE> &base,
                                                          size_t max = 4);
Binding *make_binding(uint64_t gen, const Match &m, bool always_auth, Binding *prev, bool proven);
// The key's attributes, read now if the search did not.
const Attributes &key_attributes(Match &m, CK_SESSION_HANDLE s);
PublicKey public_key(Match &m, CK_SESSION_HANDLE s);
bool always_auth(const Attributes &a);

}  // namespace p11tls
