// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// tests/setuid/secure_env: reports whether the kernel runs this process in
// secure mode (AT_SECURE: setuid, setgid or file capabilities) and whether
// p11tls's debug logging is on. P11TLS_DEBUG is read with secure_getenv, so
// in secure mode it must be off whatever the environment says; run by
// secure_env_test.sh as a setuid copy and as a plain one.
#include <cstdio>
#include <sys/auxv.h>

#include "base/log.hpp"

// ASan builds: LeakSanitizer cannot inspect a process whose uid changed, and
// the setuid copy cannot read its own environment (/proc/self/environ
// belongs to root), so ASAN_OPTIONS cannot turn the leak check off there.
// This hook can; other builds never call it.
extern "C" __attribute__((used)) const char *__asan_default_options() { return "detect_leaks=0"; }

int main() {
    std::printf("at_secure=%lu debug=%d\n", getauxval(AT_SECURE), p11tls::debug_enabled() ? 1 : 0);
    return 0;
}
