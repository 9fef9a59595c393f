// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// In-process TLS handshakes whose server key lives on the SoftHSM test token,
// used through p11tls_gnutls_privkey_import(). Run through
// tests/suites/gnutls.*.test (tests/with-token.sh sets P11TLS_TEST_DIR).
#include <p11tls/gnutls.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <gnutls/urls.h>
#include <gnutls/x509.h>
#include <gtest/gtest.h>

#include "../support/helpers.hpp"

namespace {

const unsigned kTimeoutMs = 10000;

void set_socket_timeouts(int fd) {
    struct timeval tv = {kTimeoutMs / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Server credentials: the certificate <label>.pem and the token key.
struct ServerCred {
    gnutls_certificate_credentials_t cred = nullptr;
    ~ServerCred() {
        if (cred) gnutls_certificate_free_credentials(cred);
    }
};

::testing::AssertionResult make_server_cred(const std::string &label, ServerCred *out) {
    gnutls_datum_t pem = {nullptr, 0};
    std::string cert_file = th::test_dir() + "/" + label + ".pem";
    int rc = gnutls_load_file(cert_file.c_str(), &pem);
    if (rc < 0) return ::testing::AssertionFailure() << "load " << cert_file << ": " << gnutls_strerror(rc);
    gnutls_pcert_st pcert;
    rc = gnutls_pcert_import_x509_raw(&pcert, &pem, GNUTLS_X509_FMT_PEM, 0);
    gnutls_free(pem.data);
    if (rc < 0) return ::testing::AssertionFailure() << "pcert import: " << gnutls_strerror(rc);

    gnutls_privkey_t pkey;
    gnutls_privkey_init(&pkey);
    rc = p11tls_gnutls_privkey_import(pkey, nullptr, th::key_uri(label).c_str(), 0);
    if (rc < 0) {
        gnutls_pcert_deinit(&pcert);
        gnutls_privkey_deinit(pkey);
        return ::testing::AssertionFailure() << "p11tls_gnutls_privkey_import: " << gnutls_strerror(rc)
                                             << " (" << p11tls_last_error_detail() << ")";
    }
    gnutls_certificate_allocate_credentials(&out->cred);
    // On success the credentials own pcert's data and pkey.
    rc = gnutls_certificate_set_key(out->cred, nullptr, 0, &pcert, 1, pkey);
    if (rc < 0) {
        gnutls_pcert_deinit(&pcert);
        gnutls_privkey_deinit(pkey);
        return ::testing::AssertionFailure() << "set_key: " << gnutls_strerror(rc);
    }
    return ::testing::AssertionSuccess();
}

int handshake(gnutls_session_t s) {
    int rc;
    do {
        rc = gnutls_handshake(s);
    } while (rc < 0 && !gnutls_error_is_fatal(rc) && rc != GNUTLS_E_AGAIN);
    return rc;
}

gnutls_session_t server_session(const ServerCred &sc, const char *priority, int fd) {
    gnutls_session_t s;
    // GNUTLS_NO_SIGNAL: the last alert may find the peer's end already shut
    // down (EPIPE), which must not kill the test with SIGPIPE.
    gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
    gnutls_priority_set_direct(s, priority, nullptr);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, sc.cred);
    gnutls_handshake_set_timeout(s, kTimeoutMs);
    gnutls_transport_set_int(s, fd);
    return s;
}

struct Result {
    int server_rc = -1, client_rc = -1;
    gnutls_protocol_t version = GNUTLS_VERSION_UNKNOWN;
    gnutls_kx_algorithm_t kx = GNUTLS_KX_UNKNOWN;
    gnutls_sign_algorithm_t sign = GNUTLS_SIGN_UNKNOWN;
    std::string echoed;
};

// One handshake over a socketpair: server in a thread, client here; then the
// client sends "ping" and the server echoes it back.
Result run_handshake(const ServerCred &sc, const char *server_priority,
                     const char *client_priority) {
    Result r;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        ADD_FAILURE() << "socketpair";
        return r;
    }
    set_socket_timeouts(sv[0]);
    set_socket_timeouts(sv[1]);

    std::thread server([&] {
        gnutls_session_t s = server_session(sc, server_priority, sv[0]);
        r.server_rc = handshake(s);
        if (r.server_rc == 0) {
            char buf[64];
            ssize_t n = gnutls_record_recv(s, buf, sizeof buf);
            if (n > 0) gnutls_record_send(s, buf, n);
            gnutls_bye(s, GNUTLS_SHUT_WR);
        }
        gnutls_deinit(s);
        shutdown(sv[0], SHUT_RDWR);
    });

    gnutls_certificate_credentials_t ccred;
    gnutls_certificate_allocate_credentials(&ccred);
    std::string ca = th::test_dir() + "/ca.pem";
    EXPECT_EQ(1, gnutls_certificate_set_x509_trust_file(ccred, ca.c_str(), GNUTLS_X509_FMT_PEM));
    gnutls_session_t c;
    gnutls_init(&c, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);  // as the server's
    gnutls_priority_set_direct(c, client_priority, nullptr);
    gnutls_credentials_set(c, GNUTLS_CRD_CERTIFICATE, ccred);
    gnutls_server_name_set(c, GNUTLS_NAME_DNS, "localhost", 9);
    gnutls_session_set_verify_cert(c, "localhost", 0);
    gnutls_handshake_set_timeout(c, kTimeoutMs);
    gnutls_transport_set_int(c, sv[1]);
    r.client_rc = handshake(c);
    if (r.client_rc == 0) {
        r.version = gnutls_protocol_get_version(c);
        r.kx = gnutls_kx_get(c);
        r.sign = static_cast<gnutls_sign_algorithm_t>(gnutls_sign_algorithm_get(c));
        gnutls_record_send(c, "ping", 4);
        char buf[64];
        ssize_t n = gnutls_record_recv(c, buf, sizeof buf);
        if (n > 0) r.echoed.assign(buf, n);
        gnutls_bye(c, GNUTLS_SHUT_RDWR);
    }
    gnutls_deinit(c);
    shutdown(sv[1], SHUT_RDWR);
    server.join();
    close(sv[0]);
    close(sv[1]);
    gnutls_certificate_free_credentials(ccred);
    return r;
}

Result run_handshake(const std::string &label, const char *server_priority,
                     const char *client_priority) {
    ServerCred sc;
    ::testing::AssertionResult made = make_server_cred(label, &sc);
    EXPECT_TRUE(made);
    if (!made) return Result();
    return run_handshake(sc, server_priority, client_priority);
}

std::vector<unsigned char> crt_der(gnutls_x509_crt_t crt) {
    gnutls_datum_t der = {nullptr, 0};
    std::vector<unsigned char> out;
    if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0)
        out.assign(der.data, der.data + der.size);
    gnutls_free(der.data);
    return out;
}

#define EXPECT_HANDSHAKE_OK(r)                                                        \
    do {                                                                              \
        EXPECT_EQ(0, (r).server_rc) << "server: " << gnutls_strerror((r).server_rc);  \
        EXPECT_EQ(0, (r).client_rc) << "client: " << gnutls_strerror((r).client_rc);  \
        EXPECT_EQ("ping", (r).echoed);                                                \
    } while (0)

const char *kTls13 = "NORMAL:-VERS-ALL:+VERS-TLS1.3";

class GnutlsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        REQUIRE_TOKEN();
    }
};

TEST_F(GnutlsTest, Tls13P256) {
    Result r = run_handshake("p256", kTls13, kTls13);
    EXPECT_HANDSHAKE_OK(r);
    EXPECT_EQ(GNUTLS_TLS1_3, r.version);
    EXPECT_EQ(GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, r.sign) << gnutls_sign_get_name(r.sign);
}

TEST_F(GnutlsTest, Tls13P384) {
    Result r = run_handshake("p384", kTls13, kTls13);
    EXPECT_HANDSHAKE_OK(r);
    EXPECT_EQ(GNUTLS_TLS1_3, r.version);
    EXPECT_EQ(GNUTLS_SIGN_ECDSA_SECP384R1_SHA384, r.sign) << gnutls_sign_get_name(r.sign);
}

TEST_F(GnutlsTest, Tls13Ed25519) {
    Result r = run_handshake("ed25519", kTls13, kTls13);
    EXPECT_HANDSHAKE_OK(r);
    EXPECT_EQ(GNUTLS_TLS1_3, r.version);
    EXPECT_EQ(GNUTLS_SIGN_EDDSA_ED25519, r.sign) << gnutls_sign_get_name(r.sign);
}

TEST_F(GnutlsTest, Tls13RsaPss) {
    Result r = run_handshake("rsa2048", kTls13, kTls13);
    EXPECT_HANDSHAKE_OK(r);
    EXPECT_EQ(GNUTLS_TLS1_3, r.version);
    EXPECT_TRUE(r.sign == GNUTLS_SIGN_RSA_PSS_RSAE_SHA256 || r.sign == GNUTLS_SIGN_RSA_PSS_RSAE_SHA384 ||
                r.sign == GNUTLS_SIGN_RSA_PSS_RSAE_SHA512)
        << gnutls_sign_get_name(r.sign);
}

TEST_F(GnutlsTest, Tls12EcdheRsaPkcs1) {
    // The server only offers rsa_pkcs1_sha256, so GnuTLS must sign PKCS#1
    // v1.5 (sign_hash gets GNUTLS_SIGN_RSA_RAW and a DigestInfo).
    Result r = run_handshake("rsa2048",
                             "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:-SIGN-ALL:+SIGN-RSA-SHA256",
                             "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA");
    EXPECT_HANDSHAKE_OK(r);
    EXPECT_EQ(GNUTLS_TLS1_2, r.version);
    EXPECT_EQ(GNUTLS_KX_ECDHE_RSA, r.kx);
    EXPECT_EQ(GNUTLS_SIGN_RSA_SHA256, r.sign) << gnutls_sign_get_name(r.sign);
}

TEST_F(GnutlsTest, Tls12EcdheRsaPkcs1Sha384) {
    Result r = run_handshake("rsa2048",
                             "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:-SIGN-ALL:+SIGN-RSA-SHA384",
                             "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA");
    EXPECT_HANDSHAKE_OK(r);
    EXPECT_EQ(GNUTLS_SIGN_RSA_SHA384, r.sign) << gnutls_sign_get_name(r.sign);
}

TEST_F(GnutlsTest, Tls12EcdheEcdsa) {
    const char *p = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA";
    Result r = run_handshake("p256", p, p);
    EXPECT_HANDSHAKE_OK(r);
    EXPECT_EQ(GNUTLS_TLS1_2, r.version);
    EXPECT_EQ(GNUTLS_KX_ECDHE_ECDSA, r.kx);
}

TEST_F(GnutlsTest, Tls12RsaKeyExchange) {
    const char *p = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA";
    Result r = run_handshake("rsa2048", p, p);
    EXPECT_HANDSHAKE_OK(r);
    EXPECT_EQ(GNUTLS_TLS1_2, r.version);
    EXPECT_EQ(GNUTLS_KX_RSA, r.kx);
}

TEST_F(GnutlsTest, ImportErrors) {
    gnutls_privkey_t pkey;
    gnutls_privkey_init(&pkey);
    EXPECT_EQ(GNUTLS_E_INVALID_REQUEST, p11tls_gnutls_privkey_import(pkey, nullptr, nullptr, 0));
    EXPECT_EQ(GNUTLS_E_INVALID_REQUEST,
              p11tls_gnutls_privkey_import(pkey, nullptr, th::key_uri("p256").c_str(), 1));
    EXPECT_EQ(GNUTLS_E_INVALID_REQUEST, p11tls_gnutls_privkey_import(pkey, nullptr, "http://x", 0));
    EXPECT_EQ(GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE,
              p11tls_gnutls_privkey_import(pkey, nullptr, th::key_uri("no-such-key").c_str(), 0));
    gnutls_privkey_deinit(pkey);
}

TEST_F(GnutlsTest, PrivkeyInfo) {
    gnutls_privkey_t pkey;
    gnutls_privkey_init(&pkey);
    ASSERT_EQ(0, p11tls_gnutls_privkey_import(pkey, nullptr, th::key_uri("p384").c_str(), 0));
    unsigned bits = 0;
    EXPECT_EQ(GNUTLS_PK_ECDSA, gnutls_privkey_get_pk_algorithm(pkey, &bits));
    EXPECT_EQ(384u, bits);
    // A direct signature through the abstract API: data is hashed by GnuTLS.
    gnutls_datum_t data = {(unsigned char *)"hello", 5}, sig = {nullptr, 0};
    EXPECT_EQ(0, gnutls_privkey_sign_data2(pkey, GNUTLS_SIGN_ECDSA_SHA384, 0, &data, &sig));
    EXPECT_GT(sig.size, 0u);
    gnutls_free(sig.data);
    gnutls_privkey_deinit(pkey);
}

// A real peer: the gnutls-cli program against the in-process server over
// loopback TCP.
TEST_F(GnutlsTest, GnutlsCliPeer) {
    if (system("command -v gnutls-cli >/dev/null 2>&1") != 0) GTEST_SKIP() << "gnutls-cli not installed";
    ServerCred sc;
    ASSERT_TRUE(make_server_cred("p256", &sc));
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(lfd, 0);
    struct sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&sa, sizeof sa));
    ASSERT_EQ(0, listen(lfd, 1));
    socklen_t salen = sizeof sa;
    ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)&sa, &salen));
    int port = ntohs(sa.sin_port);
    struct timeval tv = {20, 0};
    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);  // bounds accept()

    int server_rc = -1;
    std::thread server([&] {
        int fd = accept(lfd, nullptr, nullptr);
        if (fd < 0) return;
        set_socket_timeouts(fd);
        gnutls_session_t s = server_session(sc, "NORMAL", fd);
        server_rc = handshake(s);
        if (server_rc == 0) {
            char buf[256];
            while (gnutls_record_recv(s, buf, sizeof buf) > 0) {
            }
            gnutls_bye(s, GNUTLS_SHUT_WR);
        }
        gnutls_deinit(s);
        close(fd);
    });

    std::string cmd = "timeout 20 gnutls-cli --x509cafile '" + th::test_dir() + "/ca.pem' --port " +
                      std::to_string(port) + " --verify-hostname localhost 127.0.0.1 </dev/null 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    ASSERT_NE(nullptr, p);
    std::string out;
    char buf[512];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = pclose(p);
    server.join();
    close(lfd);
    EXPECT_EQ(0, server_rc) << gnutls_strerror(server_rc);
    EXPECT_NE(std::string::npos, out.find("Handshake was completed")) << out;
    EXPECT_EQ(0, WEXITSTATUS(status)) << out;
}

TEST_F(GnutlsTest, X509CrtImport) {
    gnutls_x509_crt_t crt;
    ASSERT_EQ(0, gnutls_x509_crt_init(&crt));
    ASSERT_EQ(0, p11tls_gnutls_x509_crt_import(crt, nullptr, th::key_uri("p256", false, "cert").c_str()))
        << p11tls_last_error_detail();
    EXPECT_EQ(th::cert_der("p256"), crt_der(crt));
    EXPECT_EQ(GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE,
              p11tls_gnutls_x509_crt_import(crt, nullptr, th::key_uri("no-such-cert", false, "cert").c_str()));
    EXPECT_EQ(GNUTLS_E_INVALID_REQUEST, p11tls_gnutls_x509_crt_import(crt, nullptr, "pkcs11:bogus=1"));
    EXPECT_EQ(GNUTLS_E_INVALID_REQUEST, p11tls_gnutls_x509_crt_import(nullptr, nullptr, "pkcs11:"));
    gnutls_x509_crt_deinit(crt);
}

// Certificate and key both from the token, through one call.
TEST_F(GnutlsTest, CertificateSetKeyHandshake) {
    for (const char *label : {"p256", "rsa2048", "ed25519"}) {
        ServerCred sc;
        ASSERT_EQ(0, gnutls_certificate_allocate_credentials(&sc.cred));
        ASSERT_EQ(0, p11tls_gnutls_certificate_set_key(sc.cred, nullptr, th::key_uri(label, false, "cert").c_str(),
                                                       th::key_uri(label).c_str()))
            << label << ": " << p11tls_last_error_detail();
        Result r = run_handshake(sc, "NORMAL", kTls13);
        EXPECT_HANDSHAKE_OK(r);
    }
}

TEST_F(GnutlsTest, CertificateSetKeyErrors) {
    ServerCred sc;
    ASSERT_EQ(0, gnutls_certificate_allocate_credentials(&sc.cred));
    // (A wrong PIN is tested in a fresh process, tests/cli/serve_test.sh: here
    // the token is already logged in by earlier tests and needs no PIN.)
    // The P-384 key does not belong to the P-256 certificate: GnuTLS's check.
    EXPECT_EQ(GNUTLS_E_CERTIFICATE_KEY_MISMATCH,
              p11tls_gnutls_certificate_set_key(sc.cred, nullptr, th::key_uri("p256", false, "cert").c_str(),
                                                th::key_uri("p384").c_str()));
    // The detail says which halves do not fit (it was empty).
    std::string mismatch = p11tls_last_error_detail();
    EXPECT_EQ(mismatch.find("the private key (EC"), 0u) << mismatch;
    EXPECT_NE(mismatch.find("384 bits) does not belong to the certificate 'CN="), std::string::npos) << mismatch;
    EXPECT_EQ(GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE,
              p11tls_gnutls_certificate_set_key(sc.cred, nullptr, th::key_uri("nothing", false, "cert").c_str(),
                                                th::key_uri("p256").c_str()));
    EXPECT_EQ(GNUTLS_E_INVALID_REQUEST,
              p11tls_gnutls_certificate_set_key(sc.cred, nullptr, nullptr, th::key_uri("p256").c_str()));
    // Nothing was added: a handshake finds no certificate.
    Result r = run_handshake(sc, "NORMAL", kTls13);
    EXPECT_NE(0, r.server_rc);
}

// gnutls_*_import_url and gnutls_certificate_set_x509_key_file2 with pkcs11:
// URLs, after p11tls_gnutls_register_url(). GnuTLS's own PKCS#11 layer is
// initialized with no modules at all (GNUTLS_PKCS11_FLAG_MANUAL), so these
// can only succeed through p11tls.
TEST_F(GnutlsTest, RegisterUrl) {
    ASSERT_EQ(0, gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, nullptr));
    ASSERT_EQ(0, p11tls_gnutls_register_url());
    EXPECT_EQ(0, p11tls_gnutls_register_url());  // idempotent
    EXPECT_NE(0, gnutls_url_is_supported("pkcs11:token=p11tls-test"));

    gnutls_privkey_t pkey;
    ASSERT_EQ(0, gnutls_privkey_init(&pkey));
    ASSERT_EQ(0, gnutls_privkey_import_url(pkey, th::key_uri("p256").c_str(), 0));
    EXPECT_EQ(GNUTLS_PRIVKEY_EXT, gnutls_privkey_get_type(pkey));  // GnuTLS's own: _PKCS11
    gnutls_privkey_deinit(pkey);

    gnutls_x509_crt_t crt;
    ASSERT_EQ(0, gnutls_x509_crt_init(&crt));
    ASSERT_EQ(0, gnutls_x509_crt_import_url(crt, th::key_uri("p256", false, "cert").c_str(), 0));
    EXPECT_EQ(th::cert_der("p256"), crt_der(crt));
    gnutls_x509_crt_deinit(crt);

    for (const char *label : {"p256", "rsa2048"}) {
        ServerCred sc;
        ASSERT_EQ(0, gnutls_certificate_allocate_credentials(&sc.cred));
        ASSERT_EQ(0, gnutls_certificate_set_x509_key_file2(sc.cred, th::key_uri(label, false, "cert").c_str(),
                                                           th::key_uri(label).c_str(),
                                                           GNUTLS_X509_FMT_DER, nullptr, 0))
            << label;
        Result r = run_handshake(sc, "NORMAL", kTls13);
        EXPECT_HANDSHAKE_OK(r);
    }
}

}  // namespace
