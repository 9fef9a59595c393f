// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: RSA decryption (PKCS#1 v1.5 and OAEP-SHA256).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/types.h>
#include <vector>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <p11tls/p11tls.h>

#include "../support/helpers.hpp"

#include <fstream>
#include <unistd.h>

namespace {
const char kSecret[] = "forty-eight bytes of premaster secret, or so....";
}  // namespace

TEST(Decrypt, RsaPkcs1) {
    REQUIRE_TOKEN();
    for (const char *label : {"rsa2048", "rsa3072"}) {
        gnutls_pubkey_t pk = th::cert_pubkey(label);
        ASSERT_NE(pk, nullptr);
        gnutls_datum_t pt = {(unsigned char *)kSecret, (unsigned)(sizeof kSecret - 1)}, ct = {nullptr, 0};
        ASSERT_GE(gnutls_pubkey_encrypt_data(pk, 0, &pt, &ct), 0);
        gnutls_pubkey_deinit(pk);

        p11tls_cxx::key key;
        ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri(label).c_str(), 0, key.put()), 0)
            << p11tls_last_error_detail();
        size_t n = 0;
        ASSERT_EQ(p11tls_key_decrypt(key.get(), P11TLS_DECRYPT_RSA_PKCS1, ct.data, ct.size, nullptr, &n), 0);
        EXPECT_GE(n, sizeof kSecret - 1);
        std::vector<unsigned char> out(n);
        ASSERT_EQ(p11tls_key_decrypt(key.get(), P11TLS_DECRYPT_RSA_PKCS1, ct.data, ct.size, out.data(), &n), 0)
            << p11tls_last_error_detail();
        EXPECT_EQ(std::string((char *)out.data(), n), std::string(kSecret)) << label;

        // Short output buffer.
        unsigned char tiny[4];
        size_t tn = sizeof tiny;
        EXPECT_EQ(p11tls_key_decrypt(key.get(), P11TLS_DECRYPT_RSA_PKCS1, ct.data, ct.size, tiny, &tn),
                  P11TLS_E_BUFFER_TOO_SMALL);
        EXPECT_EQ(tn, sizeof kSecret - 1);
        // Unknown padding.
        n = out.size();
        EXPECT_EQ(p11tls_key_decrypt(key.get(), 99, ct.data, ct.size, out.data(), &n), P11TLS_E_INVALID_ARGUMENT);
        // A corrupted ciphertext does not decrypt to the plaintext.
        std::vector<unsigned char> bad(ct.data, ct.data + ct.size);
        bad[bad.size() / 2] ^= 0x55;
        n = out.size();
        int rc = p11tls_key_decrypt(key.get(), P11TLS_DECRYPT_RSA_PKCS1, bad.data(), bad.size(), out.data(), &n);
        if (rc == 0) {
            EXPECT_NE(std::string((char *)out.data(), n), std::string(kSecret));
        }
        gnutls_free(ct.data);
    }
}

TEST(Decrypt, NonRsaKeyUnsupported) {
    REQUIRE_TOKEN();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri("p256").c_str(), 0, key.put()), 0);
    unsigned char ct[64] = {0}, pt[64];
    size_t n = sizeof pt;
    EXPECT_EQ(p11tls_key_decrypt(key.get(), P11TLS_DECRYPT_RSA_PKCS1, ct, sizeof ct, pt, &n), P11TLS_E_UNSUPPORTED);
}

TEST(Decrypt, RsaOaepSha256) {
    REQUIRE_TOKEN();
    if (system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "openssl not installed";
    char dir[] = "/tmp/p11tls-oaep-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string d = dir, in = d + "/pt", out = d + "/ct";
    {
        std::ofstream f(in, std::ios::binary);
        f.write(kSecret, sizeof kSecret - 1);
    }
    const std::string cmd = "openssl pkeyutl -encrypt -certin -inkey '" + th::test_dir() +
                            "/rsa2048.pem' -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256"
                            " -pkeyopt rsa_mgf1_md:sha256 -in '" + in + "' -out '" + out + "' 2>&1";
    int st = system(cmd.c_str());
    auto ct = th::read_file(out);
    unlink(in.c_str());
    unlink(out.c_str());
    rmdir(dir);
    ASSERT_EQ(st, 0) << cmd;
    ASSERT_EQ(ct.size(), 256u);

    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, th::key_uri("rsa2048").c_str(), 0, key.put()), 0)
        << p11tls_last_error_detail();
    std::vector<unsigned char> pt(256);
    size_t n = pt.size();
    int drc = p11tls_key_decrypt(key.get(), P11TLS_DECRYPT_RSA_OAEP_SHA256, ct.data(), ct.size(), pt.data(), &n);
    const std::string detail = p11tls_last_error_detail();
    if (drc == P11TLS_E_UNSUPPORTED && detail.find("C_DecryptInit: CKR_ARGUMENTS_BAD") != std::string::npos)
        GTEST_SKIP() << "the token refuses OAEP with SHA-256 (SoftHSM 2.6 accepts only "
                        "hashAlg CKM_SHA_1): "
                     << detail;
    ASSERT_EQ(drc, 0) << detail;
    EXPECT_EQ(std::string((char *)pt.data(), n), std::string(kSecret));
    // The same ciphertext is not valid PKCS#1 v1.5.
    n = pt.size();
    int rc = p11tls_key_decrypt(key.get(), P11TLS_DECRYPT_RSA_PKCS1, ct.data(), ct.size(), pt.data(), &n);
    if (rc == 0) {
        EXPECT_NE(std::string((char *)pt.data(), n), std::string(kSecret));
    }
}
