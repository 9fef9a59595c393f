// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Integration: discovery (tokens, objects, modules, certificates).
#include <gtest/gtest.h>

#include <atomic>
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

#include <map>

namespace {
struct TokenSeen {
    int calls = 0;
    int found = 0;
    std::string serial, model, manufacturer, uri, module;
};
int token_cb(void *arg, const p11tls_token_info *info) {
    auto *s = static_cast<TokenSeen *>(arg);
    ++s->calls;
    if (std::string(info->label) == "p11tls-test") {
        ++s->found;
        s->serial = info->serial;
        s->model = info->model;
        s->manufacturer = info->manufacturer;
        s->uri = info->uri;
        s->module = info->module_name ? info->module_name : "";
    }
    return 0;
}

struct Obj {
    unsigned long cls;
    int alg;
    std::vector<unsigned char> id;
    std::string uri;
};
int object_cb(void *arg, const p11tls_object_info *info) {
    auto *m = static_cast<std::multimap<std::string, Obj> *>(arg);
    EXPECT_STREQ(info->token_label, "p11tls-test");
    EXPECT_EQ(std::string(info->uri).find("pin-value"), std::string::npos);
    m->insert({info->label, Obj{info->object_class, info->algorithm,
                                std::vector<unsigned char>(info->id, info->id + info->id_len), info->uri}});
    return 0;
}
}  // namespace

TEST(List, Tokens) {
    REQUIRE_TOKEN();
    TokenSeen s;
    ASSERT_EQ(p11tls_list_tokens(nullptr, nullptr, token_cb, &s), 0) << p11tls_last_error_detail();
    ASSERT_EQ(s.found, 1);
    EXPECT_FALSE(s.serial.empty());
    EXPECT_NE(s.model.find("SoftHSM"), std::string::npos) << s.model;
    EXPECT_NE(s.manufacturer.find("SoftHSM"), std::string::npos) << s.manufacturer;
    EXPECT_NE(s.uri.find("token=p11tls-test"), std::string::npos) << s.uri;
    EXPECT_FALSE(s.module.empty());

    // Filtered by URI, and by its own URI.
    TokenSeen f;
    ASSERT_EQ(p11tls_list_tokens(nullptr, "pkcs11:token=p11tls-test", token_cb, &f), 0);
    EXPECT_EQ(f.calls, 1);
    EXPECT_EQ(f.found, 1);
    TokenSeen g;
    ASSERT_EQ(p11tls_list_tokens(nullptr, s.uri.c_str(), token_cb, &g), 0) << s.uri;
    EXPECT_EQ(g.found, 1);
    TokenSeen none;
    ASSERT_EQ(p11tls_list_tokens(nullptr, "pkcs11:token=no-such-token", token_cb, &none), 0);
    EXPECT_EQ(none.calls, 0);
    EXPECT_EQ(p11tls_list_tokens(nullptr, "pkcs11:object=%zz", token_cb, &none), P11TLS_E_INVALID_URI);
}

TEST(List, CallbackStops) {
    REQUIRE_TOKEN();
    int calls = 0;
    auto stop = [](void *arg, const p11tls_token_info *) { return ++*(int *)arg, 42; };
    EXPECT_EQ(p11tls_list_tokens(nullptr, nullptr, stop, &calls), 42);
    EXPECT_EQ(calls, 1);
    calls = 0;
    auto stop_obj = [](void *arg, const p11tls_object_info *) { return ++*(int *)arg, 7; };
    EXPECT_EQ(p11tls_list_objects(nullptr, ("pkcs11:token=p11tls-test;pin-value=" + th::test_pin()).c_str(),
                                  P11TLS_LIST_LOGIN, stop_obj, &calls),
              7);
    EXPECT_EQ(calls, 1);
    calls = 0;
    auto stop_mod = [](void *arg, const p11tls_module_info *) { return ++*(int *)arg, 3; };
    EXPECT_EQ(p11tls_list_modules(nullptr, stop_mod, &calls), 3);
    EXPECT_EQ(calls, 1);
}

TEST(List, ObjectsWithLogin) {
    REQUIRE_TOKEN();
    std::multimap<std::string, Obj> objs;
    ASSERT_EQ(p11tls_list_objects(nullptr, ("pkcs11:token=p11tls-test;pin-value=" + th::test_pin()).c_str(),
                                  P11TLS_LIST_LOGIN, object_cb, &objs),
              0)
        << p11tls_last_error_detail();
    int priv = 0, pub = 0, cert = 0;
    for (auto &o : objs) {
        if (o.second.cls == P11TLS_CLASS_PRIVATE_KEY) ++priv;
        if (o.second.cls == P11TLS_CLASS_PUBLIC_KEY) ++pub;
        if (o.second.cls == P11TLS_CLASS_CERTIFICATE) ++cert;
    }
    EXPECT_EQ(priv, 6);
    EXPECT_EQ(pub, 6);
    EXPECT_EQ(cert, 7);

    struct Want {
        const char *label;
        unsigned char id;
        int alg;
    };
    const Want want[] = {{"rsa2048", 0x01, P11TLS_ALG_RSA},   {"rsa3072", 0x02, P11TLS_ALG_RSA},
                         {"p256", 0x03, P11TLS_ALG_ECDSA},    {"p384", 0x04, P11TLS_ALG_ECDSA},
                         {"ed25519", 0x05, P11TLS_ALG_ED25519}, {"p521", 0x06, P11TLS_ALG_ECDSA}};
    for (const Want &w : want) {
        auto range = objs.equal_range(w.label);
        int n = 0;
        for (auto it = range.first; it != range.second; ++it, ++n) {
            const Obj &o = it->second;
            EXPECT_EQ(o.id, std::vector<unsigned char>{w.id}) << w.label;
            if (o.cls == P11TLS_CLASS_CERTIFICATE)
                EXPECT_EQ(o.alg, 0) << w.label;
            else
                EXPECT_EQ(o.alg, w.alg) << w.label << " class " << o.cls;
            EXPECT_NE(o.uri.find("object=" + std::string(w.label)), std::string::npos) << o.uri;
        }
        EXPECT_EQ(n, 3) << w.label;
    }
    auto ca = objs.equal_range("p11tls-test-ca");
    ASSERT_NE(ca.first, ca.second);
    EXPECT_EQ(ca.first->second.cls, P11TLS_CLASS_CERTIFICATE);
    EXPECT_EQ(ca.first->second.id, std::vector<unsigned char>{0x7f});

    // Filtered listings.
    std::multimap<std::string, Obj> certs;
    ASSERT_EQ(p11tls_list_objects(nullptr, "pkcs11:token=p11tls-test;type=cert", 0, object_cb, &certs), 0);
    EXPECT_EQ(certs.size(), 7u);
    std::multimap<std::string, Obj> one;
    ASSERT_EQ(p11tls_list_objects(nullptr, th::key_uri("p384", true, "public").c_str(), P11TLS_LIST_LOGIN,
                                  object_cb, &one),
              0);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one.begin()->second.cls, P11TLS_CLASS_PUBLIC_KEY);
    EXPECT_EQ(one.begin()->second.alg, P11TLS_ALG_ECDSA);
}

TEST(List, Modules) {
    REQUIRE_TOKEN();
    struct Seen {
        int softhsm = 0;
        int status = -1;
        std::string desc;
    } s;
    auto cb = [](void *arg, const p11tls_module_info *info) {
        auto *s = static_cast<Seen *>(arg);
        EXPECT_NE(info->name, nullptr);
        EXPECT_NE(info->error, nullptr);
        std::string path = info->path ? info->path : "", name = info->name;
        if (path.find("softhsm") != std::string::npos || name.find("softhsm") != std::string::npos) {
            ++s->softhsm;
            s->status = info->status;
            s->desc = info->description ? info->description : "";
            if (info->status == 0) {
                EXPECT_STREQ(info->error, "");
            }
        }
        return 0;
    };
    ASSERT_EQ(p11tls_list_modules(nullptr, cb, &s), 0) << p11tls_last_error_detail();
    EXPECT_GE(s.softhsm, 1);
    EXPECT_EQ(s.status, 0);
    EXPECT_FALSE(s.desc.empty());  // SoftHSM says "Implementation of PKCS11"

    // A context with only an added module lists just that one.
    p11tls_ctx *ctx = nullptr;
    ASSERT_EQ(p11tls_ctx_new(&ctx), 0);
    ASSERT_EQ(p11tls_ctx_set_flags(ctx, P11TLS_CTX_NO_REGISTERED_MODULES), 0);
    ASSERT_EQ(p11tls_ctx_add_module(ctx, th::env("P11TLS_SOFTHSM_MODULE").c_str()), 0);
    int count = 0;
    auto counter = [](void *arg, const p11tls_module_info *info) {
        EXPECT_EQ(info->status, 0);
        return ++*(int *)arg, 0;
    };
    ASSERT_EQ(p11tls_list_modules(ctx, counter, &count), 0);
    EXPECT_EQ(count, 1);
    p11tls_ctx_free(ctx);
}

TEST(List, CertDer) {
    REQUIRE_TOKEN();
    for (const char *label : {"p256", "rsa2048", "ed25519", "p11tls-test-ca"}) {
        uint8_t *der = nullptr;
        size_t len = 0;
        ASSERT_EQ(p11tls_cert_get_der(nullptr, ("pkcs11:token=p11tls-test;object=" + std::string(label) + ";type=cert").c_str(),
                                      &der, &len),
                  0)
            << label << ": " << p11tls_last_error_detail();
        std::vector<unsigned char> got(der, der + len);
        p11tls_free(der);
        std::string file = std::string(label) == "p11tls-test-ca" ? "ca" : label;
        auto want = th::cert_der(file);
        ASSERT_FALSE(want.empty()) << file;
        EXPECT_EQ(got, want) << label;
    }
    // Without type=: the certificate is selected by the object label alone?
    uint8_t *der = nullptr;
    size_t len = 0;
    EXPECT_EQ(p11tls_cert_get_der(nullptr, "pkcs11:token=p11tls-test;object=p256;type=private", &der, &len),
              P11TLS_E_INVALID_ARGUMENT);
}
