// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Where a PIN goes (issue 24, item 2). Two tokens: p11tls-test (PIN 1234,
// holds p256) and "second" (PIN 9999), in a copy of the test token
// directory that only these tests' children see (SOFTHSM2_CONF). A URI
// that names no token, with PIN 1234 from the URI, a PIN function or the
// tool's --pin-fd, must log in to p11tls-test only: the second token never
// gets 1234 (it would lose a try: SoftHSM then sets "user PIN count low"),
// for key opens, listings with a login (list --login, info --login) and
// delete. When the public objects do not say which token holds the object
// (both show one, or neither does), nothing is logged in and the answer is
// P11TLS_E_AMBIGUOUS naming the tokens. Logins are counted by the test
// module (tests/module/testmod.c), which the tool loads too (--module).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include <p11tls/p11tls.h>
#include <p11-kit/pkcs11.h>
#include <p11tls/provision.h>

#include "../support/testmod.hpp"

namespace {

using namespace tmh;

const char kKeyUri[] = "pkcs11:object=p256;type=private;pin-value=1234";

// The copy of the token directory with the second token, made once.
std::string route_dir() { return th::test_dir() + "/pin-route"; }
std::string route_conf() { return route_dir() + "/softhsm2.conf"; }

bool sh(const std::string &cmd) {
    return th::run_quietly({"/bin/sh", "-c", cmd.c_str()}, 120);
}

// Makes the copy (p11tls-test as the template has it, plus an empty
// token "second" with PIN 9999); true if it exists.
bool make_two_tokens() {
    if (access(route_conf().c_str(), F_OK) == 0) return true;
    const std::string d = route_dir();
    std::ofstream conf;
    if (!sh("mkdir -p '" + d + "' && cp -a '" + th::test_dir() + "/tokens' '" + d + "/'")) return false;
    conf.open(route_conf());
    conf << "directories.tokendir = " << d << "/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
         << "slots.removable = false\nlibrary.reset_on_fork = " << th::env("P11TLS_TEST_RESET_ON_FORK") << "\n";
    conf.close();
    const std::string env = "SOFTHSM2_CONF='" + route_conf() + "' ";
    const std::string p11 = env + "pkcs11-tool --module '" + th::env("P11TLS_SOFTHSM_MODULE") +
                            "' --token-label p11tls-test --login --pin 1234 ";
    // Public data objects on p11tls-test for the deletes (one each).
    return sh("echo x > '" + d + "/data'") &&
           sh(p11 + "--write-object '" + d + "/data' --type data --label route-del-1") &&
           sh(p11 + "--write-object '" + d + "/data' --type data --label route-del-2") &&
           sh(env + "softhsm2-util --init-token --free --label second --pin 9999 --so-pin 12345678");
}

// Token label -> CK_TOKEN_INFO flags, read now (p11tls_list_tokens).
struct Flags {
    unsigned long second = 0;
    bool seen = false;
};
int token_cb(void *arg, const p11tls_token_info *info) {
    auto *f = static_cast<Flags *>(arg);
    if (std::string(info->label) == "second") {
        f->second = info->flags;
        f->seen = true;
    }
    return 0;
}

// Whether the second token lost a try (SoftHSM: "user PIN count low"
// after a refused PIN, until the next good login).
bool second_lost_a_try(p11tls_ctx *ctx) {
    Flags f;
    EXPECT_EQ(p11tls_list_tokens(ctx, nullptr, token_cb, &f), 0);
    EXPECT_TRUE(f.seen) << "no token 'second'";
    return f.second & CKF_USER_PIN_COUNT_LOW;
}

size_t logins() { return count_calls(read_log(), getpid(), "C_Login"); }

// A PIN function that answers 1234 for any token, and counts.
struct Asked {
    int calls = 0;
    std::string labels;
};
int pin_fn(void *arg, const char *, const char *label, unsigned, char *pin, size_t size) {
    auto *a = static_cast<Asked *>(arg);
    ++a->calls;
    a->labels += std::string(label) + ";";
    snprintf(pin, size, "1234");
    return 0;
}

int count_objects(void *arg, const p11tls_object_info *) {
    ++*static_cast<int *>(arg);
    return 0;
}

// The tool with the test module only (its C_Login counted under its pid),
// PIN 1234 on --pin-fd 3; its exit status (-1: killed after 60 s).
int tool(const std::string &args, pid_t *pid) {
    const char *cli = getenv("P11TLS_CLI");
    const std::string cmd = "echo 1234 > '" + route_dir() + "/pin' && exec " + std::string(cli && *cli ? cli : "./src/p11tls") +
                            " --no-registered --module '" + testmod_path() + "' " + args + " --pin-fd 3 3<'" +
                            route_dir() + "/pin' >/dev/null 2>&1";
    *pid = fork();
    if (*pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd.c_str(), (char *)nullptr);
        _exit(127);
    }
    const int st = th::wait_bounded(*pid, 60);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int child(const char *filter, const char *marker) {
    return run_exec_child(filter, marker, {{"SOFTHSM2_CONF", route_conf()}});
}

}  // namespace

// The URI's PIN: the key opens, one login (p11tls-test), the second token
// untouched; the same through a PIN function (asked once, for p11tls-test).
TEST(PinRouteOpenChild, UriPin) {
    if (!in_child("P11TLS_PIN_ROUTE_OPEN_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(logins(), 1u);
    EXPECT_FALSE(second_lost_a_try(ctx.get()));
}

TEST(PinRouteFnChild, PinFunction) {
    if (!in_child("P11TLS_PIN_ROUTE_FN_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    Asked asked;
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), pin_fn, &asked), 0);
    p11tls_cxx::key key;
    EXPECT_EQ(p11tls_key_open(ctx.get(), "pkcs11:object=p256;type=private", 0, key.put()), 0)
        << p11tls_last_error_detail();
    EXPECT_EQ(asked.calls, 1);
    EXPECT_EQ(asked.labels, "p11tls-test;");
    EXPECT_EQ(logins(), 1u);
    EXPECT_FALSE(second_lost_a_try(ctx.get()));
}

// A listing with a login, and a delete (of a public data object on
// p11tls-test: it shows before a login): same rule.
TEST(PinRouteListChild, ListAndDelete) {
    if (!in_child("P11TLS_PIN_ROUTE_LIST_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    int n = 0;
    EXPECT_EQ(p11tls_list_objects(ctx.get(), kKeyUri, P11TLS_LIST_LOGIN, count_objects, &n), 0)
        << p11tls_last_error_detail();
    EXPECT_EQ(n, 1);  // the private key, seen after the login
    EXPECT_EQ(logins(), 1u);
    EXPECT_FALSE(second_lost_a_try(ctx.get()));
    EXPECT_EQ(p11tls_object_delete(ctx.get(), "pkcs11:object=route-del-1;type=data;pin-value=1234", 0), 1)
        << p11tls_last_error_detail();
    EXPECT_EQ(logins(), 1u);
    EXPECT_FALSE(second_lost_a_try(ctx.get()));
}

// Both tokens show a p256 public key, or neither shows what the URI
// names: P11TLS_E_AMBIGUOUS naming both, no login, the PIN function never
// asked.
TEST(PinRouteAmbiguousChild, NoLogin) {
    if (!in_child("P11TLS_PIN_ROUTE_AMBIGUOUS_CHILD")) GTEST_SKIP() << "runs only in a re-executed child";
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, testmod_path()), 0) << p11tls_last_error_detail();
    Asked asked;
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), pin_fn, &asked), 0);
    for (const char *uri : {kKeyUri, "pkcs11:object=p256;type=private", "pkcs11:object=nowhere;type=private"}) {
        p11tls_cxx::key key;
        EXPECT_EQ(p11tls_key_open(ctx.get(), uri, 0, key.put()), P11TLS_E_AMBIGUOUS) << uri;
        const std::string detail = p11tls_last_error_detail();
        EXPECT_NE(detail.find("token=p11tls-test"), std::string::npos) << detail;
        EXPECT_NE(detail.find("token=second"), std::string::npos) << detail;
    }
    int n = 0;
    EXPECT_EQ(p11tls_list_objects(ctx.get(), kKeyUri, P11TLS_LIST_LOGIN, count_objects, &n), P11TLS_E_AMBIGUOUS);
    EXPECT_EQ(p11tls_object_delete(ctx.get(), kKeyUri, 0), P11TLS_E_AMBIGUOUS);
    EXPECT_EQ(logins(), 0u);
    EXPECT_EQ(asked.calls, 0);
}

TEST(PinRoute, PinGoesOnlyToTheTokenThatHoldsTheKey) {
    REQUIRE_SOFTHSM();
    count_dir();  // the tool's calls are counted too
    ASSERT_TRUE(make_two_tokens());
    int st = child("PinRouteOpenChild.*", "P11TLS_PIN_ROUTE_OPEN_CHILD");
    EXPECT_TRUE(exited_ok(st)) << "URI PIN: " << describe(st);
    st = child("PinRouteFnChild.*", "P11TLS_PIN_ROUTE_FN_CHILD");
    EXPECT_TRUE(exited_ok(st)) << "PIN function: " << describe(st);
    st = child("PinRouteListChild.*", "P11TLS_PIN_ROUTE_LIST_CHILD");
    EXPECT_TRUE(exited_ok(st)) << "listing, delete: " << describe(st);

    // The tool, --pin-fd: sign, info --login, list --login, delete.
    setenv("SOFTHSM2_CONF", route_conf().c_str(), 1);  // for the tool only: SoftHSM read its own already
    struct Case {
        std::string args;
        int status;
    } cases[] = {
        {"sign 'pkcs11:object=p256;type=private' --scheme ecdsa_secp256r1_sha256 </dev/null", 0},
        {"info 'pkcs11:object=p256;type=private' --login", 0},
        {"list 'pkcs11:object=p256' --login", 0},
        {"delete 'pkcs11:object=route-del-2;type=data' --yes", 0},
    };
    for (const Case &c : cases) {
        pid_t pid = 0;
        EXPECT_EQ(tool(c.args, &pid), c.status) << c.args;
        EXPECT_EQ(count_calls(read_log(), pid, "C_Login"), 1u) << c.args;
    }
    setenv("SOFTHSM2_CONF", (th::test_dir() + "/softhsm2.conf").c_str(), 1);
    st = child("PinRouteOpenChild.*", "P11TLS_PIN_ROUTE_OPEN_CHILD");  // checks the flag once more
    EXPECT_TRUE(exited_ok(st)) << "after the tool: " << describe(st);
}

TEST(PinRoute, AmbiguousWithoutLogin) {
    REQUIRE_SOFTHSM();
    count_dir();
    ASSERT_TRUE(make_two_tokens());
    // The second token gets a p256 key pair of its own (its public key shows).
    ASSERT_TRUE(sh("SOFTHSM2_CONF='" + route_conf() + "' pkcs11-tool --module '" + th::env("P11TLS_SOFTHSM_MODULE") +
                   "' --token-label second --login --pin 9999 --keypairgen --key-type EC:prime256v1 --label p256 "
                   "--id 03"));
    pid_t pid = 0;
    int st = child("PinRouteAmbiguousChild.*", "P11TLS_PIN_ROUTE_AMBIGUOUS_CHILD");
    EXPECT_TRUE(exited_ok(st)) << describe(st);
    setenv("SOFTHSM2_CONF", route_conf().c_str(), 1);
    EXPECT_EQ(tool("info 'pkcs11:object=p256;type=private' --login", &pid), 4);
    EXPECT_EQ(count_calls(read_log(), pid, "C_Login"), 0u);
    setenv("SOFTHSM2_CONF", (th::test_dir() + "/softhsm2.conf").c_str(), 1);
    sh("SOFTHSM2_CONF='" + route_conf() + "' pkcs11-tool --module '" + th::env("P11TLS_SOFTHSM_MODULE") +
       "' --token-label second --login --pin 9999 --delete-object --type privkey --label p256");
    sh("SOFTHSM2_CONF='" + route_conf() + "' pkcs11-tool --module '" + th::env("P11TLS_SOFTHSM_MODULE") +
       "' --token-label second --login --pin 9999 --delete-object --type pubkey --label p256");
}
