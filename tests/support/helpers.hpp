// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The test-support library's C++ side (tests/support/helpers.cpp): the
// token, certificates, signatures, and children that report through their
// exit status with bounded waits. Every gtest program links it.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include <gnutls/abstract.h>

#include <p11tls/p11tls.h>
// Contexts and keys in tests: the shipped wrappers (p11tls_cxx::context,
// p11tls_cxx::key), filled through put() where a test checks the C call.
#include <p11tls/p11tls.hpp>

namespace th {
std::string env(const char *name);
std::string test_dir();
std::string test_pin();
std::string key_uri(const std::string &label, bool pin = true, const char *type = "private");
std::vector<unsigned char> read_file(const std::string &path);
std::vector<unsigned char> cert_der(const std::string &label);
gnutls_pubkey_t cert_pubkey(const std::string &label);
std::vector<unsigned char> cert_spki(const std::string &label);
int verify_data(const std::string &label, gnutls_sign_algorithm_t alg, const void *msg,
                size_t msg_len, const unsigned char *sig, size_t sig_len);
int verify_hash(const std::string &label, gnutls_sign_algorithm_t alg, const void *hash,
                size_t hash_len, const unsigned char *sig, size_t sig_len);
int sign(p11tls_key *key, uint16_t scheme, const void *msg, size_t len,
         std::vector<unsigned char> &sig);
// A self-signed certificate (DER; empty, with a test failure, if it could
// not be made) for the token key key_uri names, signed on the token
// through GnuTLS (the way an application would make one).
std::vector<unsigned char> self_signed(const std::string &key_uri, const char *cn);
// test_wait_bounded (wait.h) in seconds.
int wait_bounded(pid_t pid, int timeout_s);
// Runs fn in a forked child (no core dump), which reports only through its
// exit status (fn's return value; 120 if it threw). *out_pid, if given,
// gets the child's pid. Returns the wait status, -1 on timeout (killed).
int run_in_child(int (*fn)(void *), void *arg, int timeout_s, pid_t *out_pid = nullptr);
// Re-executes this test binary running only the tests that filter (one
// gtest pattern, e.g. "FooChild.*") selects. Child suites end in "Child":
// tests/with-token.sh leaves them out of the normal run (GTEST_FILTER), and
// each returns at once (GTEST_SKIP) unless in_child(its marker). Runs
// them with var=1 and env set: a fresh process where p11tls and the
// modules start from nothing. Otherwise as run_in_child. Returns kNoSuchChild, without running anything, when filter
// matches no test of this program, so a mistyped filter fails its caller.
constexpr int kNoSuchChild = -4;
int run_exec_child(const std::string &filter, const char *var, int timeout_s,
                   const std::vector<std::pair<std::string, std::string>> &env = {},
                   pid_t *out_pid = nullptr);
// Runs argv (a program on PATH and its arguments) with stdout and stderr to
// /dev/null; true if it exits 0 within timeout_s (else it is killed).
bool run_quietly(const std::vector<const char *> &argv, int timeout_s);
std::string describe_status(int st);
bool exited_ok(int st);
// Whether this process is the re-executed child run_exec_child started
// with marker=1.
bool in_child(const char *marker);
// Whether the test runs under tests/with-token.sh (a private SoftHSM token).
bool have_token();
}  // namespace th
#define REQUIRE_TOKEN() \
    do { if (!th::have_token()) GTEST_SKIP() << "run under tests/with-token.sh"; } while (0)
