// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Which tokens a URI names, and why none when none does.
#include "world/matching.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "uri/uri.hpp"
#include "world/module_state.hpp"
#include "world/world.hpp"

namespace p11tls {

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
        // An empty slot (SoftHSM's spare) has no label: said for what it
        // is, as p11tls list-tokens shows it.
        for (size_t i = 0; i < seen.size() && i < kTokensNamed; ++i)
            out += std::string(i ? ", " : "") +
                   (seen[i]->info().flags & CKF_TOKEN_INITIALIZED
                        ? "'" + seen[i]->label() + "'"
                        : "an uninitialized token in slot " + std::to_string(seen[i]->slot())) +
                   " (module " + seen[i]->module()->name + ")";
        if (seen.size() > kTokensNamed) out += " and " + std::to_string(seen.size() - kTokensNamed) + " more";
    }
    for (size_t i = 0; i < failures.size(); ++i)
        out += (i == 0 && !seen.empty() ? "; also: " : "; ") + failures[i];
    return out;
}
}  // namespace

std::vector<ModuleState *> candidate_modules(const CtxState &ctx, const Uri &uri,
                                             std::vector<std::string> *failures,
                                             bool *named_module_found) {
    World &w = current_world();
    std::vector<Module *> mods = ctx.modules();
    const char *want_name = uri.module_name();
    const char *want_path = uri.module_path();
    if (want_path) {
        bool loaded = false;
        for (Module *m : mods) loaded = loaded || module_has_path(*m, want_path);
        if (!loaded) {
            if (!(ctx.flags() & P11TLS_CTX_ALLOW_MODULE_PATH))
                fail(P11TLS_E_NOT_PERMITTED,
                     "URI names a module-path that is not loaded, and this context does not "
                     "allow URIs to load modules");
            mods.push_back(load_module_path(want_path));
        }
    }
    std::vector<ModuleState *> out;
    for (Module *m : mods) {
        if (want_name && m->name != want_name) continue;
        if (want_path && !module_has_path(*m, want_path)) continue;
        if (named_module_found) *named_module_found = true;
        ModuleState *ms = w.state(m);
        if (int status = ms->ensure_initialized()) {
            // A module not called in a forked child says why itself.
            if (failures)
                failures->push_back(status == P11TLS_E_FORKED
                                        ? ms->error()
                                        : "module " + m->name + " failed to initialize (" +
                                              from(ms->error(), "C_Initialize") + ")");
            continue;
        }
        if (uri.matches_module(ms->info())) out.push_back(ms);
    }
    return out;
}

std::vector<TokenState *> matching_tokens(const CtxState &ctx, const Uri &uri, std::string *why,
                                          bool uninitialized_too) {
    std::vector<TokenState *> out, seen;
    std::vector<std::string> failures;  // only filled with why
    bool named_module_found = false;
    std::vector<ModuleState *> mods =
        candidate_modules(ctx, uri, why ? &failures : nullptr, &named_module_found);
    auto look = [&](ModuleState *&ms, bool again) {
        std::vector<TokenState *> tokens = ms->tokens();
        if (ms->stale()) {
            // Another caller finalized the module (tokens() was answered
            // CKR_CRYPTOKI_NOT_INITIALIZED): its next epoch, looked at now,
            // so that no lookup or listing reports no token for that.
            ModuleState *next = current_world().state(ms->module());
            if (next != ms && next->ensure_initialized() == 0) {
                ms = next;
                tokens = ms->tokens();
            }
        }
        if (tokens.empty() && why && !again) {
            std::string e = ms->slot_error();
            if (!e.empty())
                failures.push_back("module " + ms->module()->name + " failed to list its slots (" +
                                   from(e, "C_GetSlotList") + ")");
        }
        for (TokenState *t : tokens) {
            // An uninitialized token (SoftHSM's spare slot) has no label
            // to compare with, no objects and no session to open
            // (CKR_TOKEN_NOT_RECOGNIZED): only a token listing shows it.
            if (!(t->info().flags & CKF_TOKEN_INITIALIZED) && !uninitialized_too) continue;
            if (why && std::find(seen.begin(), seen.end(), t) == seen.end()) seen.push_back(t);
            // What a URI matches in the slot info (descriptions, versions)
            // does not change.
            if (!uri.matches_slot(t->slot(), t->slot_info())) continue;
            if (!uri.matches_token(t->info())) continue;
            out.push_back(t);
        }
    };
    for (ModuleState *&ms : mods) look(ms, false);
    if (out.empty())
        for (ModuleState *&ms : mods)
            if (ms->rescan_slots()) look(ms, true);
    const char *want_name = uri.module_name();
    if (why && out.empty()) {
        if (want_name && !named_module_found)
            failures.insert(failures.begin(), std::string("no module is named '") + want_name + "'");
        *why = explain_no_match(seen, failures);
    }
    return out;
}

}  // namespace p11tls
