// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/module.hpp"

#include <atomic>
#include <climits>
#include <cstdlib>

#include <p11-kit/p11-kit.h>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"

namespace p11tls {

namespace {

// Append-only registry: slots are published with a release store of the
// count after the record is complete, so readers (in any generation) need
// no lock: an acquire load of the count makes the records below it visible.
constexpr int kMaxModules = 256;
Module *g_modules[kMaxModules];
std::atomic<int> g_count{0};
GenSpinLock g_append_lock;                 // guards appends to g_modules / g_count
std::atomic<bool> g_registered_loaded{false};  // set once registered modules are in the registry

std::string take_string(char *s) {
    std::string r = s ? s : "";
    free(s);
    return r;
}

int count() { return g_count.load(std::memory_order_acquire); }

std::string resolve(const std::string &path) {
    char buf[PATH_MAX];
    return realpath(path.c_str(), buf) ? std::string(buf) : path;
}

bool same_init_reserved(const Module *m, const char *init_reserved) {
    if (!init_reserved) return !m->has_init_reserved;
    return m->has_init_reserved && m->init_reserved == init_reserved;
}

// The module already loaded from path (or the same file) for path-added
// modules; throws if that file was loaded with other init arguments.
Module *find_path_module(const std::string &path, const std::string &real, const char *init_reserved, int n) {
    for (int i = 0; i < n; ++i) {
        Module *m = g_modules[i];
        if (m->path != path && m->real_path != real) continue;
        if (!same_init_reserved(m, init_reserved))
            fail(P11TLS_E_INVALID_ARGUMENT, "module " + path + " is already loaded (as " + m->name +
                                                ") with other init arguments; a module is initialized "
                                                "once per process");
        if (!m->registered && m->path == path) return m;
    }
    return nullptr;
}

// p11-kit's RPC client, which reaches its tokens through a socket.
bool is_client_path(const std::string &path) {
    const size_t slash = path.rfind('/');
    return path.compare(slash == std::string::npos ? 0 : slash + 1, std::string::npos,
                        "p11-kit-client.so") == 0;
}

// p11-kit's reading of a boolean option.
bool config_yes(const std::string &v) { return v == "yes" || v == "true" || v == "on"; }

void append_locked(Module *m) {
    const int n = g_count.load(std::memory_order_relaxed);  // appends are serialized by g_append_lock
    if (n >= kMaxModules) fail(P11TLS_E_MODULE, "too many PKCS#11 modules loaded");
    g_modules[n] = m;
    g_count.store(n + 1, std::memory_order_release);
}

}  // namespace

std::vector<Module *> registered_modules() {
    if (!g_registered_loaded.load(std::memory_order_acquire)) {
        // p11-kit's own lock serializes loading; ours only guards our list.
        CK_FUNCTION_LIST **list = p11_kit_modules_load(nullptr, 0);
        GenSpinGuard g(g_append_lock);
        if (!g_registered_loaded.load(std::memory_order_relaxed)) {  // under g_append_lock
            for (CK_FUNCTION_LIST **p = list; p && *p; ++p) {
                auto *m = new Module;
                m->fl = *p;
                m->registered = true;
                m->path = take_string(p11_kit_module_get_filename(*p));
                m->name = take_string(p11_kit_module_get_name(*p));
                if (m->name.empty()) m->name = m->path;
                m->real_path = resolve(m->path);
                // p11-kit passes it only when it calls C_Initialize itself
                // (init_args NULL); ours replace its own, so we pass it on.
                char *reserved = p11_kit_config_option(*p, "x-init-reserved");
                m->has_init_reserved = reserved != nullptr;
                m->init_reserved = take_string(reserved);
                char *remote = p11_kit_config_option(*p, "remote");
                m->link = remote != nullptr || is_client_path(m->path) ||
                          config_yes(take_string(p11_kit_config_option(*p, "x-p11tls-network")));
                free(remote);
                append_locked(m);
            }
            g_registered_loaded.store(true, std::memory_order_release);
            // The array itself is small; the modules stay loaded for good.
            free(list);
        } else if (list) {
            p11_kit_modules_release(list);
        }
    }
    std::vector<Module *> out;
    for (int i = 0, n = count(); i < n; ++i)
        if (g_modules[i]->registered) out.push_back(g_modules[i]);
    return out;
}

bool module_has_path(const Module &m, const char *path) {
    if (m.path == path || (m.registered && m.name == path)) return true;
    return !m.real_path.empty() && m.real_path == resolve(path);
}

Module *load_module_path(const std::string &path, const char *init_reserved) {
    if (path.empty()) fail(P11TLS_E_INVALID_ARGUMENT, "empty module path");
    const std::string real = resolve(path);
    if (Module *m = find_path_module(path, real, init_reserved, count())) return m;
    CK_FUNCTION_LIST *fl = p11_kit_module_load(path.c_str(), 0);
    if (!fl) {
        const char *msg = p11_kit_message();
        fail(P11TLS_E_MODULE, "cannot load module " + path + ": " + (msg ? msg : "unknown error"));
    }
    GenSpinGuard g(g_append_lock);
    Module *known;
    try {
        known = find_path_module(path, real, init_reserved, g_count.load(std::memory_order_relaxed));
    } catch (...) {
        p11_kit_module_release(fl);
        throw;
    }
    if (known) {
        p11_kit_module_release(fl);
        return known;
    }
    auto *m = new Module;
    m->fl = fl;
    m->path = path;
    m->name = path;
    m->real_path = real;
    m->has_init_reserved = init_reserved != nullptr;
    if (init_reserved) m->init_reserved = init_reserved;
    m->link = is_client_path(path) || is_client_path(real);
    append_locked(m);
    return m;
}

CK_RV get_attribute_value(const Module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                          CK_ATTRIBUTE *tmpl, CK_ULONG n) {
    const CK_RV rv = call_unlogged(m, &CK_FUNCTION_LIST::C_GetAttributeValue, s, o, tmpl, n);
    if (rv != CKR_OK && log_wanted(P11TLS_LOG_DEBUG)) {
        std::vector<CK_ATTRIBUTE> unavailable;
        for (CK_ULONG i = 0; i < n; ++i)
            if (tmpl[i].ulValueLen == CK_UNAVAILABLE_INFORMATION) unavailable.push_back(tmpl[i]);
        std::string names = unavailable.empty() ? cka_names(tmpl, n)
                                                : cka_names(unavailable.data(), unavailable.size());
        debug("module %s: C_GetAttributeValue(%s): %s", m->name.c_str(), names.c_str(), ckr_name(rv));
    }
    return rv;
}

void fail_ckr(const Module *m, const char *what, CK_RV rv) {
    fail(ckr_to_error(rv), "module " + m->name + ": " + what + ": " + ckr_name(rv) +
                               fork_sharing_note(m, rv));
}

}  // namespace p11tls
