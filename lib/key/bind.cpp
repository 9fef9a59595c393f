// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "key/bind.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include <p11tls/p11tls.h>

#include "base/error.hpp"
#include "base/log.hpp"
#include "key/find.hpp"
#include "world/pooled_session.hpp"
#include "world/world.hpp"

namespace p11tls {

void free_chain(Binding *b, Binding *Binding::*next) {
    while (b) {
        Binding *n = b->*next;
        delete b;
        b = n;
    }
}

namespace {

[[noreturn]] void fork_abort(const p11tls_key *key) {
    char msg[512];
    snprintf(msg, sizeof msg,
             "p11tls: key %s was opened before fork() and its context's fork policy is "
             "P11TLS_FORK_ABORT; aborting\n",
             key->object_uri.c_str());
    ssize_t r = write(2, msg, strlen(msg));
    (void)r;
    abort();
}

Binding *rebind_on(p11tls_key *key, uint64_t gen, Binding *old, TokenState *token);

// Finds the key again in the current generation (or the module's current
// epoch): same module, same token, same CKA_ID and label, and the same
// public key; installs the new binding in front of old. Another thread may
// have replaced old first: its binding is kept and returned, ours dropped.
// Tokens that look alike (smart cards of one kind share label and serial)
// are tried in turn, the one in the key's last slot first: the public key
// decides.
Binding *rebind(p11tls_key *key, uint64_t gen, Binding *old) {
    World &w = current_world();
    ModuleState *ms = w.state(const_cast<Module *>(key->module));
    if (ms->ensure_initialized() != 0) fail(P11TLS_E_MODULE, ms->error());
    const bool own = old && old->gen == gen;  // else old's token is another world's
    std::vector<TokenState *> tokens = ms->tokens_like(key->token_info, own, own ? old->token->slot() : 0);
    if (tokens.empty())
        fail(P11TLS_E_TOKEN_NOT_PRESENT,
             "token " + P11TLS_FIELD(key->token_info.label) + " is not present");
    for (size_t i = 0;; ++i) try {
        return rebind_on(key, gen, old, tokens[i]);
    } catch (const Error &e) {
        if (i + 1 == tokens.size() || (e.code() != P11TLS_E_KEY_MISMATCH && e.code() != P11TLS_E_NOT_FOUND)) throw;
        debug("key %s: not on the token in slot %lu (%s); trying the next that looks alike",
              key->object_uri.c_str(), (unsigned long)tokens[i]->slot(), e.what());
    }
}

// rebind() on one token.
Binding *rebind_on(p11tls_key *key, uint64_t gen, Binding *old, TokenState *token) {
    std::vector<CK_ATTRIBUTE> extra;
    if (!key->id.empty()) extra.push_back({CKA_ID, key->id.data(), key->id.size()});
    if (!key->label.empty())
        extra.push_back({CKA_LABEL, (void *)key->label.data(), key->label.size()});
    // Leaves the certificate out of the named search: one object fewer to
    // read in every child's first operation.
    extra.push_back({CKA_KEY_TYPE, &key->key_type, sizeof key->key_type});
    auto matches = find_private_keys(*key->ctx, key->uri, {token}, extra);
    if (matches.empty()) fail(P11TLS_E_NOT_FOUND, "key " + key->object_uri + " is gone from its token");
    if (matches.size() > 1) fail(P11TLS_E_AMBIGUOUS, "key " + key->object_uri + " is no longer unique");
    PooledSession s(token);
    PublicKey pk = public_key(matches[0], s.get());
    if (pk.spki != key->pub.spki)
        fail(P11TLS_E_KEY_MISMATCH,
             "key found for " + key->object_uri + " is not the key that was opened");
    // A binding of this generation is superseded, not kept: it is retired
    // once installed (a lost login or a pulled token would otherwise add
    // one per occurrence for the key's life).
    const bool supersedes = old && old->gen == gen;
    Binding *nb = make_binding(gen, matches[0], always_auth(*matches[0].attrs),
                               supersedes ? old->prev : old);
    log_info("key %s: rebound in generation %llu", key->object_uri.c_str(), (unsigned long long)gen);
    if (!key->binding.compare_exchange_strong(old, nb)) {
        delete nb;
        return old;
    }
    if (supersedes) BindingUse::retire(key, old);
    return nb;
}

}  // namespace

Binding *bind(p11tls_key *key) {
    const uint64_t gen = current_generation();
    Binding *b = key->binding.load();
    if (b && b->gen == gen && !b->token->lost()) return b;
    if (key->open_gen != gen) {
        int policy = key->ctx->fork_policy();
        if (policy == P11TLS_FORK_FAIL)
            fail(P11TLS_E_FORKED, "key " + key->object_uri + " was opened before fork()");
        if (policy == P11TLS_FORK_ABORT) fork_abort(key);
    }
    return rebind(key, gen, b);
}

Binding *refresh_binding(p11tls_key *key, Binding *old) {
    old->token->note_logged_out();
    return rebind(key, current_generation(), old);
}

size_t key_binding_count(p11tls_key *key) {
    GenSpinGuard g(key->retired_lock);
    size_t n = 0;
    for (Binding *b = key->binding.load(); b; b = b->prev) ++n;
    for (Binding *b = key->retired.load(); b; b = b->next_retired) ++n;
    return n;
}

}  // namespace p11tls

p11tls_key::~p11tls_key() {
    p11tls::free_chain(binding.load(), &p11tls::Binding::prev);
    p11tls::free_chain(retired.load(), &p11tls::Binding::next_retired);
}
