// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A private key on a token that survives fork: it records what identifies
// it (module, token, CKA_ID, label, public key) and binds to an object
// handle once per generation.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "base/fork.hpp"
#include "key/pubkey.hpp"
#include "uri/uri.hpp"
#include "world/context.hpp"

namespace p11tls {

class TokenState;
struct Scheme;

// What a generation knows of the key. Immutable once published; bindings
// of earlier generations are kept (never freed before the key) because a
// child must not free what its parent's threads may have been using. One
// superseded in its own generation (a lost login, a pulled token) is
// retired and freed once no operation on the key can still hold it
// (bind.hpp, BindingUse): a long-lived key keeps at most one binding per
// generation, plus those retired while operations were in flight.
//
// proven: the object at handle is known to be the key opened (its own
// attributes show the key's public key, or an output of it was checked:
// key/identity.hpp). Until then every operation's output is checked before
// it is returned; set once, by whichever operation checks first.
struct Binding {
    uint64_t gen;
    TokenState *token;
    CK_OBJECT_HANDLE handle;
    bool always_auth;
    Binding *prev;                    // the previous generation's (freed with the key)
    std::atomic<bool> proven{false};
    Binding *next_retired = nullptr;  // in p11tls_key::retired (under retired_lock)
};

}  // namespace p11tls

struct p11tls_key {
    std::shared_ptr<p11tls::CtxState> ctx;
    p11tls::Uri uri;                 // as given (may hold a PIN for re-login)
    const p11tls::Module *module = nullptr;
    CK_TOKEN_INFO token_info{};      // identity of the token at open
    // Other tokens that showed the same key at open (replicas: an HSM
    // cluster, two key servers; doc/remote.md). When the key cannot be
    // bound on its own token (module's link down, token gone, another key
    // there), a rebind tries these in turn, each proven to be the key.
    // Immutable after open.
    struct Replica {
        const p11tls::Module *module;
        CK_TOKEN_INFO token_info;
    };
    std::vector<Replica> replicas;
    std::vector<unsigned char> id;   // CKA_ID
    std::string label;               // CKA_LABEL
    CK_KEY_TYPE key_type = 0;
    // CKA_SIGN, CKA_DECRYPT at open: what the key may be used for (GnuTLS
    // must not pick a signing cipher suite for a decrypt-only key).
    bool can_sign = true, can_decrypt = true;
    // At open: CKA_ALWAYS_AUTHENTICATE, and whether the private object
    // showed its public key itself (then a rebind reads its attributes for
    // the proof; otherwise its first output is checked: key/identity.hpp).
    bool always_auth = false, shows_public = false;
    p11tls::PublicKey pub;
    std::string object_uri;
    uint64_t open_gen = 0;
    // The current generation's binding. Every access is SEQ_CST (the
    // default): BindingUse's proof that a retired binding has no reader
    // (bind.hpp) orders a reader's count, its load of binding, the
    // replacement and the retirement in one total order.
    std::atomic<p11tls::Binding *> binding{nullptr};
    // Operations that may hold a binding: the generation's low 32 bits in
    // the high half, their number in the low half (atomic; a new generation
    // starts from zero, the parent's operations do not exist in a child).
    std::atomic<uint64_t> readers{0};
    p11tls::GenSpinLock retired_lock;
    // The head of the retired list (linked through next_retired). Changed
    // and walked under retired_lock; loaded outside it (SEQ_CST) only to see
    // whether there is anything to reclaim.
    std::atomic<p11tls::Binding *> retired{nullptr};

    ~p11tls_key();
};

namespace p11tls {

// flags: P11TLS_KEY_OPEN_VERIFY_PIN or 0.
std::unique_ptr<p11tls_key> open_key(const std::shared_ptr<CtxState> &ctx, const char *uri,
                                     unsigned flags = 0);

bool key_supports(p11tls_key *key, const Scheme &s);

// Signs data: the message, or with prehashed a digest of the scheme's hash.
std::vector<unsigned char> key_sign(p11tls_key *key, const Scheme &s, const unsigned char *data,
                                    size_t len, bool prehashed);
std::vector<unsigned char> key_decrypt(p11tls_key *key, int padding, const unsigned char *ct,
                                       size_t len);
// Largest signature of scheme s (which must fit the key: P11TLS_E_UNSUPPORTED).
size_t key_signature_size(const p11tls_key *key, const Scheme &s);
// Largest plaintext for padding (RSA keys and known paddings only).
size_t key_plaintext_size(const p11tls_key *key, int padding);

// An EC key opened without its public key (none on the token): learns it
// from two signatures (key/ec_learn.hpp) into key->pub, where the token
// makes raw ECDSA signatures (CKM_ECDSA) and the key may sign; else leaves
// it unknown. params: its CKA_EC_PARAMS.
void learn_ec_public_key(p11tls_key *key, const std::vector<unsigned char> &params);

// Bindings the key holds now, current, earlier and retired (for tests).
size_t key_binding_count(p11tls_key *key);

}  // namespace p11tls
