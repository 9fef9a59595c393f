// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/module.hpp"

#include <cstdlib>

#include <p11-kit/p11-kit.h>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"

namespace p11tls {

namespace {

// Append-only registry: slots are published with a release store after the
// record is complete, so readers (in any generation) need no lock.
constexpr int kMaxModules = 256;
Module *g_modules[kMaxModules];
int g_count = 0;
GenSpinLock g_append_lock;   // guards appends to g_modules / g_count
int g_registered_loaded = 0; // set once registered modules are in the registry

std::string take_string(char *s) {
    std::string r = s ? s : "";
    free(s);
    return r;
}

int count() { return __atomic_load_n(&g_count, __ATOMIC_ACQUIRE); }

void append_locked(Module *m) {
    if (g_count >= kMaxModules) fail(P11TLS_E_MODULE, "too many PKCS#11 modules loaded");
    g_modules[g_count] = m;
    __atomic_store_n(&g_count, g_count + 1, __ATOMIC_RELEASE);
}

}  // namespace

std::vector<Module *> registered_modules() {
    if (!__atomic_load_n(&g_registered_loaded, __ATOMIC_ACQUIRE)) {
        // p11-kit's own lock serializes loading; ours only guards our list.
        CK_FUNCTION_LIST **list = p11_kit_modules_load(nullptr, 0);
        GenSpinGuard g(g_append_lock);
        if (!g_registered_loaded) {
            for (CK_FUNCTION_LIST **p = list; p && *p; ++p) {
                auto *m = new Module;
                m->fl = *p;
                m->registered = true;
                m->path = take_string(p11_kit_module_get_filename(*p));
                m->name = take_string(p11_kit_module_get_name(*p));
                if (m->name.empty()) m->name = m->path;
                append_locked(m);
            }
            __atomic_store_n(&g_registered_loaded, 1, __ATOMIC_RELEASE);
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

Module *load_module_path(const std::string &path) {
    if (path.empty()) fail(P11TLS_E_INVALID_ARGUMENT, "empty module path");
    for (int i = 0, n = count(); i < n; ++i)
        if (!g_modules[i]->registered && g_modules[i]->path == path) return g_modules[i];
    CK_FUNCTION_LIST *fl = p11_kit_module_load(path.c_str(), 0);
    if (!fl) {
        const char *msg = p11_kit_message();
        fail(P11TLS_E_MODULE, "cannot load module " + path + ": " + (msg ? msg : "unknown error"));
    }
    GenSpinGuard g(g_append_lock);
    for (int i = 0; i < g_count; ++i)
        if (!g_modules[i]->registered && g_modules[i]->path == path) {
            p11_kit_module_release(fl);
            return g_modules[i];
        }
    auto *m = new Module;
    m->fl = fl;
    m->path = path;
    m->name = path;
    append_locked(m);
    return m;
}

CK_RV get_attribute_value(const Module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                          CK_ATTRIBUTE *tmpl, CK_ULONG n) {
    CK_RV rv;
    {
        GateGuard gate;
        rv = m->fl->C_GetAttributeValue(s, o, tmpl, n);
    }
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
    fail(ckr_to_error(rv), "module " + m->name + ": " + what + ": " + ckr_name(rv));
}

}  // namespace p11tls
