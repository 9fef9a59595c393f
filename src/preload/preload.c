/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* p11tls-preload.so - loaded into an unmodified program by `p11tls exec`
 * (LD_PRELOAD): if the program uses GnuTLS, pkcs11: URLs it hands to GnuTLS
 * are served by p11tls (p11tls_gnutls_register_url()), and p11tls's warnings
 * and errors about them go to stderr.
 *
 * It links nothing but libc: libp11tls (which links GnuTLS) is loaded only
 * into a process that has GnuTLS already, so a program without GnuTLS gets
 * no library, no constructor and no thread it did not have. GnuTLS is
 * looked for among the objects loaded at startup (the program and its
 * libraries); a program that dlopen()s GnuTLS later is not served. */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11tls/p11tls.h>

#include "install-dirs.h"

typedef int (*register_fn)(void);
typedef int (*set_log_fn)(p11tls_log_fn fn, void *arg, int max_level);

/* One line per message, as the p11tls tool writes its own. PINs never
 * reach a log function (doc/security.md). */
static void log_to_stderr(void *arg, int level, const char *message)
{
    (void)arg;
    fprintf(stderr, "p11tls: %s: %s\n", level == P11TLS_LOG_ERROR ? "error" : "warning", message);
}

/* libp11tls by its soname first (LD_LIBRARY_PATH, the system's paths),
 * then where this build installs it. */
static void *open_libp11tls(void)
{
    void *h = dlopen("libp11tls.so.0", RTLD_NOW | RTLD_GLOBAL);
    if (!h)
        h = dlopen(P11TLS_LIBDIR "/libp11tls.so.0", RTLD_NOW | RTLD_GLOBAL);
    return h;
}

__attribute__((constructor)) static void p11tls_preload(void)
{
    void *lib;
    register_fn reg;
    set_log_fn set_log;
    int rc;

    if (!dlsym(RTLD_DEFAULT, "gnutls_register_custom_url"))
        return; /* no GnuTLS (3.6 or later) in this program */
    lib = open_libp11tls();
    if (!lib) {
        fprintf(stderr, "p11tls: error: p11tls exec: cannot load libp11tls: %s\n", dlerror());
        return;
    }
    reg = (register_fn)dlsym(lib, "p11tls_gnutls_register_url");
    set_log = (set_log_fn)dlsym(lib, "p11tls_gnutls_url_set_log_fn");
    if (!reg || !set_log) {
        fprintf(stderr, "p11tls: error: p11tls exec: libp11tls lacks the GnuTLS URL functions\n");
        return;
    }
    rc = reg();
    if (rc < 0) {
        fprintf(stderr, "p11tls: error: p11tls exec: GnuTLS refused the pkcs11: URL type (%d)\n", rc);
        return;
    }
    /* With P11TLS_DEBUG every message goes to stderr already. */
    if (!secure_getenv("P11TLS_DEBUG"))
        set_log(log_to_stderr, NULL, P11TLS_LOG_WARNING);
}
