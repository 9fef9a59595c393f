// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The test-support library's C++ side (declared in helpers.hpp).
#include "helpers.hpp"
#include "wait.h"

#include <fcntl.h>
#include <fnmatch.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vector>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <p11tls/gnutls.h>
#include <p11tls/p11tls.h>

namespace th {

std::string env(const char *name) {
    const char *v = getenv(name);
    return v ? v : "";
}

std::string test_dir() { return env("P11TLS_TEST_DIR"); }
std::string test_pin() {
    std::string p = env("P11TLS_TEST_PIN");
    return p.empty() ? "1234" : p;
}

// pkcs11: URI of one object on the test token; pin adds pin-value.
std::string key_uri(const std::string &label, bool pin, const char *type) {
    std::string u = "pkcs11:token=p11tls-test;object=" + label + ";type=" + type;
    if (pin) u += ";pin-value=" + test_pin();
    return u;
}

std::vector<unsigned char> read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<unsigned char>((std::istreambuf_iterator<char>(f)),
                                      std::istreambuf_iterator<char>());
}

// DER of $P11TLS_TEST_DIR/<label>.pem; empty on error.
std::vector<unsigned char> cert_der(const std::string &label) {
    auto pem = read_file(test_dir() + "/" + label + ".pem");
    if (pem.empty()) return {};
    gnutls_datum_t in = {pem.data(), (unsigned)pem.size()}, out = {nullptr, 0};
    if (gnutls_pem_base64_decode2("CERTIFICATE", &in, &out) < 0) return {};
    std::vector<unsigned char> der(out.data, out.data + out.size);
    gnutls_free(out.data);
    return der;
}

// The certificate's public key; NULL on error. Caller deinits.
gnutls_pubkey_t cert_pubkey(const std::string &label) {
    auto der = cert_der(label);
    if (der.empty()) return nullptr;
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0) return nullptr;
    gnutls_datum_t d = {der.data(), (unsigned)der.size()};
    gnutls_pubkey_t pk = nullptr;
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0 && gnutls_pubkey_init(&pk) >= 0) {
        if (gnutls_pubkey_import_x509(pk, crt, 0) < 0) {
            gnutls_pubkey_deinit(pk);
            pk = nullptr;
        }
    }
    gnutls_x509_crt_deinit(crt);
    return pk;
}

// SubjectPublicKeyInfo DER of the certificate's key.
std::vector<unsigned char> cert_spki(const std::string &label) {
    gnutls_pubkey_t pk = cert_pubkey(label);
    if (!pk) return {};
    gnutls_datum_t out = {nullptr, 0};
    std::vector<unsigned char> r;
    if (gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, &out) >= 0) r.assign(out.data, out.data + out.size);
    gnutls_free(out.data);
    gnutls_pubkey_deinit(pk);
    return r;
}

namespace {
// fn (gnutls_pubkey_verify_data2 or _hash2) against <label>'s certificate.
int verify_with(int (*fn)(gnutls_pubkey_t, gnutls_sign_algorithm_t, unsigned, const gnutls_datum_t *,
                          const gnutls_datum_t *),
                const std::string &label, gnutls_sign_algorithm_t alg, const void *in, size_t in_len,
                const unsigned char *sig, size_t sig_len) {
    gnutls_pubkey_t pk = cert_pubkey(label);
    if (!pk) return GNUTLS_E_INTERNAL_ERROR;
    gnutls_datum_t d = {(unsigned char *)in, (unsigned)in_len};
    gnutls_datum_t s = {(unsigned char *)sig, (unsigned)sig_len};
    int rc = fn(pk, alg, 0, &d, &s);
    gnutls_pubkey_deinit(pk);
    return rc;
}
}  // namespace

// >= 0: sig is <label>'s signature of msg.
int verify_data(const std::string &label, gnutls_sign_algorithm_t alg, const void *msg,
                size_t msg_len, const unsigned char *sig, size_t sig_len) {
    return verify_with(gnutls_pubkey_verify_data2, label, alg, msg, msg_len, sig, sig_len);
}

// >= 0: sig is <label>'s signature of the digest hash.
int verify_hash(const std::string &label, gnutls_sign_algorithm_t alg, const void *hash,
                size_t hash_len, const unsigned char *sig, size_t sig_len) {
    return verify_with(gnutls_pubkey_verify_hash2, label, alg, hash, hash_len, sig, sig_len);
}

// Signs msg with key; returns the p11tls code, fills sig.
int sign(p11tls_key *key, uint16_t scheme, const void *msg, size_t len,
         std::vector<unsigned char> &sig) {
    size_t n = 0;
    int rc = p11tls_key_sign(key, scheme, (const uint8_t *)msg, len, nullptr, &n);
    if (rc != 0) return rc;
    sig.assign(n, 0);
    rc = p11tls_key_sign(key, scheme, (const uint8_t *)msg, len, sig.data(), &n);
    if (rc == 0) sig.resize(n);
    return rc;
}

int wait_bounded(pid_t pid, int timeout_s) { return test_wait_bounded(pid, timeout_s * 1000L); }

namespace {
// fork() with stdio flushed first (nothing buffered is written twice); the
// child dumps no core.
pid_t fork_child() {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
    }
    return pid;
}
}  // namespace

int run_in_child(int (*fn)(void *), void *arg, int timeout_s, pid_t *out_pid) {
    pid_t pid = fork_child();
    if (pid < 0) return -3;
    if (pid == 0) {
        int rc = 120;
        try {
            rc = fn(arg);
        } catch (...) {
            rc = 121;
        }
        _exit(rc);
    }
    if (out_pid) *out_pid = pid;
    return wait_bounded(pid, timeout_s);
}

namespace {
// Whether one gtest positive pattern selects a test registered in this
// program (the same test the child will see).
bool filter_selects_a_test(const std::string &filter) {
    const ::testing::UnitTest &u = *::testing::UnitTest::GetInstance();
    for (int i = 0; i < u.total_test_suite_count(); i++) {
        const ::testing::TestSuite &suite = *u.GetTestSuite(i);
        for (int j = 0; j < suite.total_test_count(); j++) {
            std::string name = std::string(suite.name()) + "." + suite.GetTestInfo(j)->name();
            if (fnmatch(filter.c_str(), name.c_str(), 0) == 0) return true;
        }
    }
    return false;
}
}  // namespace

int run_exec_child(const std::string &filter, const char *var, int timeout_s,
                   const std::vector<std::pair<std::string, std::string>> &env, pid_t *out_pid) {
    if (!filter_selects_a_test(filter)) return kNoSuchChild;
    pid_t pid = fork_child();
    if (pid < 0) return -3;
    if (pid == 0) {
        setenv(var, "1", 1);
        for (auto &kv : env) setenv(kv.first.c_str(), kv.second.c_str(), 1);
        std::string f = "--gtest_filter=" + filter;
        // The flag overrides the runner's GTEST_FILTER (tests/with-token.sh),
        // which leaves the *Child suites out of the normal run.
        execl("/proc/self/exe", "test-child", f.c_str(), (char *)nullptr);
        _exit(127);
    }
    if (out_pid) *out_pid = pid;
    return wait_bounded(pid, timeout_s);
}

bool run_quietly(const std::vector<const char *> &argv, int timeout_s) {
    std::vector<char *> args;
    for (const char *a : argv) args.push_back(const_cast<char *>(a));
    args.push_back(nullptr);
    pid_t pid = fork_child();
    if (pid < 0) return false;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp(args[0], args.data());
        _exit(127);
    }
    return exited_ok(wait_bounded(pid, timeout_s));
}

std::string describe_status(int st) {
    if (st == -1) return "timed out (killed)";
    if (st == kNoSuchChild) return "the child filter matches no test";
    if (st < 0) return "fork/wait failed";
    if (WIFEXITED(st)) return "exit " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) return "signal " + std::to_string(WTERMSIG(st));
    return "status " + std::to_string(st);
}

bool exited_ok(int st) { return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0; }

bool in_child(const char *marker) {
    const char *v = getenv(marker);
    return v && strcmp(v, "1") == 0;
}

bool have_token() {
    return !test_dir().empty() && !env("SOFTHSM2_CONF").empty() && !env("P11TLS_SOFTHSM_MODULE").empty();
}

std::vector<unsigned char> self_signed(const std::string &key_uri, const char *cn) {
    gnutls_privkey_t pkey;
    gnutls_x509_crt_t crt;
    gnutls_pubkey_t pub;
    std::vector<unsigned char> out;
    if (gnutls_privkey_init(&pkey) < 0) return out;
    gnutls_x509_crt_init(&crt);
    gnutls_pubkey_init(&pub);
    unsigned char serial[] = {0x01, 0x23};
    int rc = p11tls_gnutls_privkey_import(pkey, nullptr, key_uri.c_str(), 0);
    if (rc >= 0) rc = gnutls_pubkey_import_privkey(pub, pkey, 0, 0);
    if (rc < 0) {
        // The token key gives GnuTLS no public half: read it with p11tls.
        p11tls_key *k = nullptr;
        uint8_t *spki = nullptr;
        size_t len = 0;
        rc = p11tls_key_open(nullptr, key_uri.c_str(), 0, &k);
        if (rc == 0) rc = p11tls_key_get_spki(k, &spki, &len);
        gnutls_datum_t d = {spki, (unsigned)len};
        rc = rc == 0 ? gnutls_pubkey_import(pub, &d, GNUTLS_X509_FMT_DER) : GNUTLS_E_INVALID_REQUEST;
        p11tls_free(spki);
        p11tls_key_free(k);
    }
    if (rc >= 0) rc = gnutls_x509_crt_set_pubkey(crt, pub);
    if (rc >= 0) rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn));
    if (rc >= 0) rc = gnutls_x509_crt_set_issuer_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn));
    if (rc >= 0) rc = gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
    if (rc >= 0) rc = gnutls_x509_crt_set_version(crt, 3);
    if (rc >= 0) rc = gnutls_x509_crt_set_activation_time(crt, time(nullptr));
    if (rc >= 0) rc = gnutls_x509_crt_set_expiration_time(crt, time(nullptr) + 86400);
    if (rc >= 0) rc = gnutls_x509_crt_privkey_sign(crt, crt, pkey, GNUTLS_DIG_SHA256, 0);
    gnutls_datum_t der = {nullptr, 0};
    if (rc >= 0) rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der);
    if (rc >= 0) out.assign(der.data, der.data + der.size);
    EXPECT_GE(rc, 0) << gnutls_strerror(rc) << " / " << p11tls_last_error_detail();
    gnutls_free(der.data);
    gnutls_pubkey_deinit(pub);
    gnutls_x509_crt_deinit(crt);
    gnutls_privkey_deinit(pkey);
    return out;
}

}  // namespace th
