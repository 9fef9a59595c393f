// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Binding a key to an object handle in the current generation: the fork
// policy, re-finding the key after fork or a lost login, and freeing the
// bindings a key no longer uses.
#pragma once
#include <cstdint>

#include "base/fork.hpp"
#include "key/key.hpp"

namespace p11tls {

void free_chain(Binding *b, Binding *Binding::*next);


// An operation that loads key->binding and uses what it points to. Freeing
// a retired binding X is safe once the reader count of X's generation is
// zero at a moment after X was retired: a reader of X counted itself before
// it loaded key->binding, which was before X was replaced, which was before
// X was retired (every step SEQ_CST), so it has finished. Only bindings of
// the current generation are freed; the count is per generation because a
// child inherits the counts of parent threads that do not exist in it.
class BindingUse {
public:
    explicit BindingUse(p11tls_key *key) : key_(key), tag_(tag_of(current_generation())) {
        uint64_t w = key_->readers.load();
        for (;;) {
            uint64_t nw = (w >> 32) == tag_ ? w + 1 : (tag_ << 32 | 1);
            if (key_->readers.compare_exchange_strong(w, nw)) break;
        }
    }
    ~BindingUse() {
        uint64_t w = key_->readers.load();
        for (;;) {
            if ((w >> 32) != tag_) return;  // entered before this process was forked
            if (key_->readers.compare_exchange_strong(w, w - 1)) break;
        }
        if (((w - 1) & 0xffffffffu) == 0 && key_->retired.load())
            reclaim(key_);
    }
    BindingUse(const BindingUse &) = delete;
    BindingUse &operator=(const BindingUse &) = delete;

    // b was replaced in its own generation: freed now or by the last reader.
    static void retire(p11tls_key *key, Binding *b) {
        {
            GenSpinGuard g(key->retired_lock);
            b->next_retired = key->retired.load();
            key->retired.store(b);
        }
        reclaim(key);
    }

private:
    static uint64_t tag_of(uint64_t gen) { return gen & 0xffffffffu; }

    static void reclaim(p11tls_key *key) {
        const uint64_t gen = current_generation();
        Binding *dead = nullptr;
        {
            GenSpinGuard g(key->retired_lock);
            uint64_t w = key->readers.load();
            if ((w >> 32) == tag_of(gen) && (w & 0xffffffffu) != 0) return;
            // Each binding of this generation is unlinked before it moves to
            // dead, so the list is whole at every step (a child forked
            // meanwhile frees it with the key).
            Binding *prev = nullptr;
            for (Binding *b = key->retired.load(), *next; b; b = next) {
                next = b->next_retired;
                if (b->gen == gen) {
                    if (prev)
                        prev->next_retired = next;
                    else
                        key->retired.store(next);
                    b->next_retired = dead;
                    dead = b;
                } else {
                    prev = b;
                }
            }
        }
        free_chain(dead, &Binding::next_retired);
    }

    p11tls_key *key_;
    const uint64_t tag_;
};

// The binding for this generation, applying the context's fork policy. A
// binding whose token was lost (removed) is rebound too: the token may be
// back, as a new TokenState. Only inside a BindingUse.
Binding *bind(p11tls_key *key);

// Logs in again (with this key's own PIN source; a refused PIN is still
// never retried) and finds the key again, with the same identity checks as
// after fork.
Binding *refresh_binding(p11tls_key *key, Binding *old);

}  // namespace p11tls
