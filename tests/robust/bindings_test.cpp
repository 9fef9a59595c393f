// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A long-lived key that loses its login again and again (issue 12, read
// item): each lost login makes the key find itself again, with a new
// binding (lib/key/bind.cpp). Superseded bindings of the same generation are
// freed once no operation can hold them; before, each stayed until the key
// was freed. The login is lost for real: P11TLS_KEY_OPEN_VERIFY_PIN logs the
// token out and in again, and SoftHSM then refuses the key's old handle.
// Counted through the internal hook key_binding_count (this program links
// the library statically).
#include "robust.hpp"

#include <pthread.h>

#include "key/key.hpp"

namespace {

using namespace tmh;

// A context with SoftHSM itself (no call log: a thousand logins).
int softhsm_ctx(p11tls_cxx::context &ctx) {
    int rc = p11tls_ctx_new(ctx.put());
    if (!rc) rc = p11tls_ctx_set_flags(ctx.get(), P11TLS_CTX_NO_REGISTERED_MODULES);
    if (!rc) rc = p11tls_ctx_add_module(ctx.get(), getenv("P11TLS_SOFTHSM_MODULE"));
    return rc;
}

// Logs the token out and in again, through another key's open.
int lose_login(p11tls_cxx::context &ctx) {
    p11tls_cxx::key other;
    return p11tls_key_open(ctx.get(), rb::kKeyUri, P11TLS_KEY_OPEN_VERIFY_PIN, other.put());
}

struct Signer {
    p11tls_key *key;
    int stop;                         // atomic
    long ok = 0, failed = 0, wrong = 0;  // atomic
};

void *sign_loop(void *arg) {
    auto *s = static_cast<Signer *>(arg);
    while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
        int r = rb::sign_verifies(s->key);
        // A login lost twice within one signature fails that signature;
        // a signature that is returned must verify.
        __atomic_add_fetch(r == 0 ? &s->ok : r == 1 ? &s->failed : &s->wrong, 1, __ATOMIC_RELAXED);
    }
    return nullptr;
}

}  // namespace

TEST(Bindings, ThousandLostLoginsKeepTheKeySmall) {
    REQUIRE_SOFTHSM();
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(softhsm_ctx(ctx), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), rb::kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(rb::sign_verifies(key.get()), 0);
    const CK_OBJECT_HANDLE first = key.get()->binding.load()->handle;
    ASSERT_EQ(p11tls::key_binding_count(key.get()), 1u);
    for (int i = 0; i < 1000; i++) {
        ASSERT_EQ(lose_login(ctx), 0) << i << ": " << p11tls_last_error_detail();
        ASSERT_EQ(rb::sign_verifies(key.get()), 0) << i << ": " << p11tls_last_error_detail();
    }
    EXPECT_NE(key.get()->binding.load()->handle, first) << "the login was never lost: the test proves nothing";
    EXPECT_EQ(p11tls::key_binding_count(key.get()), 1u);
}

// The same while three threads sign with the key (the bindings they read
// without a lock are freed only after they are done with them; run under
// TSan and ASan in CI).
TEST(Bindings, LostLoginsWhileThreadsSign) {
    REQUIRE_SOFTHSM();
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(softhsm_ctx(ctx), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), rb::kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    Signer s{key.get(), 0};
    pthread_t t[3];
    for (auto &th : t) ASSERT_EQ(pthread_create(&th, nullptr, sign_loop, &s), 0);
    for (int i = 0; i < 200; i++) EXPECT_EQ(lose_login(ctx), 0) << i << ": " << p11tls_last_error_detail();
    __atomic_store_n(&s.stop, 1, __ATOMIC_SEQ_CST);
    for (auto &th : t) pthread_join(th, nullptr);  // each ends after its current signature
    EXPECT_EQ(s.wrong, 0);
    EXPECT_GT(s.ok, 0);
    ASSERT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    // Retired bindings are freed by the last operation to leave the key.
    EXPECT_EQ(p11tls::key_binding_count(key.get()), 1u);
}
