// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "pkcs11/module.hpp"

#include <climits>
#include <cstdlib>

#include <sys/mman.h>

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

std::string resolve(const std::string &path) {
    char buf[PATH_MAX];
    return realpath(path.c_str(), buf) ? std::string(buf) : path;
}

// A CK_INFO text field without its padding (blanks, and the NULs some
// modules pad with) at either end.
std::string blank_trimmed(const CK_UTF8CHAR *f, size_t n) {
    std::string r(reinterpret_cast<const char *>(f), n);
    const size_t b = r.find_first_not_of(std::string(" \0", 2));
    const size_t e = r.find_last_not_of(std::string(" \0", 2));
    return b == std::string::npos ? std::string() : r.substr(b, e - b + 1);
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
                m->real_path = resolve(m->path);
                // p11-kit passes it only when it calls C_Initialize itself
                // (init_args NULL); ours replace its own, so we pass it on.
                char *reserved = p11_kit_config_option(*p, "x-init-reserved");
                m->has_init_reserved = reserved != nullptr;
                m->init_reserved = take_string(reserved);
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
        known = find_path_module(path, real, init_reserved, g_count);
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
    append_locked(m);
    return m;
}

CK_RV get_attribute_value(const Module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                          CK_ATTRIBUTE *tmpl, CK_ULONG n) {
    CK_RV rv;
    if (taken_over(m, "C_GetAttributeValue")) return CKR_DEVICE_ERROR;
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

void module_initialized(const Module *m, const CK_INFO &info) {
    // tpm2-pkcs11 (up to 1.9 at least) keeps its TPM sessions, and the
    // connection to the resource manager, in a forked child: a child's
    // signature desynchronizes the parent's session, whose every later use
    // fails.
    static const char kTpm2Pkcs11[] = "TPM2.0 Cryptoki";
    if (blank_trimmed(info.libraryDescription, sizeof info.libraryDescription) == kTpm2Pkcs11) __atomic_store_n(&m->known_fork_sharing, true, __ATOMIC_RELEASE);
    uint32_t *inherited = __atomic_load_n(&m->fork_mark, __ATOMIC_ACQUIRE);
    // Set in an earlier generation (ours is made below, once): an ancestor's.
    if (inherited) __atomic_store_n(inherited, 1u, __ATOMIC_RELEASE);
    void *page = mmap(nullptr, sizeof(uint32_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    // Without it, fork sharing is not detected: failures read as before.
    uint32_t *own = page == MAP_FAILED ? nullptr : static_cast<uint32_t *>(page);
    __atomic_store_n(&m->fork_mark, own, __ATOMIC_RELEASE);
}

std::string fork_sharing_note(const Module *m, CK_RV rv) {
    uint32_t *own = __atomic_load_n(&m->fork_mark, __ATOMIC_ACQUIRE);
    if (!own || !__atomic_load_n(own, __ATOMIC_ACQUIRE) || ckr_to_error(rv) != P11TLS_E_DEVICE) return "";
    if (!__atomic_load_n(&m->known_fork_sharing, __ATOMIC_ACQUIRE))
        return "; module " + m->name +
               " may share its state with forked children: a process forked from this one used it "
               "(see doc/modules.md)";
    // call() returned rv without calling the module if it was broken already.
    const bool not_called = __atomic_exchange_n(&m->broken_gen, current_generation(), __ATOMIC_ACQ_REL) ==
                            current_generation();
    return std::string(not_called ? " (not called)" : "") + "; module " + m->name +
           " shares its state with forked children: a process forked from this one used it, "
           "which breaks it in this process until it restarts; p11tls makes no further calls to "
           "it here, as each refused TPM authorization counts against the TPM's "
           "dictionary-attack lockout (see doc/modules.md)";
}

void fail_ckr(const Module *m, const char *what, CK_RV rv) {
    fail(ckr_to_error(rv), "module " + m->name + ": " + what + ": " + ckr_name(rv) +
                               fork_sharing_note(m, rv));
}

}  // namespace p11tls
