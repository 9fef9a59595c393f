// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "key/bind.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <unistd.h>

#include <p11tls/p11tls.h>

#include "base/error.hpp"
#include "base/log.hpp"
#include "key/find.hpp"
#include "key/identity.hpp"
#include "key/pubkey.hpp"
#include "pkcs11/attributes.hpp"
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

// Whether t shows, without a login, the key's public key: a public key
// object or certificate with the key's CKA_ID (else its label) whose public
// key is the key's (kShows), only others' (kOther), or nothing (kNothing).
enum class Shows { kNothing, kOther, kKey };
Shows shows_key(TokenState *t, const p11tls_key *key) {
    std::vector<CK_ATTRIBUTE> base;
    if (!key->id.empty())
        base.push_back({CKA_ID, (void *)key->id.data(), key->id.size()});
    else if (!key->label.empty())
        base.push_back({CKA_LABEL, (void *)key->label.data(), key->label.size()});
    else
        return Shows::kNothing;
    Shows seen = Shows::kNothing;
    for (const auto &spki : shown_public_keys(t, base)) {
        if (spki == key->pub.spki) return Shows::kKey;
        seen = Shows::kOther;
    }
    return seen;
}

// Of tokens that look alike (smart cards of one kind share label and
// serial), those the key may be looked for on: one that needs no PIN now,
// and one that shows the key's public key before a login. A PIN is never
// tried on one card after another (doc/security.md, "Where a PIN goes"):
// when a card that needs a PIN shows no public key at all, and nothing
// else decides, P11TLS_E_AMBIGUOUS and no login.
std::vector<TokenState *> where_to_look(const p11tls_key *key, const std::vector<TokenState *> &tokens) {
    if (tokens.size() < 2) return tokens;
    std::vector<TokenState *> out, blind;
    for (TokenState *t : tokens) {
        if (!t->needs_login()) {
            out.push_back(t);
            continue;
        }
        Shows sh = Shows::kNothing;
        try {
            sh = shows_key(t, key);
        } catch (const Error &e) {  // a card going away meanwhile: not this one
            debug("key %s: token in slot %lu: %s", key->object_uri.c_str(), (unsigned long)t->slot(), e.what());
            continue;
        }
        if (sh == Shows::kKey) out.push_back(t);
        if (sh == Shows::kNothing) blind.push_back(t);
    }
    if (!out.empty() || blind.empty()) {
        if (out.empty())
            fail(P11TLS_E_TOKEN_NOT_PRESENT, "token " + P11TLS_FIELD(key->token_info.label) +
                                                 " holding key " + key->object_uri +
                                                 " is not present (tokens like it show other keys)");
        return out;
    }
    if (blind.size() == 1) return blind;
    fail(P11TLS_E_AMBIGUOUS, std::to_string(blind.size()) + " tokens look like the one key " + key->object_uri +
                                 " was on and show no public key before a login; no PIN was sent to any");
}

Binding *rebind_on(p11tls_key *key, uint64_t gen, Binding *old, TokenState *token);
Binding *rebind_in(p11tls_key *key, uint64_t gen, Binding *old, const Module *module,
                   const CK_TOKEN_INFO &token_info);

// Errors of one token that another replica of the key may not have. Not a
// PIN the token refused: the replicas would refuse it too, each at the
// cost of a try.
bool replica_may_help(int code) {
    return code == P11TLS_E_TOKEN_NOT_PRESENT || code == P11TLS_E_DEVICE || code == P11TLS_E_MODULE ||
           code == P11TLS_E_NOT_FOUND || code == P11TLS_E_KEY_MISMATCH;
}

// Finds the key again: on its own token, else on each replica in turn
// (key.hpp), each proven to be the key; the own token's error if none is.
Binding *rebind(p11tls_key *key, uint64_t gen, Binding *old) {
    try {
        return rebind_in(key, gen, old, key->module, key->token_info);
    } catch (const Error &e) {
        if (key->replicas.empty() || !replica_may_help(e.code())) throw;
        for (const p11tls_key::Replica &r : key->replicas) try {
            Binding *b = rebind_in(key, gen, old, r.module, r.token_info);
            log_info("key %s: %s; going on with its replica in module %s", key->object_uri.c_str(), e.what(),
                     r.module->name.c_str());
            return b;
        } catch (const Error &e2) {
            debug("key %s: replica in module %s: %s", key->object_uri.c_str(), r.module->name.c_str(), e2.what());
        }
        throw;
    }
}

// Finds the key again in the current generation (or the module's current
// epoch): same module, same token; installs the new binding in front of
// old. Tokens that look alike (smart cards of one kind share label and
// serial) are tried in turn, the one in the key's last slot first, among
// those a PIN may go to (where_to_look): the key's identity decides.
Binding *rebind_in(p11tls_key *key, uint64_t gen, Binding *old, const Module *module,
                   const CK_TOKEN_INFO &token_info) {
    World &w = current_world();
    ModuleState *ms = w.state(const_cast<Module *>(module));
    if (int status = ms->ensure_initialized()) fail(status, ms->error());
    // old's slot first, if old is this world's and on this module
    const bool own = old && old->gen == gen && old->token->module() == module;
    std::vector<TokenState *> tokens =
        where_to_look(key, ms->tokens_like(token_info, own, own ? old->token->slot() : 0));
    if (tokens.empty()) {
        // A link module's server that is away says so (module_state.hpp).
        const std::string why = ms->unlinked() ? " (" + ms->slot_error() + ")" : "";
        fail(P11TLS_E_TOKEN_NOT_PRESENT,
             "token " + P11TLS_FIELD(token_info.label) + " is not present" + why);
    }
    for (size_t i = 0;; ++i) try {
        return rebind_on(key, gen, old, tokens[i]);
    } catch (const Error &e) {
        if (i + 1 == tokens.size() || (e.code() != P11TLS_E_KEY_MISMATCH && e.code() != P11TLS_E_NOT_FOUND)) throw;
        debug("key %s: not on the token in slot %lu (%s); trying the next that looks alike",
              key->object_uri.c_str(), (unsigned long)tokens[i]->slot(), e.what());
    }
}

// rebind() on one token: a private key with the same CKA_ID, label and key
// type (one search, one attribute read). The object found is the key
// opened only if it shows that key's public key itself; if it shows
// another, the key is gone (P11TLS_E_KEY_MISMATCH); if it shows none (EC
// keys on SoftHSM and NSS), the binding starts unproven and the first
// output is checked (key/identity.hpp). Companion objects are not read: a
// public key object or certificate that matches proves nothing about the
// private key beside it (another process may have replaced the private key
// alone). Another thread may have replaced old first: its binding is kept
// and returned, ours dropped.
Binding *rebind_on(p11tls_key *key, uint64_t gen, Binding *old, TokenState *token) {
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
