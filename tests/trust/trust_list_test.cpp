// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// p11tls_gnutls_trust_list_add on the SoftHSM test token (tests/with-token.sh,
// both reset_on_fork settings): a root written as trusted CA, an
// intermediate written plainly (tests/trust/make-pki.sh), refresh, fork,
// independent lists. Run through tests/suites/trust-list.*.test.
#include <p11tls/gnutls.h>
#include <p11tls/p11tls.hpp>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gtest/gtest.h>

#include "gnutls/trust_list.hpp"
#include "../support/helpers.hpp"

namespace {

const char kToken[] = "pkcs11:token=p11tls-test";

std::string pki() { return th::test_dir() + "/pki"; }

// Runs a shell command with the test's environment; true if it exits 0.
bool sh(const std::string &cmd) { return system(cmd.c_str()) == 0; }

// Writes a certificate file on the token: as trusted CA (SO login) or plainly.
bool write_cert(const std::string &file, const std::string &label, bool trusted) {
    std::string cmd = trusted ? "GNUTLS_SO_PIN=$P11TLS_TEST_SO_PIN p11tool --so-login --mark-trusted --mark-ca"
                              : "GNUTLS_PIN=$P11TLS_TEST_PIN p11tool --login";
    return sh(cmd + " --provider \"$P11TLS_SOFTHSM_MODULE\" --write --label " + label +
              " --load-certificate '" + file + "' \"$P11TLS_TEST_TOKEN_URI\" >/dev/null 2>&1");
}

bool delete_cert(const std::string &label) {
    return sh("GNUTLS_PIN=$P11TLS_TEST_PIN p11tool --login --batch --provider \"$P11TLS_SOFTHSM_MODULE\" "
              "--delete \"$P11TLS_TEST_TOKEN_URI;object=" + label + ";type=cert\" >/dev/null 2>&1");
}

// Owns a trust list (freed with its anchors).
struct List {
    gnutls_x509_trust_list_t l = nullptr;
    List() { gnutls_x509_trust_list_init(&l, 0); }
    ~List() { gnutls_x509_trust_list_deinit(l, 1); }
};

// The verification status of the certificates in the PEM files (leaf
// first, then what a peer would send), or -1 if they cannot be read or
// verified.
int status(gnutls_x509_trust_list_t list, const std::vector<std::string> &files) {
    std::vector<gnutls_x509_crt_t> crts;
    int rc = 0;
    for (const std::string &f : files) {
        gnutls_datum_t pem = {nullptr, 0};
        if (gnutls_load_file(f.c_str(), &pem) < 0) return -1;
        gnutls_x509_crt_t *got = nullptr;
        unsigned n = 0;
        rc = gnutls_x509_crt_list_import2(&got, &n, &pem, GNUTLS_X509_FMT_PEM, 0);
        gnutls_free(pem.data);
        if (rc < 0) break;
        crts.insert(crts.end(), got, got + n);
        gnutls_free(got);
    }
    unsigned out = 0;
    if (rc >= 0)
        rc = gnutls_x509_trust_list_verify_crt2(list, crts.data(), crts.size(), nullptr, 0, 0, &out, nullptr);
    for (gnutls_x509_crt_t c : crts) gnutls_x509_crt_deinit(c);
    return rc < 0 ? -1 : static_cast<int>(out);
}

int verify(gnutls_x509_trust_list_t list, const char *name) {
    return status(list, {pki() + "/" + name + ".pem"});
}

class TrustList : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (th::have_token())
            made_ = sh("bash \"$P11TLS_SRCDIR/tests/trust/make-pki.sh\" \"$P11TLS_TEST_DIR/pki\" token");
    }
    void SetUp() override {
        if (!th::have_token()) GTEST_SKIP() << "needs tests/with-token.sh";
        ASSERT_TRUE(made_) << "tests/trust/make-pki.sh failed";
    }
    static bool made_;
};
bool TrustList::made_ = false;

}  // namespace

// The root marked trusted is the one anchor: the plain test CA beside it is
// none, and a leaf sent alone verifies through the intermediate on the token.
TEST_F(TrustList, TrustedRootIsTheOnlyAnchorAndIssuersComeFromTheToken) {
    List list;
    ASSERT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, kToken, 0), 1) << p11tls_last_error_detail();
    EXPECT_EQ(verify(list.l, "leaf"), 0);
    EXPECT_EQ(status(list.l, {pki() + "/leaf-chain.pem"}), 0);
    EXPECT_EQ(verify(list.l, "inter"), 0);
    // Another CA's leaf, and one of the CA present on the token but not
    // marked trusted (p11tls-test-ca), do not verify.
    EXPECT_NE(verify(list.l, "other-leaf") & GNUTLS_CERT_SIGNER_NOT_FOUND, 0);
    EXPECT_NE(status(list.l, {th::test_dir() + "/p256.pem"}) & GNUTLS_CERT_INVALID, 0);
    // The self-signed roots are no certificates to trust by themselves.
    EXPECT_NE(verify(list.l, "other-root"), 0);
}

TEST_F(TrustList, WithoutTheTokenTheLeafAloneDoesNotVerify) {
    List list;
    gnutls_x509_crt_t root;
    gnutls_datum_t pem = {nullptr, 0};
    ASSERT_GE(gnutls_load_file((pki() + "/root.pem").c_str(), &pem), 0);
    gnutls_x509_crt_init(&root);
    ASSERT_GE(gnutls_x509_crt_import(root, &pem, GNUTLS_X509_FMT_PEM), 0);
    gnutls_free(pem.data);
    ASSERT_EQ(gnutls_x509_trust_list_add_cas(list.l, &root, 1, 0), 1);
    // The same anchor from memory: the intermediate is what the token adds.
    EXPECT_NE(verify(list.l, "leaf"), 0);
    EXPECT_EQ(status(list.l, {pki() + "/leaf-chain.pem"}), 0);
}

TEST_F(TrustList, BadArgumentsAndUrisLeaveTheListUnchanged) {
    List list;
    EXPECT_EQ(p11tls_gnutls_trust_list_add(nullptr, nullptr, kToken, 0), GNUTLS_E_INVALID_REQUEST);
    EXPECT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, nullptr, 0), GNUTLS_E_INVALID_REQUEST);
    EXPECT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, kToken, 0x100), GNUTLS_E_INVALID_REQUEST);
    EXPECT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, "file:///x", 0), GNUTLS_E_INVALID_REQUEST);
    EXPECT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, "pkcs11:token=p11tls-test;type=private", 0),
              GNUTLS_E_INVALID_REQUEST);
    EXPECT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, "pkcs11:token=no-such-token", 0),
              GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    EXPECT_EQ(p11tls_gnutls_trust_list_refresh(list.l, 0), GNUTLS_E_INVALID_REQUEST);
    EXPECT_NE(verify(list.l, "leaf"), 0);
    // A URI naming one certificate reads only that one.
    EXPECT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, "pkcs11:token=p11tls-test;object=trust-inter", 0), 0);
    EXPECT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, "pkcs11:token=p11tls-test;object=trust-root", 0), 1);
}

// Two callers' lists, through two contexts: each has what its URI named, and
// freeing one's context or list leaves the other working.
TEST_F(TrustList, ListsAreIndependent) {
    auto a = std::make_unique<List>();
    List b;
    {
        p11tls_cxx::context ca, cb;
        ASSERT_EQ(p11tls_gnutls_trust_list_add(a->l, ca.get(), kToken, 0), 1);
        ASSERT_EQ(p11tls_gnutls_trust_list_add(b.l, cb.get(), "pkcs11:token=p11tls-test;object=trust-inter", 0), 0);
    }
    EXPECT_EQ(verify(a->l, "leaf"), 0);
    EXPECT_NE(verify(b.l, "leaf"), 0);
    a.reset();
    EXPECT_NE(verify(b.l, "leaf"), 0);
}

// Anchors written on and deleted from the token after the list was made:
// not seen before the refresh delay, seen at once after an explicit refresh.
TEST_F(TrustList, ExplicitRefreshSeesAnchorsAddedAndRemoved) {
    List list;
    ASSERT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, kToken, 0), 1);
    ASSERT_NE(verify(list.l, "other-leaf"), 0);
    ASSERT_TRUE(write_cert(pki() + "/other-root.pem", "other-root", true));
    EXPECT_NE(verify(list.l, "other-leaf"), 0) << "seen before the refresh delay";
    EXPECT_EQ(p11tls_gnutls_trust_list_refresh(list.l, 0), 1);
    EXPECT_EQ(verify(list.l, "other-leaf"), 0);
    EXPECT_EQ(p11tls_gnutls_trust_list_refresh(list.l, 0), 0);
    ASSERT_TRUE(delete_cert("other-root"));
    EXPECT_EQ(verify(list.l, "other-leaf"), 0) << "removal seen before the refresh delay";
    EXPECT_EQ(p11tls_gnutls_trust_list_refresh(list.l, 0), 1);
    EXPECT_NE(verify(list.l, "other-leaf"), 0);
    EXPECT_EQ(verify(list.l, "leaf"), 0);
}

// The automatic refresh: an issuer lookup after the delay re-reads the
// tokens (the delay shortened through the test knob, not waited for), and
// none does before it, nor with P11TLS_TRUST_NO_AUTO_REFRESH.
TEST_F(TrustList, AutomaticRefreshAfterTheDelay) {
    List list, manual;
    ASSERT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, kToken, 0), 1);
    ASSERT_EQ(p11tls_gnutls_trust_list_add(manual.l, nullptr, kToken, P11TLS_TRUST_NO_AUTO_REFRESH), 1);
    ASSERT_TRUE(write_cert(th::test_dir() + "/ca.pem", "ca-trusted", true));
    EXPECT_NE(verify(list.l, "other-leaf"), 0);  // an issuer lookup, before the delay
    EXPECT_NE(status(list.l, {th::test_dir() + "/p256.pem"}), 0);
    p11tls::set_trust_refresh_delay_ms_for_tests(0);
    verify(list.l, "other-leaf");  // an issuer lookup: reads the token
    verify(manual.l, "other-leaf");
    int after = status(list.l, {th::test_dir() + "/p256.pem"});
    int manual_after = status(manual.l, {th::test_dir() + "/p256.pem"});
    p11tls::set_trust_refresh_delay_ms_for_tests(-1);
    EXPECT_EQ(after, 0);
    EXPECT_NE(manual_after, 0);
    EXPECT_TRUE(delete_cert("ca-trusted"));
}

// Staleness: a chain that ends at an anchor is verified with no call into
// p11tls (GnuTLS calls its issuer function only for a gap), so an anchor
// removed from the token is refused once p11tls_gnutls_trust_list_refresh
// with P11TLS_TRUST_REFRESH_IF_DUE is called after the delay, whatever the
// peer sends; before the delay that call reads nothing. The delay is
// shortened through the test knob, not waited for.
TEST_F(TrustList, RemovedAnchorRefusedForCompleteChainsOnceTheDelayPassed) {
    ASSERT_TRUE(write_cert(pki() + "/other-root.pem", "stale-root", true));
    List list;
    ASSERT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, kToken, 0), 2);
    ASSERT_EQ(verify(list.l, "other-leaf"), 0);  // issued by the anchor: no gap
    ASSERT_TRUE(delete_cert("stale-root"));
    EXPECT_EQ(p11tls_gnutls_trust_list_refresh(list.l, P11TLS_TRUST_REFRESH_IF_DUE), 0);
    EXPECT_EQ(verify(list.l, "other-leaf"), 0) << "the tokens read before the delay";
    p11tls::set_trust_refresh_delay_ms_for_tests(0);
    int changes = p11tls_gnutls_trust_list_refresh(list.l, P11TLS_TRUST_REFRESH_IF_DUE);
    int after = verify(list.l, "other-leaf");
    int kept = status(list.l, {pki() + "/leaf-chain.pem"});
    p11tls::set_trust_refresh_delay_ms_for_tests(-1);
    EXPECT_EQ(changes, 1);
    EXPECT_NE(after, 0) << "a removed anchor still trusted after the delay";
    EXPECT_EQ(kept, 0) << "the anchor still on the token lost";
}

namespace {

// The p11-kit trust module's file, or "" (p11-kit-modules not installed).
std::string trust_module() {
    for (const char *p : {"/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-trust.so",
                          "/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-trust.so",
                          "/usr/lib64/pkcs11/p11-kit-trust.so", "/usr/lib/pkcs11/p11-kit-trust.so"})
        if (access(p, R_OK) == 0) return p;
    return "";
}

}  // namespace

// The same for distrust by issuer and serial number only, newly written in
// p11-kit's trust store (its blocklist): a leaf sent with its intermediate
// (no gap) is refused once the refresh is due.
TEST_F(TrustList, NewDistrustRefusedForCompleteChainsOnceTheDelayPassed) {
    const std::string so = trust_module();
    if (so.empty()) GTEST_SKIP() << "p11-kit-trust.so not found (p11-kit-modules)";
    const std::string store = th::test_dir() + "/stale-store";
    // The blocklist directory dated in the past: p11-kit reads a directory
    // again when its mtime (in seconds) changes, and the record is written
    // within the second of the first read.
    ASSERT_TRUE(sh("bash \"$P11TLS_SRCDIR/tests/trust/make-store.sh\" '" + store + "' empty '" + pki() +
                   "' && cp '" + pki() + "/root.pem' '" + store + "/anchors/' && cp '" + pki() +
                   "/inter.pem' '" + store + "/' && touch -d 2000-01-01 '" + store + "/blocklist'"));
    p11tls_cxx::context ctx;
    ASSERT_EQ(p11tls_ctx_set_flags(ctx.get(), P11TLS_CTX_NO_REGISTERED_MODULES), 0);
    ASSERT_EQ(p11tls_ctx_add_module_with_args(ctx.get(), so.c_str(), ("paths=" + store).c_str()), 0);
    List list;
    ASSERT_EQ(p11tls_gnutls_trust_list_add(list.l, ctx.get(), "pkcs11:token=stale-store", 0), 1)
        << p11tls_last_error_detail();
    ASSERT_EQ(status(list.l, {pki() + "/leaf-chain.pem"}), 0);
    ASSERT_TRUE(sh("python3 \"$P11TLS_SRCDIR/tests/trust/p11kit_record.py\" distrust '" + pki() +
                   "/leaf.pem' 'leaf by serial' > '" + store + "/blocklist/leaf.p11-kit'"));
    EXPECT_EQ(p11tls_gnutls_trust_list_refresh(list.l, P11TLS_TRUST_REFRESH_IF_DUE), 0);
    EXPECT_EQ(status(list.l, {pki() + "/leaf-chain.pem"}), 0) << "the tokens read before the delay";
    p11tls::set_trust_refresh_delay_ms_for_tests(0);
    int changes = p11tls_gnutls_trust_list_refresh(list.l, P11TLS_TRUST_REFRESH_IF_DUE);
    int after = status(list.l, {pki() + "/leaf-chain.pem"});
    p11tls::set_trust_refresh_delay_ms_for_tests(-1);
    EXPECT_EQ(changes, 1);
    EXPECT_NE(after & GNUTLS_CERT_REVOKED, 0) << "status " << after;
}

namespace {

// In a child: the leaf alone verifies (issuer from memory) and so does
// leaf2, whose intermediate was written on the token after the list was
// made (seen by the automatic refresh, the delay 0 through the test knob:
// the tokens read through p11tls in this process). Then the same one level
// deeper.
int descend(void *arg) {
    auto *list = static_cast<gnutls_x509_trust_list_t *>(arg);
    static int depth = 0;
    depth++;
    if (verify(*list, "leaf") != 0) return 10 + depth;
    p11tls::set_trust_refresh_delay_ms_for_tests(0);
    if (verify(*list, "leaf2") != 0) return 20 + depth;
    p11tls::set_trust_refresh_delay_ms_for_tests(-1);
    if (verify(*list, "other-leaf") == 0) return 30 + depth;
    if (depth < 2) {
        int st = th::run_in_child(descend, arg, 60);
        if (!th::exited_ok(st)) return 40 + depth;
    }
    return 0;
}

}  // namespace

TEST_F(TrustList, ListMadeBeforeForkVerifiesInChildAndGrandchild) {
    List list;
    ASSERT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, kToken, 0), 1);
    ASSERT_EQ(verify(list.l, "leaf"), 0);
    ASSERT_TRUE(write_cert(pki() + "/inter2.pem", "trust-inter2", false));
    int st = th::run_in_child(descend, &list.l, 120);
    EXPECT_TRUE(th::exited_ok(st)) << th::describe_status(st);
    EXPECT_NE(verify(list.l, "leaf2"), 0) << "no read of the tokens before the delay";
    EXPECT_GE(p11tls_gnutls_trust_list_refresh(list.l, 0), 0);
    EXPECT_EQ(verify(list.l, "leaf2"), 0);
    EXPECT_EQ(verify(list.l, "leaf"), 0);
    EXPECT_TRUE(delete_cert("trust-inter2"));
}

// Threads verifying with one list at once (the issuer lookup from memory and
// the token search for a subject not in memory run concurrently): every
// verification gives the right verdict. No automatic refresh: it would
// change the list under the other threads (include/p11tls/gnutls.h).
TEST_F(TrustList, ThreadsVerifyWithOneList) {
    List list;
    ASSERT_EQ(p11tls_gnutls_trust_list_add(list.l, nullptr, kToken, P11TLS_TRUST_NO_AUTO_REFRESH), 1);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++)
        threads.emplace_back([&] {
            for (int i = 0; i < 50; i++) {
                if (verify(list.l, "leaf") != 0) wrong++;
                if (verify(list.l, "other-leaf") == 0) wrong++;
            }
        });
    for (auto &t : threads) t.join();
    EXPECT_EQ(wrong.load(), 0);
}
