// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Fork while threads sign (fork model, item 6): the parent runs signing
// threads on a shared key and on keys of their own while the main thread
// forks repeatedly. Every child must sign with the inherited key and with a
// freshly opened one and exit within its deadline; the parent's threads must
// see no error. Children report only through their exit status.
//
// Usage: fork_storm THREADS FORKS
//
// Against SoftHSM's test token (p256 and p384 keys) by default; with
// P11TLS_STORM_KEY_URI set (the module suites, tests/modules/), every key
// opened is that one and every signature uses P11TLS_STORM_SCHEME (a TLS
// scheme name).
//
// The child's deadline is 2 s; in a sanitizer build (P11TLS_SANITIZER set by
// the test harness) it is 10 s, because the sanitizer runtime makes a child's
// first PKCS#11 work (module re-initialization) several times slower on a
// loaded 2-core machine. A hung child is caught either way.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11tls/p11tls.h>

#include "../support/wait.h"

namespace {

const char *storm_uri() { return getenv("P11TLS_STORM_KEY_URI"); }

uint16_t storm_scheme() {
    const char *name = getenv("P11TLS_STORM_SCHEME");
    return p11tls_sig_scheme_from_name(name ? name : "");
}

// The scheme to sign with by key: p256's, p384's, or the storm's.
uint16_t scheme_for(const char *label) {
    if (storm_uri()) return storm_scheme();
    return strcmp(label, "p384") == 0 ? P11TLS_SIG_ECDSA_SECP384R1_SHA384 : P11TLS_SIG_ECDSA_SECP256R1_SHA256;
}

std::string key_uri(const char *label) {
    if (storm_uri()) return storm_uri();
    const char *pin = getenv("P11TLS_TEST_PIN");
    return std::string("pkcs11:token=p11tls-test;object=") + label +
           ";type=private;pin-value=" + (pin ? pin : "1234");
}

bool sign_once(p11tls_key *k) {
    uint8_t sig[1024];
    size_t len = sizeof sig;
    static const uint8_t msg[] = "fork storm";
    return p11tls_key_sign(k, scheme_for("p256"), msg, sizeof msg, sig, &len) == 0;
}

}  // namespace

int main(int argc, char **argv) {
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    const int forks = argc > 2 ? atoi(argv[2]) : 100;
    const char *san = getenv("P11TLS_SANITIZER");
    const int deadline_ms = (san && *san) ? 10000 : 2000;
    p11tls_key *shared = nullptr;
    if (p11tls_key_open(nullptr, key_uri("p256").c_str(), 0, &shared) != 0) {
        fprintf(stderr, "cannot open shared key: %s\n", p11tls_last_error_detail());
        return 99;
    }
    std::atomic<bool> stop{false};
    std::atomic<long> thread_errors{0}, signatures{0};
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) {
        workers.emplace_back([&, i] {
            p11tls_key *own = nullptr;
            if (p11tls_key_open(nullptr, key_uri(i % 2 ? "p384" : "p256").c_str(), 0, &own) != 0) {
                fprintf(stderr, "parent thread %d: open: %s\n", i, p11tls_last_error_detail());
                ++thread_errors;
                return;
            }
            while (!stop) {
                bool ok = sign_once(shared);
                uint8_t sig[1024];
                size_t len = sizeof sig;
                ok = ok && p11tls_key_sign(own, scheme_for(i % 2 ? "p384" : "p256"),
                                           (const uint8_t *)"x", 1, sig, &len) == 0;
                if (!ok && thread_errors++ == 0)
                    fprintf(stderr, "parent thread %d: %s\n", i, p11tls_last_error_detail());
                signatures += 2;
            }
            p11tls_key_free(own);
        });
    }
    int failed = 0, hung = 0;
    for (int i = 0; i < forks; ++i) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            ++failed;
            continue;
        }
        if (pid == 0) {
            alarm(deadline_ms / 1000 + 5);  // a hung child dies even if the parent is gone
            p11tls_key *fresh = nullptr;
            if (!sign_once(shared)) _exit(1);
            if (p11tls_key_open(nullptr, key_uri("p384").c_str(), 0, &fresh) != 0) _exit(2);
            uint8_t sig[1024];
            size_t len = sizeof sig;
            if (p11tls_key_sign(fresh, scheme_for("p384"), (const uint8_t *)"y", 1, sig, &len) != 0)
                _exit(3);
            _exit(0);
        }
        int st = test_wait_bounded(pid, deadline_ms);
        if (st == -1) {
            ++hung;
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            ++failed;
            fprintf(stderr, "child %d: %s %d\n", i, WIFEXITED(st) ? "exit" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
    }
    stop = true;
    for (auto &t : workers) t.join();
    p11tls_key_free(shared);
    printf("deadline=%dms threads=%d forks=%d ok=%d failed=%d hung=%d parent_signatures=%ld parent_errors=%ld\n",
           deadline_ms, threads, forks, forks - failed - hung, failed, hung, signatures.load(),
           thread_errors.load());
    return (failed || hung || thread_errors) ? 1 : 0;
}
