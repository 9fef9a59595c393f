/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* exec.c - `p11tls exec -- COMMAND [ARG]...`: runs an unmodified GnuTLS
 * program with p11tls serving the pkcs11: URLs it hands to GnuTLS.
 *
 * It prepends the preload object (p11tls-preload.so, src/preload/) to
 * LD_PRELOAD and execs COMMAND: nothing else of the environment changes,
 * and the tool opens no context, so no PKCS#11 module is touched before
 * the exec. Children and programs COMMAND execs inherit LD_PRELOAD (unless
 * it clears its environment, as exim does: doc/apps.md), the way a user
 * who runs a daemon "under p11tls" expects its helpers to be. The loader
 * ignores LD_PRELOAD for setuid and setgid programs run by another user. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "install-dirs.h"
#include "util.h"

#define BUILD_PRELOAD "src/preload/.libs/p11tls-preload.so"

/* The preload object of the build tree this tool runs from, into buf; NULL
 * for a tool that is not in a build tree (an installed one). libtool runs
 * an uninstalled tool as TOP/src/.libs/p11tls (through the wrapper script
 * TOP/src/p11tls); TOP has config.status. Found from the running
 * executable, not from a path compiled in: an installed tool never looks
 * at a build tree. */
static const char *build_tree_preload(char *buf, size_t size)
{
    char exe[PATH_MAX], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    int i;

    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    /* TOP/src/.libs/NAME or TOP/src/NAME: up two or three levels. */
    for (i = 0; i < 3 && (slash = strrchr(exe, '/')) != NULL; i++) {
        *slash = '\0';
        if (i == 0)
            continue;
        if (snprintf(buf, size, "%s/config.status", exe) < (int)size && access(buf, F_OK) == 0 &&
            snprintf(buf, size, "%s/" BUILD_PRELOAD, exe) < (int)size)
            return buf;
    }
    return NULL;
}

/* P11TLS_PRELOAD if set, else the build tree's object when the tool runs
 * from one, else the installed one. */
static const char *preload_path(char *buf, size_t size)
{
    const char *p = secure_getenv("P11TLS_PRELOAD");
    if (p && *p)
        return p;
    p = build_tree_preload(buf, size);
    return p ? p : P11TLS_PRELOAD_PATH;
}

int cli_exec(int argc, char **argv)
{
    char buf[PATH_MAX];
    const char *so = preload_path(buf, sizeof(buf)), *old = getenv("LD_PRELOAD");
    char *value;
    int err;

    if (argc > 0 && strcmp(argv[0], "--") == 0) {
        argc--;
        argv++;
    }
    if (argc < 1)
        return cli_error(CLI_EXIT_USAGE, "'exec' needs a command: p11tls exec -- COMMAND [ARG]...");
    if (access(so, R_OK) != 0)
        return cli_error(CLI_EXIT_FAILURE,
                         "exec: the preload object %s: %s (install p11tls with 'make install', "
                         "or set P11TLS_PRELOAD to a built p11tls-preload.so, such as a build "
                         "tree's " BUILD_PRELOAD ")", so, strerror(errno));
    /* The loader splits LD_PRELOAD at spaces and colons. */
    if (strpbrk(so, " :"))
        return cli_error(CLI_EXIT_FAILURE, "exec: the preload object's path %s has a space or colon", so);
    if (old && *old) {
        if (asprintf(&value, "%s:%s", so, old) < 0)
            return cli_error(CLI_EXIT_FAILURE, "exec: out of memory");
    } else if (!(value = strdup(so))) {
        return cli_error(CLI_EXIT_FAILURE, "exec: out of memory");
    }
    if (setenv("LD_PRELOAD", value, 1) != 0)
        return cli_error(CLI_EXIT_FAILURE, "exec: setenv: %s", strerror(errno));
    free(value);
    execvp(argv[0], argv);
    /* 127 and 126, as a shell says "not found" and "cannot run". */
    err = errno;
    cli_error(CLI_EXIT_FAILURE, "exec: %s: %s", argv[0], strerror(err));
    return err == ENOENT ? 127 : 126;
}

int cli_cmd_exec(cli_env *env)
{
    (void)env;
    return cli_error(CLI_EXIT_USAGE, "'exec' must come first, without global options: "
                                     "p11tls exec -- COMMAND [ARG]...");
}
