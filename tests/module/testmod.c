/* tests/module/testmod.c: a PKCS#11 module for tests that forwards every
 * call to SoftHSM (dlopen of $P11TLS_SOFTHSM_MODULE) and records each call.
 *
 * Environment:
 *   P11TLS_SOFTHSM_MODULE       module to forward to (required)
 *   P11TLS_TESTMOD_COUNT_DIR    if set, every call appends one line
 *                               "<pid> <function>\n" to DIR/calls.log
 *                               (O_APPEND, one write() per line)
 *   P11TLS_TESTMOD_FAIL_INIT=1  C_Initialize returns CKR_GENERAL_ERROR
 *   P11TLS_TESTMOD_FAIL=F:N:RV[:K]  the Nth call of function F in this
 *                               process returns RV (e.g. "C_Sign:3:0x30"),
 *                               and with K the K calls from the Nth on;
 *                               CKR_DEVICE_REMOVED and CKR_TOKEN_NOT_PRESENT
 *                               also close every session (a token pulled
 *                               and put back: the login is gone)
 *   P11TLS_TESTMOD_TOKEN_FLAGS=X  ORed into every C_GetTokenInfo's flags
 *                               (e.g. 0x20000, CKF_USER_PIN_FINAL_TRY)
 *   P11TLS_TESTMOD_RANDOM_FAIL=PERMILLE[:SEED]  every call except
 *                               C_GetFunctionList, C_Initialize and
 *                               C_Finalize returns CKR_GENERAL_ERROR with
 *                               probability PERMILLE/1000, drawn from a
 *                               deterministic generator seeded with SEED
 *                               (default 1): the Nth call of the process
 *                               always gets the same draw (thread-safe; read
 *                               at the first call, kept across fork)
 * These are read at C_Initialize unless said otherwise. Only
 * C_GetFunctionList is exported.
 *
 * Per-copy configuration: a copy of this module loaded from PATH reads the
 * variables above from the file PATH.env ("NAME=VALUE" lines) if it exists,
 * before the environment. A test loads several copies (one library instance
 * each) into one process, configured differently, e.g. one that fails
 * C_Initialize beside one that fails at random and forwards to a copy of
 * SoftHSM (tests/module/badmod_test.cpp).
 */
#define _GNU_SOURCE 1 /* dladdr */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define EXPORT __attribute__((visibility("default")))

/* ---- Per-copy configuration (PATH.env beside this module's file) -------- */

#define TM_MAX_VARS 16
static struct {
    char name[64];
    char value[512];
} tm_vars[TM_MAX_VARS];
static int tm_nvars;
static pthread_once_t tm_vars_once = PTHREAD_ONCE_INIT;

static void tm_read_copy_env(void)
{
    Dl_info info;
    if (!dladdr((void *)tm_read_copy_env, &info) || !info.dli_fname)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s.env", info.dli_fname);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[600];
    while (tm_nvars < TM_MAX_VARS && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#' || (size_t)(eq - line) >= sizeof tm_vars[0].name)
            continue;
        memcpy(tm_vars[tm_nvars].name, line, (size_t)(eq - line));
        tm_vars[tm_nvars].name[eq - line] = 0;
        snprintf(tm_vars[tm_nvars].value, sizeof tm_vars[0].value, "%s", eq + 1);
        tm_nvars++;
    }
    fclose(f);
}

/* getenv, with this copy's PATH.env first. The table is filled once and
 * never changed, so the returned string stays valid. */
static const char *tm_getenv(const char *name)
{
    pthread_once(&tm_vars_once, tm_read_copy_env);
    for (int i = 0; i < tm_nvars; i++)
        if (strcmp(tm_vars[i].name, name) == 0)
            return tm_vars[i].value;
    return (getenv)(name);
}
/* Every variable of this module, including those read by code below that
 * does not know about copies, goes through the per-copy table. */
#define getenv(name) tm_getenv(name)

/* ---- P11TLS_TESTMOD_RANDOM_FAIL ------------------------------------------- */

static unsigned long random_permille;
static unsigned long long random_seed;
static unsigned long long random_calls; /* atomic */
static pthread_once_t random_once = PTHREAD_ONCE_INIT;

static void random_read_rule(void)
{
    const char *r = getenv("P11TLS_TESTMOD_RANDOM_FAIL");
    if (!r || !*r)
        return;
    char *end;
    random_permille = strtoul(r, &end, 10);
    random_seed = *end == ':' ? strtoull(end + 1, NULL, 0) : 1;
}

/* splitmix64 of (seed, call number): the draw depends only on the seed and
 * on how many calls came before, never on a shared generator state. */
static unsigned long long random_draw(unsigned long long n)
{
    unsigned long long z = random_seed + n * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Non-zero if this call of function name must fail with CKR_GENERAL_ERROR. */
static int random_fail(const char *name)
{
    pthread_once(&random_once, random_read_rule);
    if (!random_permille || strcmp(name, "C_Initialize") == 0 ||
        strcmp(name, "C_Finalize") == 0 || strcmp(name, "C_GetFunctionList") == 0)
        return 0;
    unsigned long long n = __atomic_fetch_add(&random_calls, 1, __ATOMIC_RELAXED);
    return random_draw(n) % 1000 < random_permille;
}

static CK_FUNCTION_LIST_PTR real;
static int fail_init;
static char fail_fn[64];
static unsigned long fail_nth;
static CK_RV fail_rv;
static unsigned long fail_count;
static unsigned long fail_times = 1;
static CK_FLAGS extra_token_flags;

static void log_call(const char *name)
{
    const char *dir = getenv("P11TLS_TESTMOD_COUNT_DIR");
    if (!dir || !*dir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/calls.log", dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[128];
    int n = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), name);
    if (n > 0 && write(fd, line, (size_t)n) < 0) {
        /* nothing to do */
    }
    close(fd);
}

static CK_RV load_real(void)
{
    if (real)
        return CKR_OK;
    const char *path = getenv("P11TLS_SOFTHSM_MODULE");
    if (!path || !*path)
        return CKR_GENERAL_ERROR;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return CKR_GENERAL_ERROR;
    CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
    if (!gfl || gfl(&real) != CKR_OK || !real) {
        real = NULL;
        return CKR_GENERAL_ERROR;
    }
    return CKR_OK;
}

/* A token pulled and put back at once: what it leaves behind is what a real
 * removal leaves, every session closed and the login gone. */
static void pull_tokens(void)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64, i;
    if (!real || real->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return;
    for (i = 0; i < n; i++)
        real->C_CloseAllSessions(slots[i]);
}

/* Returns non-zero if this call must fail with fail_rv. Not thread safe in
 * the count, which is fine for the tests (one rule, single thread). */
static int inject(const char *name)
{
    if (!fail_fn[0] || strcmp(fail_fn, name) != 0)
        return 0;
    unsigned long n = __atomic_add_fetch(&fail_count, 1, __ATOMIC_SEQ_CST);
    if (n < fail_nth || n >= fail_nth + fail_times)
        return 0;
    if (fail_rv == CKR_DEVICE_REMOVED || fail_rv == CKR_TOKEN_NOT_PRESENT)
        pull_tokens();
    return 1;
}

static void read_fail_rule(void)
{
    const char *fi = getenv("P11TLS_TESTMOD_FAIL_INIT");
    fail_init = fi && strcmp(fi, "1") == 0;
    fail_fn[0] = 0;
    fail_count = 0;
    fail_times = 1;
    const char *tf = getenv("P11TLS_TESTMOD_TOKEN_FLAGS");
    extra_token_flags = tf ? strtoul(tf, NULL, 0) : 0;
    const char *f = getenv("P11TLS_TESTMOD_FAIL");
    if (!f || !*f)
        return;
    const char *c1 = strchr(f, ':');
    if (!c1 || (size_t)(c1 - f) >= sizeof fail_fn)
        return;
    char *end;
    unsigned long nth = strtoul(c1 + 1, &end, 10);
    if (*end != ':')
        return;
    unsigned long rv = strtoul(end + 1, &end, 0);
    if (*end == ':')
        fail_times = strtoul(end + 1, NULL, 10);
    memcpy(fail_fn, f, (size_t)(c1 - f));
    fail_fn[c1 - f] = 0;
    fail_nth = nth;
    fail_rv = rv;
}

static CK_FUNCTION_LIST testmod_list;

static CK_RV tm_C_Initialize(CK_VOID_PTR args)
{
    log_call("C_Initialize");
    read_fail_rule();
    if (fail_init)
        return CKR_GENERAL_ERROR;
    if (inject("C_Initialize"))
        return fail_rv;
    CK_RV rv = load_real();
    if (rv != CKR_OK)
        return rv;
    return real->C_Initialize(args);
}

static CK_RV tm_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    log_call("C_GetFunctionList");
    if (!list)
        return CKR_ARGUMENTS_BAD;
    *list = &testmod_list;
    return CKR_OK;
}

static CK_RV tm_C_GetInfo(CK_INFO_PTR info)
{
    log_call("C_GetInfo");
    if (random_fail("C_GetInfo"))
        return CKR_GENERAL_ERROR;
    if (inject("C_GetInfo"))
        return fail_rv;
    if (!real)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    CK_RV rv = real->C_GetInfo(info);
    if (rv == CKR_OK && info) {
        static const char desc[] = "p11tls counting test module";
        memset(info->libraryDescription, ' ', sizeof info->libraryDescription);
        memcpy(info->libraryDescription, desc, sizeof desc - 1);
    }
    return rv;
}

static CK_RV tm_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    log_call("C_GetTokenInfo");
    if (random_fail("C_GetTokenInfo"))
        return CKR_GENERAL_ERROR;
    if (inject("C_GetTokenInfo"))
        return fail_rv;
    if (!real)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    CK_RV rv = real->C_GetTokenInfo(slot, info);
    if (rv == CKR_OK && info)
        info->flags |= extra_token_flags;
    return rv;
}

/* One forwarding wrapper per function. */
#define FWD(name, params, args)                        \
    static CK_RV tm_##name params                      \
    {                                                  \
        log_call(#name);                               \
        if (random_fail(#name))                        \
            return CKR_GENERAL_ERROR;                  \
        if (inject(#name))                             \
            return fail_rv;                            \
        if (!real)                                     \
            return CKR_CRYPTOKI_NOT_INITIALIZED;       \
        return real->name args;                        \
    }

typedef CK_SESSION_HANDLE SH;
typedef CK_OBJECT_HANDLE OH;
typedef CK_MECHANISM_PTR MP;
typedef CK_BYTE_PTR BP;
typedef CK_ULONG UL;
typedef CK_ULONG_PTR ULP;
typedef CK_ATTRIBUTE_PTR AP;

FWD(C_Finalize, (CK_VOID_PTR r), (r))
FWD(C_GetSlotList, (CK_BBOOL p, CK_SLOT_ID_PTR l, ULP c), (p, l, c))
FWD(C_GetSlotInfo, (CK_SLOT_ID s, CK_SLOT_INFO_PTR i), (s, i))
FWD(C_GetMechanismList, (CK_SLOT_ID s, CK_MECHANISM_TYPE_PTR l, ULP c), (s, l, c))
FWD(C_GetMechanismInfo, (CK_SLOT_ID s, CK_MECHANISM_TYPE t, CK_MECHANISM_INFO_PTR i), (s, t, i))
FWD(C_InitToken, (CK_SLOT_ID s, CK_UTF8CHAR_PTR p, UL pl, CK_UTF8CHAR_PTR l), (s, p, pl, l))
FWD(C_InitPIN, (SH h, CK_UTF8CHAR_PTR p, UL pl), (h, p, pl))
FWD(C_SetPIN, (SH h, CK_UTF8CHAR_PTR o, UL ol, CK_UTF8CHAR_PTR n, UL nl), (h, o, ol, n, nl))
FWD(C_OpenSession, (CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR a, CK_NOTIFY n, CK_SESSION_HANDLE_PTR h), (s, f, a, n, h))
FWD(C_CloseSession, (SH h), (h))
FWD(C_CloseAllSessions, (CK_SLOT_ID s), (s))
FWD(C_GetSessionInfo, (SH h, CK_SESSION_INFO_PTR i), (h, i))
FWD(C_GetOperationState, (SH h, BP s, ULP sl), (h, s, sl))
FWD(C_SetOperationState, (SH h, BP s, UL sl, OH e, OH a), (h, s, sl, e, a))
FWD(C_Login, (SH h, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, UL pl), (h, u, p, pl))
FWD(C_Logout, (SH h), (h))
FWD(C_CreateObject, (SH h, AP t, UL c, CK_OBJECT_HANDLE_PTR o), (h, t, c, o))
FWD(C_CopyObject, (SH h, OH o, AP t, UL c, CK_OBJECT_HANDLE_PTR n), (h, o, t, c, n))
FWD(C_DestroyObject, (SH h, OH o), (h, o))
FWD(C_GetObjectSize, (SH h, OH o, ULP s), (h, o, s))
FWD(C_GetAttributeValue, (SH h, OH o, AP t, UL c), (h, o, t, c))
FWD(C_SetAttributeValue, (SH h, OH o, AP t, UL c), (h, o, t, c))
FWD(C_FindObjectsInit, (SH h, AP t, UL c), (h, t, c))
FWD(C_FindObjects, (SH h, CK_OBJECT_HANDLE_PTR o, UL m, ULP c), (h, o, m, c))
FWD(C_FindObjectsFinal, (SH h), (h))
FWD(C_EncryptInit, (SH h, MP m, OH k), (h, m, k))
FWD(C_Encrypt, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_EncryptUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_EncryptFinal, (SH h, BP o, ULP ol), (h, o, ol))
FWD(C_DecryptInit, (SH h, MP m, OH k), (h, m, k))
FWD(C_Decrypt, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_DecryptUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_DecryptFinal, (SH h, BP o, ULP ol), (h, o, ol))
FWD(C_DigestInit, (SH h, MP m), (h, m))
FWD(C_Digest, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_DigestUpdate, (SH h, BP d, UL dl), (h, d, dl))
FWD(C_DigestKey, (SH h, OH k), (h, k))
FWD(C_DigestFinal, (SH h, BP o, ULP ol), (h, o, ol))
FWD(C_SignInit, (SH h, MP m, OH k), (h, m, k))
FWD(C_Sign, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_SignUpdate, (SH h, BP d, UL dl), (h, d, dl))
FWD(C_SignFinal, (SH h, BP o, ULP ol), (h, o, ol))
FWD(C_SignRecoverInit, (SH h, MP m, OH k), (h, m, k))
FWD(C_SignRecover, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_VerifyInit, (SH h, MP m, OH k), (h, m, k))
FWD(C_Verify, (SH h, BP d, UL dl, BP s, UL sl), (h, d, dl, s, sl))
FWD(C_VerifyUpdate, (SH h, BP d, UL dl), (h, d, dl))
FWD(C_VerifyFinal, (SH h, BP s, UL sl), (h, s, sl))
FWD(C_VerifyRecoverInit, (SH h, MP m, OH k), (h, m, k))
FWD(C_VerifyRecover, (SH h, BP s, UL sl, BP o, ULP ol), (h, s, sl, o, ol))
FWD(C_DigestEncryptUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_DecryptDigestUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_SignEncryptUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_DecryptVerifyUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_GenerateKey, (SH h, MP m, AP t, UL c, CK_OBJECT_HANDLE_PTR k), (h, m, t, c, k))
FWD(C_GenerateKeyPair, (SH h, MP m, AP pt, UL pc, AP vt, UL vc, CK_OBJECT_HANDLE_PTR pk, CK_OBJECT_HANDLE_PTR vk), (h, m, pt, pc, vt, vc, pk, vk))
FWD(C_WrapKey, (SH h, MP m, OH w, OH k, BP o, ULP ol), (h, m, w, k, o, ol))
FWD(C_UnwrapKey, (SH h, MP m, OH u, BP w, UL wl, AP t, UL c, CK_OBJECT_HANDLE_PTR k), (h, m, u, w, wl, t, c, k))
FWD(C_DeriveKey, (SH h, MP m, OH b, AP t, UL c, CK_OBJECT_HANDLE_PTR k), (h, m, b, t, c, k))
FWD(C_SeedRandom, (SH h, BP s, UL sl), (h, s, sl))
FWD(C_GenerateRandom, (SH h, BP o, UL ol), (h, o, ol))
FWD(C_GetFunctionStatus, (SH h), (h))
FWD(C_CancelFunction, (SH h), (h))
FWD(C_WaitForSlotEvent, (CK_FLAGS f, CK_SLOT_ID_PTR s, CK_VOID_PTR r), (f, s, r))

#define E(name) tm_##name
static CK_FUNCTION_LIST testmod_list = {
    {2, 40},
    E(C_Initialize), E(C_Finalize), E(C_GetInfo), E(C_GetFunctionList),
    E(C_GetSlotList), E(C_GetSlotInfo), E(C_GetTokenInfo),
    E(C_GetMechanismList), E(C_GetMechanismInfo), E(C_InitToken),
    E(C_InitPIN), E(C_SetPIN), E(C_OpenSession), E(C_CloseSession),
    E(C_CloseAllSessions), E(C_GetSessionInfo), E(C_GetOperationState),
    E(C_SetOperationState), E(C_Login), E(C_Logout), E(C_CreateObject),
    E(C_CopyObject), E(C_DestroyObject), E(C_GetObjectSize),
    E(C_GetAttributeValue), E(C_SetAttributeValue), E(C_FindObjectsInit),
    E(C_FindObjects), E(C_FindObjectsFinal), E(C_EncryptInit), E(C_Encrypt),
    E(C_EncryptUpdate), E(C_EncryptFinal), E(C_DecryptInit), E(C_Decrypt),
    E(C_DecryptUpdate), E(C_DecryptFinal), E(C_DigestInit), E(C_Digest),
    E(C_DigestUpdate), E(C_DigestKey), E(C_DigestFinal), E(C_SignInit),
    E(C_Sign), E(C_SignUpdate), E(C_SignFinal), E(C_SignRecoverInit),
    E(C_SignRecover), E(C_VerifyInit), E(C_Verify), E(C_VerifyUpdate),
    E(C_VerifyFinal), E(C_VerifyRecoverInit), E(C_VerifyRecover),
    E(C_DigestEncryptUpdate), E(C_DecryptDigestUpdate),
    E(C_SignEncryptUpdate), E(C_DecryptVerifyUpdate), E(C_GenerateKey),
    E(C_GenerateKeyPair), E(C_WrapKey), E(C_UnwrapKey), E(C_DeriveKey),
    E(C_SeedRandom), E(C_GenerateRandom), E(C_GetFunctionStatus),
    E(C_CancelFunction), E(C_WaitForSlotEvent),
};

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    return tm_C_GetFunctionList(list);
}
