// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Another caller in the process uses the module p11tls uses, directly: it
// dlopens the library, calls C_Initialize and C_Finalize on it itself (as
// libp11, pam_p11 and OpenSSL engines do). p11tls must carry on (issue 31):
// a module finalized under it is initialized again and its keys found
// again, proven the same key; a module another caller initialized first is
// used as it is; p11tls never finalizes it. Each case runs in a fresh
// re-executed process (module state is per process); every wait is
// bounded.
#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <gnutls/pkcs11.h>
#include <p11-kit/pkcs11.h>

#include "../robust/robust.hpp"

namespace {

using namespace tmh;

// The other caller: the module's own function list, as dlopen gives it.
struct RawCaller {
    void *lib = nullptr;
    CK_FUNCTION_LIST *fl = nullptr;

    explicit RawCaller(const std::string &path) {
        lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!lib) return;
        auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib, "C_GetFunctionList"));
        if (!get || get(&fl) != CKR_OK) fl = nullptr;
    }
    ~RawCaller() {
        if (lib) dlclose(lib);  // the module stays loaded: p11-kit holds it too
    }
    CK_RV initialize() const {
        CK_C_INITIALIZE_ARGS args = {};
        args.flags = CKF_OS_LOCKING_OK;
        return fl->C_Initialize(&args);
    }
    CK_RV finalize() const { return fl->C_Finalize(nullptr); }
    // What libp11 does to load and unload: initialize (accepting that
    // someone was first), finalize.
    bool load_unload() const {
        CK_RV rv = initialize();
        if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) return false;
        return finalize() == CKR_OK;
    }
};

std::string softhsm_path() { return th::env("P11TLS_SOFTHSM_MODULE"); }

// The p256 key through p11-kit's registration of SoftHSM (the default
// context), PIN in the URI.
constexpr char kKey[] = "pkcs11:token=p11tls-test;object=p256;type=private;pin-value=1234";

const char kChildVar[] = "P11TLS_COEXIST_CHILD";

#define IN_CHILD() \
    do { if (!in_child(kChildVar)) GTEST_SKIP() << "runs only in a re-executed child"; } while (0)

void run(const char *name) {
    REQUIRE_SOFTHSM();
    int st = run_exec_child(std::string("CoexistChild.") + name, kChildVar, {});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}

}  // namespace

// After p11tls's first use: the other caller's C_Initialize says
// CKR_CRYPTOKI_ALREADY_INITIALIZED, its C_Finalize finalizes the module
// under p11tls. The key held signs on, a new open works, and again after a
// second round.
TEST(CoexistChild, RawCallerAfterFirstUse) {
    IN_CHILD();
    RawCaller raw(softhsm_path());
    ASSERT_NE(raw.fl, nullptr) << dlerror();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, kKey, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    for (int round = 0; round < 2; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        EXPECT_EQ(raw.initialize(), (CK_RV)CKR_CRYPTOKI_ALREADY_INITIALIZED);
        ASSERT_EQ(raw.finalize(), (CK_RV)CKR_OK);
        EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
        p11tls_cxx::key again;
        EXPECT_EQ(p11tls_key_open(nullptr, kKey, 0, again.put()), 0) << p11tls_last_error_detail();
        EXPECT_EQ(rb::sign_verifies(again.get()), 0) << p11tls_last_error_detail();
    }
}

// Before p11tls's first use: a caller that initialized and finalized the
// module leaves nothing behind; one that initialized it and keeps it has it
// used as it is (p11tls's initialization through p11-kit is answered
// CKR_CRYPTOKI_ALREADY_INITIALIZED), and when it finalizes, p11tls carries on.
TEST(CoexistChild, RawCallerBeforeFirstUse) {
    IN_CHILD();
    RawCaller raw(softhsm_path());
    ASSERT_NE(raw.fl, nullptr) << dlerror();
    ASSERT_TRUE(raw.load_unload());
    ASSERT_EQ(raw.initialize(), (CK_RV)CKR_OK);
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, kKey, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    CK_ULONG n = 0;
    EXPECT_EQ(raw.fl->C_GetSlotList(CK_TRUE, nullptr, &n), (CK_RV)CKR_OK) << "p11tls disturbed the other caller";
    ASSERT_EQ(raw.finalize(), (CK_RV)CKR_OK);
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    // p11tls initialized it again; the other caller, back, finds it so.
    EXPECT_EQ(raw.initialize(), (CK_RV)CKR_CRYPTOKI_ALREADY_INITIALIZED);
    EXPECT_EQ(raw.fl->C_GetSlotList(CK_TRUE, nullptr, &n), (CK_RV)CKR_OK);
}

// A listing that is the first call after the other caller's finalize (as
// pam_p11tls's certificate listing is, in a login daemon's next
// authentication) reports the token's objects, not "no token": listings are
// not started over (their callbacks may have run), so the module's next
// epoch is looked at at once.
namespace {
int count_object(void *arg, const p11tls_object_info *) {
    ++*static_cast<int *>(arg);
    return 1;
}
}  // namespace

TEST(CoexistChild, ListingAfterFinalize) {
    IN_CHILD();
    RawCaller raw(softhsm_path());
    ASSERT_NE(raw.fl, nullptr) << dlerror();
    const char *uri = "pkcs11:token=p11tls-test;object=p256;type=cert";
    int before = 0, after = 0;
    ASSERT_EQ(p11tls_list_objects(nullptr, uri, 0, count_object, &before), 1) << p11tls_last_error_detail();
    ASSERT_TRUE(raw.load_unload());
    EXPECT_EQ(p11tls_list_objects(nullptr, uri, 0, count_object, &after), 1) << p11tls_last_error_detail();
    EXPECT_EQ(after, before);
}

// A login redone after the other caller's finalize uses the PIN sources the
// key has: here the context's PIN function, asked once more.
namespace {
std::atomic<int> g_pin_calls{0};
int pin_fn(void *, const char *, const char *, unsigned, char *pin, size_t size) {
    ++g_pin_calls;
    snprintf(pin, size, "%s", th::test_pin().c_str());
    return 0;
}
}  // namespace

TEST(CoexistChild, LoginRedoneFromPinFunction) {
    IN_CHILD();
    RawCaller raw(softhsm_path());
    ASSERT_NE(raw.fl, nullptr) << dlerror();
    p11tls_cxx::context ctx;
    ASSERT_EQ(p11tls_ctx_set_pin_fn(ctx.get(), pin_fn, nullptr), 0);
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), rb::kNoPinUri, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(g_pin_calls.load(), 1);
    ASSERT_TRUE(raw.load_unload());
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(g_pin_calls.load(), 2) << "one login redone, with the PIN function";
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    EXPECT_EQ(g_pin_calls.load(), 2);
}

// A PIN the token refused is not sent again by a login redone after the
// module was finalized: the key's pin-value became wrong meanwhile (another
// caller changed the PIN), its first re-login spends one try, the next
// signatures none. Through the test module, which counts C_Login (SoftHSM
// counts wrong PINs in its flags, but has no lockout to tell one from four).
TEST(CoexistChild, RefusedPinNotSentAgain) {
    IN_CHILD();
    const std::string mod = testmod_path();
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, mod), 0) << p11tls_last_error_detail();
    RawCaller raw(mod);
    ASSERT_NE(raw.fl, nullptr) << dlerror();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), rb::kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(rb::sign_verifies(key.get()), 0);
    // The other caller changes the PIN (1234 -> 5678), then finalizes.
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    CK_SESSION_HANDLE s;
    ASSERT_EQ(raw.initialize(), (CK_RV)CKR_CRYPTOKI_ALREADY_INITIALIZED);
    ASSERT_EQ(raw.fl->C_GetSlotList(CK_TRUE, slots, &n), (CK_RV)CKR_OK);
    ASSERT_GE(n, 1u);
    ASSERT_EQ(raw.fl->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s),
              (CK_RV)CKR_OK);
    CK_RV rv = raw.fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)"1234", 4);
    ASSERT_TRUE(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
    ASSERT_EQ(raw.fl->C_SetPIN(s, (CK_UTF8CHAR *)"1234", 4, (CK_UTF8CHAR *)"5678", 4), (CK_RV)CKR_OK);
    ASSERT_EQ(raw.finalize(), (CK_RV)CKR_OK);
    // The suite's other cases share the token: its PIN is put back, however
    // this one ends.
    struct PinBack {
        RawCaller &raw;
        CK_SLOT_ID slot;
        ~PinBack() {
            CK_SESSION_HANDLE h;
            raw.initialize();
            if (raw.fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h) != CKR_OK)
                return;
            raw.fl->C_Login(h, CKU_USER, (CK_UTF8CHAR *)"5678", 4);
            EXPECT_EQ(raw.fl->C_SetPIN(h, (CK_UTF8CHAR *)"5678", 4, (CK_UTF8CHAR *)"1234", 4), (CK_RV)CKR_OK);
            raw.fl->C_Logout(h);
            raw.fl->C_CloseSession(h);
        }
    } pin_back{raw, slots[0]};
    const size_t from = read_log().size();
    for (int i = 0; i < 4; ++i) {
        int rc = 0;
        EXPECT_EQ(rb::sign_verifies(key.get(), "x", &rc), 1);
        EXPECT_EQ(rc, P11TLS_E_PIN_INCORRECT) << p11tls_last_error_detail();
    }
    EXPECT_EQ(count_calls(read_log(), getpid(), "C_Login", from), 1u)
        << "the login redone sends the key's PIN once; the refused PIN is not sent again";
}

// Threads sign without pause while the other caller initializes and
// finalizes the module ten times. The module here is the test module over
// SoftHSM with C_Finalize serialized against other calls: PKCS#11 leaves a
// C_Finalize during other threads' calls undefined, and SoftHSM frees its
// state under them. No thread crashes or gets a signature that does not
// verify, every thread signs again afterwards, and p11tls itself never
// calls C_Finalize.
namespace {
struct Signer {
    p11tls_key *key;
    std::atomic<bool> *stop;
    std::atomic<long> ok{0}, failed{0}, wrong{0};
};

void *sign_loop(void *arg) {
    auto *s = static_cast<Signer *>(arg);
    while (!s->stop->load()) {
        int r = rb::sign_verifies(s->key, "while finalized");
        if (r == 0) ++s->ok;
        else if (r == 1) ++s->failed;
        else ++s->wrong;
    }
    return nullptr;
}
}  // namespace

TEST(CoexistChild, RawCallerWhileThreadsSign) {
    IN_CHILD();
    const std::string mod = testmod_path();
    p11tls_cxx::context ctx{nullptr};
    ASSERT_EQ(make_ctx(ctx, mod), 0) << p11tls_last_error_detail();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(ctx.get(), rb::kKeyUri, 0, key.put()), 0) << p11tls_last_error_detail();
    RawCaller raw(mod);
    ASSERT_NE(raw.fl, nullptr) << dlerror();
    constexpr int kThreads = 4, kRounds = 10;
    std::atomic<bool> stop{false};
    Signer signers[kThreads];
    pthread_t t[kThreads];
    for (int i = 0; i < kThreads; ++i) {
        signers[i].key = key.get();
        signers[i].stop = &stop;
        ASSERT_EQ(pthread_create(&t[i], nullptr, sign_loop, &signers[i]), 0);
    }
    const size_t log_from = read_log().size();
    auto pause = [] {
        struct timespec ts = {0, 30 * 1000 * 1000};
        nanosleep(&ts, nullptr);
    };
    int finalized = 0;
    for (int i = 0; i < kRounds; ++i) {
        pause();
        CK_RV rv = raw.initialize();
        EXPECT_TRUE(rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) << rv;
        pause();
        if (raw.finalize() == CKR_OK) ++finalized;
    }
    long before[kThreads];
    for (int i = 0; i < kThreads; ++i) before[i] = signers[i].ok.load();
    bool resumed = wait_for([&] {
        for (int i = 0; i < kThreads; ++i)
            if (signers[i].ok.load() <= before[i]) return false;
        return true;
    });
    stop = true;
    for (pthread_t &x : t) pthread_join(x, nullptr);
    EXPECT_TRUE(resumed) << "a thread did not sign again after the other caller stopped";
    long ok = 0, failed = 0;
    for (Signer &s : signers) {
        EXPECT_EQ(s.wrong.load(), 0) << "a signature that does not verify";
        ok += s.ok;
        failed += s.failed;
    }
    printf("# %d finalizes under %d signing threads: %ld signatures, %ld failed calls\n", finalized, kThreads,
           ok, failed);
    EXPECT_EQ(finalized, kRounds);
    // Every C_Finalize the module saw was the other caller's.
    auto log = read_log();
    size_t fin = 0;
    for (size_t i = log_from; i < log.size(); ++i) fin += log[i].fn == "C_Finalize";
    EXPECT_EQ(fin, (size_t)finalized);
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
}

// GnuTLS's own PKCS#11 in the same process, on the same module through
// p11-kit: its init, deinit and init again do not disturb p11tls, nor does
// a finalize by a raw caller while GnuTLS holds the module (p11-kit counts
// GnuTLS's initialization and p11tls's; only a call on the module itself
// brings it back), after which GnuTLS's deinit leaves p11tls working.
TEST(CoexistChild, GnutlsPkcs11Beside) {
    IN_CHILD();
    p11tls_cxx::key key;
    ASSERT_EQ(p11tls_key_open(nullptr, kKey, 0, key.put()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_AUTO, nullptr), 0);
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    gnutls_pkcs11_deinit();
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    ASSERT_EQ(gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_AUTO, nullptr), 0);
    // GnuTLS signs with its own PKCS#11 too.
    auto gnutls_signs = [] {
        gnutls_privkey_t pk;
        gnutls_datum_t sig = {nullptr, 0};
        const gnutls_datum_t data = {(unsigned char *)"gnutls", 6};
        if (gnutls_privkey_init(&pk) < 0) return false;
        bool ok = gnutls_privkey_import_url(pk, kKey, 0) >= 0 &&
                  gnutls_privkey_sign_data2(pk, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &sig) >= 0 &&
                  th::verify_data("p256", GNUTLS_SIGN_ECDSA_SHA256, data.data, data.size, sig.data, sig.size) >= 0;
        gnutls_free(sig.data);
        gnutls_privkey_deinit(pk);
        return ok;
    };
    EXPECT_TRUE(gnutls_signs());
    RawCaller raw(softhsm_path());
    ASSERT_NE(raw.fl, nullptr) << dlerror();
    ASSERT_TRUE(raw.load_unload());
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
    EXPECT_TRUE(gnutls_signs()) << "the module p11tls initialized again serves GnuTLS too";
    gnutls_pkcs11_deinit();
    EXPECT_EQ(rb::sign_verifies(key.get()), 0) << p11tls_last_error_detail();
}

TEST(Coexist, RawCallerAfterFirstUse) { run("RawCallerAfterFirstUse"); }
TEST(Coexist, RawCallerBeforeFirstUse) { run("RawCallerBeforeFirstUse"); }
TEST(Coexist, LoginRedoneFromPinFunction) { run("LoginRedoneFromPinFunction"); }
TEST(Coexist, RefusedPinNotSentAgain) { run("RefusedPinNotSentAgain"); }
TEST(Coexist, ListingAfterFinalize) { run("ListingAfterFinalize"); }
TEST(Coexist, RawCallerWhileThreadsSign) {
    REQUIRE_SOFTHSM();
    // Under TSan, SoftHSM's own race after being finalized under signing
    // threads is suppressed for this child only (the file says why).
    const char *srcdir = getenv("srcdir");
    const std::string supp = std::string(srcdir && *srcdir ? srcdir : ".") + "/tests/coexist/tsan-finalize.supp";
    int st = run_exec_child("CoexistChild.RawCallerWhileThreadsSign", kChildVar,
                            {{"P11TLS_TESTMOD_SERIAL_FINALIZE", "1"}, {"TSAN_OPTIONS", "suppressions=" + supp}});
    EXPECT_TRUE(exited_ok(st)) << describe(st);
}
TEST(Coexist, GnutlsPkcs11Beside) { run("GnutlsPkcs11Beside"); }
