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
#include "key/identity.hpp"
#include "pkcs11/search.hpp"
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

// Finds the key again in the current generation: same module, same token,
// a private key with the same CKA_ID, label and key type (one search, one
// attribute read); installs the new binding in front of old. The object
// found is the key opened only if it shows that key's public key itself;
// if it shows another, the key is gone (P11TLS_E_KEY_MISMATCH); if it
// shows none (EC keys on SoftHSM and NSS), the binding starts unproven and
// the first output is checked (key/identity.hpp). Companion objects are
// not read: a public key object or certificate that matches proves
// nothing about the private key beside it (another process may have
// replaced the private key alone). Another
// thread may have replaced old first: its binding is kept and returned,
// ours dropped.
Binding *rebind(p11tls_key *key, uint64_t gen, Binding *old) {
    World &w = current_world();
    ModuleState *ms = w.state(const_cast<Module *>(key->module));
    if (int status = ms->ensure_initialized()) fail(status, ms->error());
    TokenState *token = nullptr;
    for (TokenState *t : ms->tokens())
        if (t->same_token(key->token_info)) token = t;
    if (!token)
        fail(P11TLS_E_TOKEN_NOT_PRESENT,
             "token " + P11TLS_FIELD(key->token_info.label) + " is not present");
    token->ensure_login(*key->ctx, &key->uri);
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
    std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &priv, sizeof priv},
                                      {CKA_KEY_TYPE, &key->key_type, sizeof key->key_type}};
    if (!key->id.empty()) tmpl.push_back({CKA_ID, key->id.data(), key->id.size()});
    if (!key->label.empty()) tmpl.push_back({CKA_LABEL, (void *)key->label.data(), key->label.size()});
    PooledSession s(token);
    const auto found = find_objects(token->module(), s.get(), tmpl, 2);
    if (found.empty()) fail(P11TLS_E_NOT_FOUND, "key " + key->object_uri + " is gone from its token");
    if (found.size() > 1) fail(P11TLS_E_AMBIGUOUS, "key " + key->object_uri + " is no longer unique");
    Match m{token, found[0], std::nullopt, {}, {}};
    // A key whose object showed no public key at open (EC keys on SoftHSM
    // and NSS) will show none now: its attributes are not read, and
    // CKA_ALWAYS_AUTHENTICATE is taken as it was (wrong, the token refuses
    // the operation; never a signature from another key).
    Identity id = Identity::kUnproven;
    bool auth = key->always_auth;
    if (key->shows_public) {
        const Attributes &attrs = key_attributes(m, s.get());
        id = identity_of(attrs, key->pub);
        auth = always_auth(attrs);
    }
    if (id == Identity::kMismatch)
        fail(P11TLS_E_KEY_MISMATCH, "key found for " + key->object_uri +
                                        " is not the key that was opened: its public key differs");
    // A binding of this generation is superseded, not kept: it is retired
    // once installed (a lost login or a pulled token would otherwise add
    // one per occurrence for the key's life).
    const bool supersedes = old && old->gen == gen;
    Binding *nb = make_binding(gen, m, auth, supersedes ? old->prev : old, id == Identity::kProven);
    log_info("key %s: rebound in generation %llu%s", key->object_uri.c_str(), (unsigned long long)gen,
             id == Identity::kProven ? "" : " (identity checked on its first operation)");
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
