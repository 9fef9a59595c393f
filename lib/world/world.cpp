// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "world/world.hpp"

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"
#include "uri/uri.hpp"

namespace p11tls {

namespace {
constexpr size_t kSlotRoom = 16;
World *g_world;            // the current generation's world; older ones are abandoned
GenSpinLock g_world_lock;  // guards replacing g_world; a child may take it over
}  // namespace

World &current_world() {
    const uint64_t gen = current_generation();
    World *w = __atomic_load_n(&g_world, __ATOMIC_ACQUIRE);
    if (w && w->generation() == gen) return *w;
    GenSpinGuard g(g_world_lock);
    w = __atomic_load_n(&g_world, __ATOMIC_ACQUIRE);
    if (!w || w->generation() != gen) {
        if (w) log_info("generation %llu: new world after fork", (unsigned long long)gen);
        w = new World(gen);  // the previous one is leaked on purpose (fork model, item 3)
        __atomic_store_n(&g_world, w, __ATOMIC_RELEASE);
    }
    return *w;
}

ModuleState *World::state(Module *m) {
    std::lock_guard<std::mutex> g(mu_);
    for (auto &s : states_)
        if (s->module() == m) return s.get();
    states_.push_back(std::make_unique<ModuleState>(m));
    return states_.back().get();
}

int ModuleState::ensure_initialized() {
    std::lock_guard<std::mutex> g(mu_);
    if (init_done_) return init_status_;
    init_done_ = true;
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = P11CALL(mod_, C_Initialize, (void *)&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        init_status_ = P11TLS_E_MODULE;
        error_ = "module " + mod_->name + ": C_Initialize: " + ckr_name(rv);
        log_warning("%s (module skipped)", error_.c_str());
        return init_status_;
    }
    rv = P11CALL(mod_, C_GetInfo, &info_);
    if (rv == CKR_CRYPTOKI_NOT_INITIALIZED) {
        // p11-kit's managed module counts forks with its own atfork handler:
        // in a child made without handlers (_Fork, clone), or before its
        // handler ran, it answers CKR_CRYPTOKI_ALREADY_INITIALIZED for a
        // module that has reset itself. Our managed instance is finalized
        // and initialized once more (p11-kit finalizes the module itself
        // only if no other caller has it initialized).
        debug("module %s: not initialized in this process; initializing again", mod_->name.c_str());
        P11CALL(mod_, C_Finalize, (void *)nullptr);
        rv = P11CALL(mod_, C_Initialize, (void *)&args);
        if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) rv = P11CALL(mod_, C_GetInfo, &info_);
    }
    if (rv != CKR_OK) memset(&info_, 0, sizeof info_);
    return 0;
}

std::vector<TokenState *> ModuleState::tokens() {
    std::vector<TokenState *> out;
    if (ensure_initialized() != 0) return out;
    // Room for the usual number of slots first: one call instead of two.
    std::vector<CK_SLOT_ID> slots(kSlotRoom);
    CK_ULONG n = slots.size();
    CK_RV rv = P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_TRUE, slots.data(), &n);
    if (rv == CKR_BUFFER_TOO_SMALL) {
        n = 0;
        rv = P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_TRUE, (CK_SLOT_ID *)nullptr, &n);
        slots.resize(n);
        if (rv == CKR_OK && n > 0)
            rv = P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_TRUE, slots.data(), &n);
    }
    std::lock_guard<std::mutex> g(mu_);
    if (rv != CKR_OK) {
        slot_error_ = "module " + mod_->name + ": C_GetSlotList: " + ckr_name(rv);
        return out;
    }
    slot_error_.clear();
    slots.resize(std::min<size_t>(n, slots.size()));
    for (CK_SLOT_ID id : slots) {
        // C_GetTokenInfo is a round trip to the device (~40 us even for
        // SoftHSM, which re-reads its token file), made on every open: a
        // token that cannot change under us is taken as known.
        TokenState *known = nullptr;
        for (auto &t : tokens_)
            if (t->slot() == id && !t->lost()) known = t.get();
        if (known && known->fixed()) {
            out.push_back(known);
            continue;
        }
        CK_TOKEN_INFO ti;
        if (P11CALL(mod_, C_GetTokenInfo, id, &ti) != CKR_OK) {
            // A failure here can be passing (SoftHSM returns CKR_GENERAL_ERROR
            // while forked children re-read its files): it must not hide a
            // token this generation already knows in that slot. A removed
            // token is dropped by C_GetSlotList, or by mark_lost().
            if (known) out.push_back(known);
            continue;
        }
        TokenState *found = nullptr;
        for (auto &t : tokens_)
            if (t->slot() == id && !t->lost() && t->same_token(ti)) found = t.get();
        if (!found) {
            CK_SLOT_INFO si;
            if (P11CALL(mod_, C_GetSlotInfo, id, &si) != CKR_OK) continue;
            tokens_.push_back(std::make_unique<TokenState>(this, id, si, ti));
            found = tokens_.back().get();
        }
        out.push_back(found);
    }
    return out;
}

TokenState::TokenState(ModuleState *ms, CK_SLOT_ID slot, const CK_SLOT_INFO &slot_info,
                       const CK_TOKEN_INFO &info)
    : ms_(ms), slot_(slot), slot_info_(slot_info), info_(info), uri_(format_token_uri(info)),
      label_(P11TLS_FIELD(info.label)) {}

const Module *TokenState::module() const { return ms_->module(); }

bool TokenState::fixed() const {
    return !(slot_info_.flags & CKF_REMOVABLE_DEVICE) && (info_.flags & CKF_TOKEN_INITIALIZED);
}

bool TokenState::same_token(const CK_TOKEN_INFO &o) const {
    return memcmp(info_.label, o.label, sizeof o.label) == 0 &&
           memcmp(info_.serialNumber, o.serialNumber, sizeof o.serialNumber) == 0 &&
           memcmp(info_.model, o.model, sizeof o.model) == 0 &&
           memcmp(info_.manufacturerID, o.manufacturerID, sizeof o.manufacturerID) == 0;
}

CK_SESSION_HANDLE TokenState::acquire_session() {
    {
        std::lock_guard<std::mutex> g(pool_mu_);
        if (!idle_.empty()) {
            CK_SESSION_HANDLE h = idle_.back();
            idle_.pop_back();
            return h;
        }
    }
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = P11CALL(module(), C_OpenSession, slot_, (CK_FLAGS)CKF_SERIAL_SESSION,
                       (void *)nullptr, (CK_NOTIFY) nullptr, &h);
    if (rv != CKR_OK) fail_ckr(module(), "C_OpenSession", rv);
    return h;
}

void TokenState::release_session(CK_SESSION_HANDLE h, bool broken) {
    if (broken) {
        P11CALL(module(), C_CloseSession, h);
        return;
    }
    std::lock_guard<std::mutex> g(pool_mu_);
    idle_.push_back(h);
}

bool TokenState::has_mechanism(CK_MECHANISM_TYPE m) {
    if (!__atomic_load_n(&mechs_loaded_, __ATOMIC_ACQUIRE)) load_mechanisms();
    for (CK_MECHANISM_TYPE x : mechs_)
        if (x == m) return true;
    return false;
}

void TokenState::load_mechanisms() {
    std::lock_guard<std::mutex> g(pool_mu_);
    if (!__atomic_load_n(&mechs_loaded_, __ATOMIC_RELAXED)) {
        CK_ULONG n = 0;
        if (P11CALL(module(), C_GetMechanismList, slot_, (CK_MECHANISM_TYPE *)nullptr, &n) ==
            CKR_OK) {
            // One spare element: p11-kit-client.so before 0.25 (Debian 12
            // has 0.24.1) reads one past the array when it drops mechanisms
            // its RPC cannot carry (p11-kit pull request 456; found by ASan
            // in tests/forward). The module is still told n.
            mechs_.resize(n + 1);
            if (P11CALL(module(), C_GetMechanismList, slot_, mechs_.data(), &n) == CKR_OK)
                mechs_.resize(n);
            else
                mechs_.clear();
        }
        __atomic_store_n(&mechs_loaded_, true, __ATOMIC_RELEASE);
    }
}

std::string ModuleState::slot_error() {
    std::lock_guard<std::mutex> g(mu_);
    return slot_error_;
}

std::string no_token_detail(const std::string &why) {
    return why.empty() ? std::string("no token matches the URI") : "no token matches the URI; " + why;
}

void fail_no_token(const std::string &why) { fail(P11TLS_E_TOKEN_NOT_PRESENT, no_token_detail(why)); }

namespace {
constexpr size_t kTokensNamed = 8;  // a longer list is cut ("and N more")

// "C_Initialize: CKR_x" out of "module NAME: C_Initialize: CKR_x".
std::string from(const std::string &error, const char *function) {
    size_t at = error.rfind(function);
    return at == std::string::npos ? error : error.substr(at);
}

// Why nothing matched: the tokens the URI was compared with, then the
// modules (among those it names) that showed none because they failed.
// With tokens present a typo in the URI is the likelier cause, so a failed
// module is only mentioned ("also: ..."), not blamed.
std::string explain_no_match(const std::vector<TokenState *> &seen,
                             const std::vector<std::string> &failures) {
    std::string out;
    if (seen.empty()) {
        out = "no token present";
    } else {
        out = "tokens present: ";
        for (size_t i = 0; i < seen.size() && i < kTokensNamed; ++i)
            out += (i ? ", '" : "'") + seen[i]->label() + "' (module " + seen[i]->module()->name + ")";
        if (seen.size() > kTokensNamed) out += " and " + std::to_string(seen.size() - kTokensNamed) + " more";
    }
    for (size_t i = 0; i < failures.size(); ++i)
        out += (i == 0 && !seen.empty() ? "; also: " : "; ") + failures[i];
    return out;
}
}  // namespace

std::vector<TokenState *> matching_tokens(const CtxState &ctx, const Uri &uri, std::string *why) {
    World &w = current_world();
    std::vector<Module *> mods = ctx.modules();
    const char *want_name = uri.module_name();
    const char *want_path = uri.module_path();
    if (want_path) {
        bool loaded = false;
        for (Module *m : mods) loaded = loaded || m->path == want_path;
        if (!loaded) {
            if (!(ctx.flags() & P11TLS_CTX_ALLOW_MODULE_PATH))
                fail(P11TLS_E_NOT_PERMITTED,
                     "URI names a module-path that is not loaded, and this context does not "
                     "allow URIs to load modules");
            mods.push_back(load_module_path(want_path));
        }
    }
    std::vector<TokenState *> out, seen;
    std::vector<std::string> failures;  // only filled with why
    bool named_module_found = false;
    for (Module *m : mods) {
        if (want_name && m->name != want_name) continue;
        if (want_path && m->path != want_path) continue;
        named_module_found = true;
        ModuleState *ms = w.state(m);
        if (ms->ensure_initialized() != 0) {
            if (why)
                failures.push_back("module " + m->name + " failed to initialize (" +
                                   from(ms->error(), "C_Initialize") + ")");
            continue;
        }
        if (!uri.matches_module(ms->info())) continue;
        std::vector<TokenState *> tokens = ms->tokens();
        if (tokens.empty() && why) {
            std::string e = ms->slot_error();
            if (!e.empty())
                failures.push_back("module " + m->name + " failed to list its slots (" +
                                   from(e, "C_GetSlotList") + ")");
        }
        for (TokenState *t : tokens) {
            // An uninitialized token (SoftHSM's spare slot) has no label
            // to compare with.
            if (why && (t->info().flags & CKF_TOKEN_INITIALIZED)) seen.push_back(t);
            // What a URI matches in the slot info (descriptions, versions)
            // does not change.
            if (!uri.matches_slot(t->slot(), t->slot_info())) continue;
            if (!uri.matches_token(t->info())) continue;
            out.push_back(t);
        }
    }
    if (why && out.empty()) {
        if (want_name && !named_module_found)
            failures.insert(failures.begin(), std::string("no module is named '") + want_name + "'");
        *why = explain_no_match(seen, failures);
    }
    return out;
}

std::vector<CK_OBJECT_HANDLE> find_objects(TokenState *t, CK_SESSION_HANDLE s,
                                           const std::vector<CK_ATTRIBUTE> &tmpl, size_t max) {
    const Module *m = t->module();
    CK_RV rv = P11CALL(m, C_FindObjectsInit, s, (CK_ATTRIBUTE *)tmpl.data(), (CK_ULONG)tmpl.size());
    if (rv != CKR_OK) fail_ckr(m, "C_FindObjectsInit", rv);
    // In chunks, until the module has no more or max are found: a module
    // may return fewer than asked while more remain, and a large max must
    // not cost its size in memory on every search.
    constexpr size_t kChunk = 64;
    std::vector<CK_OBJECT_HANDLE> out;
    CK_OBJECT_HANDLE chunk[kChunk];
    while (out.size() < max) {
        CK_ULONG n = 0;
        const CK_ULONG want = (CK_ULONG)std::min(kChunk, max - out.size());
        rv = P11CALL(m, C_FindObjects, s, chunk, want, &n);
        if (rv != CKR_OK || n == 0) break;
        if (n > want) {  // a broken module: what it wrote past chunk is gone
            rv = CKR_GENERAL_ERROR;
            break;
        }
        out.insert(out.end(), chunk, chunk + n);
    }
    CK_RV final_rv = P11CALL(m, C_FindObjectsFinal, s);
    if (rv != CKR_OK) fail_ckr(m, "C_FindObjects", rv);
    // The search may still be active on s: failing makes the caller's
    // PooledSession close s rather than pool it.
    if (final_rv != CKR_OK) fail_ckr(m, "C_FindObjectsFinal", final_rv);
    return out;
}

std::vector<unsigned char> get_attribute(TokenState *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                         CK_ATTRIBUTE_TYPE type) {
    // Absent or sensitive is an answer; any other failure is the module's
    // error, not an empty value (an empty CKA_ID made a failed read look
    // like an unsupported key; found with a module failing at random).
    CK_ATTRIBUTE a = {type, nullptr, 0};
    auto absent = [&](CK_RV rv) {
        if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE) return true;
        if (rv != CKR_OK)
            fail_ckr(t->module(), ("C_GetAttributeValue(" + cka_name(type) + ")").c_str(), rv);
        return a.ulValueLen == CK_UNAVAILABLE_INFORMATION;
    };
    if (absent(get_attribute_value(t->module(), s, o, &a, 1UL))) return {};
    std::vector<unsigned char> v(a.ulValueLen);
    a.pValue = v.data();
    if (absent(get_attribute_value(t->module(), s, o, &a, 1UL))) return {};
    v.resize(a.ulValueLen);
    return v;
}

Attributes::Attributes(TokenState *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                       const std::vector<CK_ATTRIBUTE_TYPE> &types)
    : types_(types), values_(types.size()) {
    const Module *m = t->module();
    const CK_ULONG unavailable = CK_UNAVAILABLE_INFORMATION;
    auto tolerated = [](CK_RV rv) {
        return rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE;
    };
    // One call with room for every value a key or certificate object
    // usually has (an RSA-4096 modulus, a P-521 point, labels, IDs).
    std::vector<unsigned char> room(types.size() * kAttributeRoom);
    std::vector<CK_ATTRIBUTE> tmpl;
    for (size_t i = 0; i < types.size(); ++i)
        tmpl.push_back({types[i], room.data() + i * kAttributeRoom, (CK_ULONG)kAttributeRoom});
    CK_RV rv = tmpl.empty() ? CKR_OK
                            : get_attribute_value(m, s, o, tmpl.data(), (CK_ULONG)tmpl.size());
    // A value too large for its room comes back unavailable, like an absent
    // one (CKR_BUFFER_TOO_SMALL tells only that one of them was too large).
    bool batched = !tmpl.empty() && (tolerated(rv) || rv == CKR_BUFFER_TOO_SMALL) &&
                   tmpl[0].ulValueLen != unavailable;
    std::vector<size_t> retry;
    for (size_t i = 0; batched && i < tmpl.size(); ++i) {
        if (tmpl[i].ulValueLen == unavailable) {
            if (rv == CKR_BUFFER_TOO_SMALL) retry.push_back(i);
            continue;
        }
        if (tmpl[i].ulValueLen > kAttributeRoom) {  // a module that lies: read alone
            retry.push_back(i);
            continue;
        }
        const unsigned char *v = room.data() + i * kAttributeRoom;
        values_[i].assign(v, v + tmpl[i].ulValueLen);
    }
    if (!batched) {
        for (size_t i = 0; i < types.size(); ++i) values_[i] = get_attribute(t, s, o, types[i]);
        return;
    }
    for (size_t i : retry) values_[i] = get_attribute(t, s, o, types[i]);
}

const std::vector<unsigned char> &Attributes::get(CK_ATTRIBUTE_TYPE type) const {
    // Never destroyed: no static with a non-trivial destructor (a child's
    // exit, or a dlclosed caller, must not run it).
    static const std::vector<unsigned char> *const none = new std::vector<unsigned char>();
    for (size_t i = 0; i < types_.size(); ++i)
        if (types_[i] == type) return values_[i];
    return *none;
}

}  // namespace p11tls
