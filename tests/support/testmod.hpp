// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Helpers shared by the gtest suites that run p11tls against the test
// module tests/module/testmod.c (tests/module/, tests/robust/): where
// the module is, its per-pid call log, re-executed children and bounded
// waits. Header-only; everything is inline.
#pragma once
#include <gtest/gtest.h>

#include <p11tls/p11tls.h>

#include "helpers.hpp"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace tmh {

inline std::string testmod_path() {
    const char *e = getenv("P11TLS_TESTMOD");
    std::string p = (e && *e) ? e : "./tests/module/.libs/libp11tls-testmod.so";
    char buf[PATH_MAX];
    if (realpath(p.c_str(), buf)) return buf;
    return p;
}

// One count directory per process tree, chosen by the first process and
// inherited by its exec'd children through the environment.
inline const std::string &count_dir() {
    static std::string dir = [] {
        const char *e = getenv("P11TLS_TESTMOD_COUNT_DIR");
        if (e && *e) return std::string(e);
        const char *base = getenv("P11TLS_TEST_DIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/countmod.XXXXXX";
        std::vector<char> b(tmpl.begin(), tmpl.end());
        b.push_back(0);
        if (!mkdtemp(b.data())) return std::string();
        std::string d(b.data());
        setenv("P11TLS_TESTMOD_COUNT_DIR", d.c_str(), 1);
        return d;
    }();
    return dir;
}

inline std::string log_path() { return count_dir() + "/calls.log"; }

// One line of calls.log: "<pid> <function>".
struct Line {
    long pid;
    std::string fn;
};

inline std::vector<Line> read_log() {
    std::vector<Line> out;
    std::ifstream in(log_path());
    long pid;
    std::string fn;
    while (in >> pid >> fn) out.push_back({pid, fn});
    return out;
}

// Calls logged by pid (of function fn, if given) from line `from` on.
inline size_t count_calls(const std::vector<Line> &log, long pid, const char *fn = nullptr,
                          size_t from = 0) {
    size_t n = 0;
    for (size_t i = from; i < log.size(); i++)
        if (log[i].pid == pid && (!fn || log[i].fn == fn)) n++;
    return n;
}

// Bounded waits and status helpers are shared with the integration tests
// (helpers.cpp).
using th::exited_ok;
inline int wait_bounded(pid_t pid) { return th::wait_bounded(pid, 30); }

inline double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Polls cond every 10 ms for at most 30 s.
inline bool wait_for(const std::function<bool()> &cond) {
    for (int i = 0; i < 3000; ++i) {
        if (cond()) return true;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, nullptr);
    }
    return cond();
}
inline std::string describe(int st) { return th::describe_status(st); }

// Fresh re-executed children and forked children, with the count
// directory inherited and the bounded wait above (helpers.cpp).
inline int run_exec_child(const std::string &filter, const char *marker,
                          const std::vector<std::pair<std::string, std::string>> &env,
                          pid_t *out_pid = nullptr) {
    count_dir();  // make sure the child inherits the count directory
    return th::run_exec_child(filter, marker, 30, env, out_pid);
}

inline int run_in_child(int (*fn)(void *), void *arg, pid_t *out_pid) {
    return th::run_in_child(fn, arg, 30, out_pid);
}

using th::in_child;

// A context that sees only the module at path.
inline int make_ctx(p11tls_cxx::context &ctx, const std::string &path) {
    count_dir();  // set P11TLS_TESTMOD_COUNT_DIR before the module is used
    int rc = p11tls_ctx_new(ctx.put());
    if (rc) return rc;
    rc = p11tls_ctx_set_flags(ctx.get(), P11TLS_CTX_NO_REGISTERED_MODULES);
    if (rc) return rc;
    return p11tls_ctx_add_module(ctx.get(), path.c_str());
}

}  // namespace tmh

// The test module forwards to SoftHSM: the same check as REQUIRE_TOKEN.
#define REQUIRE_SOFTHSM() REQUIRE_TOKEN()
