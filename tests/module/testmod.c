/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* tests/module/testmod.c: a PKCS#11 module for tests that forwards every
 * call to SoftHSM (dlopen of $P11TLS_SOFTHSM_MODULE) and records each call.
 *
 * Environment:
 *   P11TLS_SOFTHSM_MODULE       module to forward to (required)
 *   P11TLS_TESTMOD_COUNT_DIR    if set, every call appends one line
 *                               "<pid> <function>\n" to DIR/calls.log
 *                               (O_APPEND, one write() per line), on entry
 *                               (before any delay or injected failure)
 *   P11TLS_TESTMOD_FAIL_INIT=1  C_Initialize returns CKR_GENERAL_ERROR
 *   P11TLS_TESTMOD_INIT_STDERR=TEXT  C_Initialize writes TEXT and a newline
 *                               to standard error, as modules that cannot
 *                               reach their device do (tpm2-pkcs11 without
 *                               a TPM): a noisy module registered on a host
 *   P11TLS_TESTMOD_FAIL=F:N:RV[:K]  the Nth call of function F in this
 *                               process returns RV (e.g. "C_Sign:3:0x30"),
 *                               and with K the K calls from the Nth on;
 *                               up to four such rules, comma-separated, for
 *                               different functions (each counts its own);
 *                               CKR_DEVICE_REMOVED and CKR_TOKEN_NOT_PRESENT
 *                               also close every session (a token pulled
 *                               and put back: the login is gone)
 *   P11TLS_TESTMOD_FIND_CHUNK=N  C_FindObjects returns at most N handles
 *                               per call, as PKCS#11 allows (the caller must
 *                               call again until it gets none)
 *   P11TLS_TESTMOD_FIND_ENDLESS=1  C_FindObjects never ends a search: once
 *                               the real results are out it returns the
 *                               last one again, one per call, forever
 *   P11TLS_TESTMOD_HIDE_PUBLIC=1  private key objects do not show their
 *                               public half: C_GetAttributeValue answers
 *                               CKA_MODULUS, CKA_PUBLIC_EXPONENT,
 *                               CKA_EC_POINT and CKA_PUBLIC_KEY_INFO of a
 *                               CKO_PRIVATE_KEY as CKR_ATTRIBUTE_TYPE_INVALID
 *                               (what a token that keeps them on the public
 *                               key object alone does; SoftHSM shows an RSA
 *                               key's modulus)
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
 *   P11TLS_TESTMOD_SHUFFLE_HANDLES=1  object handles are shown to the
 *                               caller through a mapping that changes at
 *                               every C_Initialize: a handle number from
 *                               before a re-initialization (in a forked
 *                               child) names a *different* existing object
 *                               of the same class, deterministically (see
 *                               "Shuffled object handles" below)
 *   P11TLS_TESTMOD_SLOW=F:MS[:FILE]  every call of function F sleeps MS
 *                               milliseconds before it is forwarded; with
 *                               FILE, the sleep ends early once FILE exists
 *                               (so a test can hold a call in flight for as
 *                               long as it needs, and no longer)
 *   P11TLS_TESTMOD_SLOW_AFTER=F:MS[:FILE]  the same, after the call was
 *                               forwarded (its effect is on the token while
 *                               the caller still waits for it); not for the
 *                               functions with wrappers of their own
 *   P11TLS_TESTMOD_FORK_IN_INIT=exec|exit  C_Initialize forks a helper
 *                               that execs /bin/true (or _exit(0)s) and
 *                               waits for it (at most 30 s), as modules that
 *                               start helper daemons do; one line "<pid>
 *                               <helper pid> <wait status> <ms from fork to
 *                               reaped>\n" goes to
 *                               $P11TLS_TESTMOD_COUNT_DIR/init-forks.log. A
 *                               helper that does not exit 0 fails
 *                               C_Initialize (CKR_GENERAL_ERROR)
 *   P11TLS_TESTMOD_HOTPLUG=FILE  the token is plugged in while FILE exists,
 *                               as a USB token (reader and card in one) is:
 *                               see "A token that comes and goes" below
 *   P11TLS_TESTMOD_NO_SLOT_EVENTS=1  with HOTPLUG, C_WaitForSlotEvent
 *                               returns CKR_FUNCTION_NOT_SUPPORTED
 *   P11TLS_TESTMOD_REFUSE_OS_LOCKING=RV  C_Initialize with CKF_OS_LOCKING_OK
 *                               or mutex functions returns RV (0xa
 *                               CKR_CANT_LOCK, 0x9 CKR_NEED_TO_CREATE_THREADS),
 *                               as a middleware that cannot lock; without
 *                               them it is initialized as a module that takes
 *                               no locks, and checks the caller's promise:
 *                               see "No locks" below
 *   P11TLS_TESTMOD_SERIAL_FINALIZE=1  C_Finalize waits until no other
 *                               call is inside the module, and calls wait
 *                               while a C_Finalize runs (a readers-writer
 *                               lock, writers first; C_WaitForSlotEvent
 *                               stays out of it, as PKCS#11 allows).
 *                               PKCS#11 leaves C_Finalize undefined while
 *                               other threads call the module, and SoftHSM
 *                               frees its state under them: this makes the
 *                               module careful, so that a test can finalize
 *                               it under signing threads and test only the
 *                               caller's side (tests/coexist/). Read from
 *                               the environment at the first call
 * These are read at C_Initialize unless said otherwise (in every process
 * that calls it: a forked child that initializes again reads them again).
 * Only C_GetFunctionList is exported.
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
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "../support/wait.h"

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
/* P11TLS_TESTMOD_FAIL: up to four rules, one per function. */
#define FAIL_RULES 4
static struct fail_rule {
    char fn[64];
    unsigned long nth, count, times;
    CK_RV rv;
} fail_rules[FAIL_RULES];
static CK_RV fail_rv; /* the rule inject() last applied */
static CK_FLAGS extra_token_flags;
static unsigned long find_chunk;
static int find_endless;
static int hide_public;             /* P11TLS_TESTMOD_HIDE_PUBLIC */
static CK_OBJECT_HANDLE find_last; /* for find_endless; one search at a time */

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

/* Returns non-zero if this call must fail with fail_rv (which it sets).
 * Not thread safe in fail_rv, which is fine for the tests (single thread). */
static int inject(const char *name)
{
    for (int i = 0; i < FAIL_RULES && fail_rules[i].fn[0]; i++) {
        struct fail_rule *r = &fail_rules[i];
        if (strcmp(r->fn, name) != 0)
            continue;
        unsigned long n = __atomic_add_fetch(&r->count, 1, __ATOMIC_SEQ_CST);
        if (n < r->nth || n >= r->nth + r->times)
            return 0;
        fail_rv = r->rv;
        if (fail_rv == CKR_DEVICE_REMOVED || fail_rv == CKR_TOKEN_NOT_PRESENT)
            pull_tokens();
        return 1;
    }
    return 0;
}

/* One rule "F:N:RV[:K]" of P11TLS_TESTMOD_FAIL, up to its end or a comma,
 * into r; returns where the next one starts, or NULL. */
static const char *read_one_rule(const char *f, struct fail_rule *r)
{
    const char *c1 = strchr(f, ':');
    if (!c1 || (size_t)(c1 - f) >= sizeof r->fn)
        return NULL;
    char *end;
    unsigned long nth = strtoul(c1 + 1, &end, 10);
    if (*end != ':')
        return NULL;
    unsigned long rv = strtoul(end + 1, &end, 0);
    r->times = *end == ':' ? strtoul(end + 1, &end, 10) : 1;
    memcpy(r->fn, f, (size_t)(c1 - f));
    r->fn[c1 - f] = 0;
    r->nth = nth;
    r->rv = rv;
    r->count = 0;
    return *end == ',' ? end + 1 : NULL;
}

static void read_fail_rule(void)
{
    const char *fi = getenv("P11TLS_TESTMOD_FAIL_INIT");
    fail_init = fi && strcmp(fi, "1") == 0;
    memset(fail_rules, 0, sizeof fail_rules);
    const char *tf = getenv("P11TLS_TESTMOD_TOKEN_FLAGS");
    extra_token_flags = tf ? strtoul(tf, NULL, 0) : 0;
    const char *fc = getenv("P11TLS_TESTMOD_FIND_CHUNK");
    find_chunk = fc ? strtoul(fc, NULL, 10) : 0;
    const char *fe = getenv("P11TLS_TESTMOD_FIND_ENDLESS");
    find_endless = fe && strcmp(fe, "1") == 0;
    const char *hp = getenv("P11TLS_TESTMOD_HIDE_PUBLIC");
    hide_public = hp && strcmp(hp, "1") == 0;
    const char *f = getenv("P11TLS_TESTMOD_FAIL");
    for (int i = 0; f && *f && i < FAIL_RULES; i++)
        f = read_one_rule(f, &fail_rules[i]);
}


/* ---- Slow calls (P11TLS_TESTMOD_SLOW) ------------------------------------
 * A module that takes its time: a smart card needs hundreds of ms for an RSA
 * signature, a network HSM may need seconds. The sleep holds no lock of ours
 * or of SoftHSM's, like a module waiting for its device: what is tested is
 * the caller (the fork gate's bounded wait), not a module's own locks. */
struct slow_rule {
    char fn[64];
    long ms;
    char release[4096];
};
static struct slow_rule slow_before, slow_after;

static void read_one_slow_rule(const char *var, struct slow_rule *r)
{
    r->fn[0] = 0;
    r->ms = 0;
    r->release[0] = 0;
    const char *f = getenv(var);
    if (!f || !*f)
        return;
    const char *c1 = strchr(f, ':');
    if (!c1 || (size_t)(c1 - f) >= sizeof r->fn)
        return;
    char *end;
    long ms = strtol(c1 + 1, &end, 10);
    if (ms <= 0 || (*end && *end != ':'))
        return;
    if (*end == ':')
        snprintf(r->release, sizeof r->release, "%s", end + 1);
    memcpy(r->fn, f, (size_t)(c1 - f));
    r->fn[c1 - f] = 0;
    r->ms = ms;
}

static void read_slow_rule(void)
{
    read_one_slow_rule("P11TLS_TESTMOD_SLOW", &slow_before);
    read_one_slow_rule("P11TLS_TESTMOD_SLOW_AFTER", &slow_after);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void slow_rule_apply(const struct slow_rule *r, const char *name)
{
    if (!r->fn[0] || strcmp(r->fn, name) != 0)
        return;
    const long long deadline = now_ms() + r->ms;
    for (;;) {
        if (r->release[0] && access(r->release, F_OK) == 0)
            return;
        long long left = deadline - now_ms();
        if (left <= 0)
            return;
        /* Without a release file, one sleep; with one, look every 5 ms. */
        long step = r->release[0] && left > 5 ? 5 : (long)left;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void slow_call(const char *name) { slow_rule_apply(&slow_before, name); }

/* After the call was forwarded (P11TLS_TESTMOD_SLOW_AFTER): its effect is
 * on the token while the caller waits, as for a slow reply. */
static void slow_after_call(const char *name) { slow_rule_apply(&slow_after, name); }

/* ---- fork() inside C_Initialize (P11TLS_TESTMOD_FORK_IN_INIT) -----------
 * Some modules start a helper (a daemon, a card reader service) when they
 * are initialized: the caller's atfork handlers then run inside its own call
 * to C_Initialize, and the helper must not make PKCS#11 calls of its own. */
static int fork_in_init; /* 0 off, 1 exec /bin/true, 2 _exit(0) */

static void read_fork_rule(void)
{
    const char *f = getenv("P11TLS_TESTMOD_FORK_IN_INIT");
    fork_in_init = !f ? 0 : strcmp(f, "exec") == 0 ? 1 : strcmp(f, "exit") == 0 ? 2 : 0;
}

static void log_init_fork(pid_t helper, int status, long long ms)
{
    const char *dir = getenv("P11TLS_TESTMOD_COUNT_DIR");
    if (!dir || !*dir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/init-forks.log", dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[128];
    int n = snprintf(line, sizeof line, "%ld %ld %d %lld\n", (long)getpid(), (long)helper, status, ms);
    if (n > 0 && write(fd, line, (size_t)n) < 0) {
        /* nothing to do */
    }
    close(fd);
}

/* Forks the helper and waits for it (at most 30 s, then SIGKILL). */
static CK_RV run_init_helper(void)
{
    if (!fork_in_init)
        return CKR_OK;
    const long long start = now_ms();
    pid_t pid = fork();
    if (pid < 0)
        return CKR_GENERAL_ERROR;
    if (pid == 0) {
        if (fork_in_init == 1)
            execl("/bin/true", "true", (char *)NULL);
        _exit(fork_in_init == 1 ? 127 : 0);
    }
    int status = test_wait_bounded(pid, 30000);
    if (status < 0)
        status = -1; /* killed on timeout, or waitpid failed */
    log_init_fork(pid, status, now_ms() - start);
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? CKR_OK : CKR_GENERAL_ERROR;
}

/* ---- Shuffled object handles (P11TLS_TESTMOD_SHUFFLE_HANDLES) -----------
 * A handle is valid for one initialization only. A module initialized again
 * (in a forked child) may hand out the same numbers for other objects, as
 * SoftHSM with reset_on_fork = true does by accident of discovery order;
 * here it happens every time, by design. The caller is shown
 *     SHUF_BASE | CKA_CLASS << 8 | swap(CKA_ID)
 * for an object whose class fits in a byte and whose CKA_ID is one byte.
 * swap exchanges the IDs 1<->2, 3<->4, ..., 253<->254 in odd-numbered
 * initializations of this process's lineage (a forked child inherits the
 * count) and is the identity in even ones. On the test token (rsa2048 01,
 * rsa3072 02, p256 03, p384 04, ed25519 05, p521 06) the number that named
 * rsa2048's private key before a re-initialization names rsa3072's after
 * it, and so on, whatever SoftHSM's own handles are.
 * A number that this initialization has not shown yet is resolved by
 * searching the token, on the caller's session, for the class and ID it
 * encodes now: a stale number reaches the other object whenever that object
 * is visible. Any other object is shown as SHUF_RAW | its SoftHSM handle
 * (SoftHSM's handles are small counters). */
#define SHUF_BASE 0x5A0000UL
#define SHUF_RAW 0x40000000UL
#define SHUF_TABLE 1024

static int shuffle;
static unsigned long shuffle_epoch;
static struct {
    CK_OBJECT_HANDLE real, shown;
} shuf_map[SHUF_TABLE];
static size_t shuf_n;
static pthread_mutex_t shuf_mu = PTHREAD_MUTEX_INITIALIZER;

/* At every C_Initialize: a new mapping. */
static void shuffle_reset(void)
{
    const char *e = getenv("P11TLS_TESTMOD_SHUFFLE_HANDLES");
    shuffle = e && strcmp(e, "1") == 0;
    shuffle_epoch++;
    shuf_n = 0;
    /* In a child, a thread that no longer exists may have held it. */
    pthread_mutex_init(&shuf_mu, NULL);
}

static unsigned swap_id(unsigned id)
{
    if ((shuffle_epoch & 1) && id >= 1 && id <= 254)
        return ((id - 1) ^ 1) + 1;
    return id;
}

static void shuf_record(CK_OBJECT_HANDLE real_h, CK_OBJECT_HANDLE shown)
{
    if (shuf_n < SHUF_TABLE) {
        shuf_map[shuf_n].real = real_h;
        shuf_map[shuf_n].shown = shown;
        shuf_n++;
    }
}

/* SoftHSM's handle -> the number the caller sees. */
static CK_OBJECT_HANDLE shown_handle(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE real_h)
{
    if (!shuffle || real_h == CK_INVALID_HANDLE)
        return real_h;
    pthread_mutex_lock(&shuf_mu);
    CK_OBJECT_HANDLE shown = SHUF_RAW | real_h;
    size_t i;
    for (i = 0; i < shuf_n; i++)
        if (shuf_map[i].real == real_h) {
            shown = shuf_map[i].shown;
            goto out;
        }
    CK_OBJECT_CLASS cls = 0;
    unsigned char id[64];
    CK_ATTRIBUTE a[2] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, id, sizeof id}};
    if (shuf_n < SHUF_TABLE && real->C_GetAttributeValue(s, real_h, a, 2) == CKR_OK && cls <= 0xff &&
        a[1].ulValueLen == 1) {
        CK_OBJECT_HANDLE c = SHUF_BASE | cls << 8 | swap_id(id[0]);
        for (i = 0; i < shuf_n; i++)
            if (shuf_map[i].shown == c)
                goto out; /* two objects with one class and ID: raw */
        shuf_record(real_h, c);
        shown = c;
    }
out:
    pthread_mutex_unlock(&shuf_mu);
    return shown;
}

/* The number the caller gave -> SoftHSM's handle (CK_INVALID_HANDLE if it
 * names nothing now). */
static CK_OBJECT_HANDLE real_handle(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE shown)
{
    if (!shuffle || shown == CK_INVALID_HANDLE)
        return shown;
    if (shown & SHUF_RAW)
        return shown & ~SHUF_RAW;
    if ((shown & ~0xFFFFUL) != SHUF_BASE)
        return CK_INVALID_HANDLE;
    pthread_mutex_lock(&shuf_mu);
    CK_OBJECT_HANDLE found = CK_INVALID_HANDLE;
    size_t i;
    for (i = 0; i < shuf_n; i++)
        if (shuf_map[i].shown == shown) {
            found = shuf_map[i].real;
            goto out;
        }
    CK_OBJECT_CLASS cls = (shown >> 8) & 0xff;
    unsigned char id = (unsigned char)swap_id(shown & 0xff);
    CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, &id, 1}};
    CK_ULONG n = 0;
    if (real->C_FindObjectsInit(s, t, 2) == CKR_OK) {
        if (real->C_FindObjects(s, &found, 1, &n) != CKR_OK || n != 1)
            found = CK_INVALID_HANDLE;
        real->C_FindObjectsFinal(s);
    }
    if (found != CK_INVALID_HANDLE)
        shuf_record(found, shown);
out:
    pthread_mutex_unlock(&shuf_mu);
    return found;
}

static void show_handles(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR h, CK_ULONG n)
{
    CK_ULONG i;
    for (i = 0; h && i < n; i++)
        h[i] = shown_handle(s, h[i]);
}


/* ---- A token that comes and goes (P11TLS_TESTMOD_HOTPLUG) ----------------
 * SoftHSM never shows a token created after its C_Initialize, so a token
 * plugged in later is simulated: while FILE exists SoftHSM's slots are the
 * device's; without it there is no slot at all.
 *  - The slot list changes, as PKCS#11 (2.40, C_GetSlotList) lets a module
 *    change it, only at C_Initialize, at a C_GetSlotList call with
 *    pSlotList NULL (OpenSC detects readers there) and when
 *    C_WaitForSlotEvent reports the change: a caller that only ever passes
 *    a buffer never sees a token plugged in later. Such NULL calls are also
 *    logged as "C_GetSlotList_NULL".
 *  - Once FILE is gone every call naming a slot fails with
 *    CKR_TOKEN_NOT_PRESENT (C_GetSlotInfo: CKR_DEVICE_REMOVED) and every
 *    session call with CKR_DEVICE_REMOVED, and SoftHSM's sessions are
 *    closed: when FILE is back the login is gone, as after a real removal.
 *  - Slots are shown with CKF_REMOVABLE_DEVICE.
 *  - C_WaitForSlotEvent reports every change of FILE's existence once
 *    (with the first slot): CKR_NO_EVENT under CKF_DONT_BLOCK when there
 *    is none, else it looks every 10 ms until there is one or C_Finalize. */
static char hp_file[4096];
static int hp_no_events;
static int hp_listed;   /* atomic: the slot list shows the device */
static int hp_reported; /* atomic: presence last reported by C_WaitForSlotEvent */
static int hp_pulled;   /* atomic: sessions closed since FILE went away */
static int hp_running;  /* atomic: between C_Initialize and C_Finalize */

static int hp_present(void) { return access(hp_file, F_OK) == 0; }

static void read_hotplug_rule(void)
{
    const char *f = getenv("P11TLS_TESTMOD_HOTPLUG");
    snprintf(hp_file, sizeof hp_file, "%s", f ? f : "");
    const char *e = getenv("P11TLS_TESTMOD_NO_SLOT_EVENTS");
    hp_no_events = e && strcmp(e, "1") == 0;
    int present = hp_file[0] && hp_present();
    __atomic_store_n(&hp_listed, present, __ATOMIC_SEQ_CST);
    __atomic_store_n(&hp_reported, present, __ATOMIC_SEQ_CST);
    __atomic_store_n(&hp_pulled, 0, __ATOMIC_SEQ_CST);
}

/* FILE is gone: the device with it. */
static void hp_unplugged(void)
{
    __atomic_store_n(&hp_listed, 0, __ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(&hp_pulled, 1, __ATOMIC_SEQ_CST) == 0)
        pull_tokens();
}

/* CKR_OK, or what call name gets while the device is unplugged. */
static CK_RV hotplug_block(const char *name)
{
    static const char *const free_calls[] = {
        "C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList",
        "C_GetSlotList", "C_WaitForSlotEvent",
    };
    static const char *const slot_calls[] = {
        "C_GetTokenInfo", "C_OpenSession", "C_GetMechanismList", "C_GetMechanismInfo",
        "C_InitToken", "C_CloseAllSessions",
    };
    size_t i;
    if (!hp_file[0])
        return CKR_OK;
    for (i = 0; i < sizeof free_calls / sizeof free_calls[0]; i++)
        if (strcmp(name, free_calls[i]) == 0)
            return CKR_OK;
    if (hp_present()) {
        __atomic_store_n(&hp_pulled, 0, __ATOMIC_SEQ_CST);
        return CKR_OK;
    }
    hp_unplugged();
    if (strcmp(name, "C_GetSlotInfo") == 0)
        return CKR_DEVICE_REMOVED;
    for (i = 0; i < sizeof slot_calls / sizeof slot_calls[0]; i++)
        if (strcmp(name, slot_calls[i]) == 0)
            return CKR_TOKEN_NOT_PRESENT;
    return CKR_DEVICE_REMOVED;
}

static CK_RV hp_get_slot_list(CK_BBOOL present_only, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    int present = hp_present();
    if (list == NULL) {
        log_call("C_GetSlotList_NULL");
        __atomic_store_n(&hp_listed, present, __ATOMIC_SEQ_CST);
    }
    if (!present)
        hp_unplugged();
    if (!present || !__atomic_load_n(&hp_listed, __ATOMIC_SEQ_CST)) {
        if (!count)
            return CKR_ARGUMENTS_BAD;
        *count = 0;
        return CKR_OK;
    }
    return real->C_GetSlotList(present_only, list, count);
}

static CK_RV hp_wait_for_slot_event(CK_FLAGS flags, CK_SLOT_ID_PTR slot)
{
    if (hp_no_events)
        return CKR_FUNCTION_NOT_SUPPORTED;
    for (;;) {
        int present = hp_present();
        if (present != __atomic_load_n(&hp_reported, __ATOMIC_SEQ_CST)) {
            __atomic_store_n(&hp_reported, present, __ATOMIC_SEQ_CST);
            if (present)
                __atomic_store_n(&hp_listed, 1, __ATOMIC_SEQ_CST);
            else
                hp_unplugged();
            CK_SLOT_ID slots[16];
            CK_ULONG n = 16;
            if (slot)
                *slot = real->C_GetSlotList(CK_FALSE, slots, &n) == CKR_OK && n > 0 ? slots[0] : 0;
            return CKR_OK;
        }
        if (flags & CKF_DONT_BLOCK)
            return CKR_NO_EVENT;
        if (!__atomic_load_n(&hp_running, __ATOMIC_SEQ_CST))
            return CKR_CRYPTOKI_NOT_INITIALIZED;
        struct timespec ts = {0, 10 * 1000 * 1000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- No locks (P11TLS_TESTMOD_REFUSE_OS_LOCKING) -------------------------
 * Initialized without CKF_OS_LOCKING_OK and without mutex functions, a
 * module may take no locks: the caller promised it never two calls at once
 * (PKCS#11 2.40, section 6.6.2). Every forwarded call then checks the
 * promise, staying in flight at least 1 ms so that concurrent calls would
 * meet: a call entered while another is in flight logs "<pid> CONCURRENT"
 * and fails with CKR_FUNCTION_FAILED, without being forwarded (SoftHSM,
 * initialized the same way, takes no locks either). */
static CK_RV refuse_locking_rv;
static int no_locks;  /* initialized without locking, the rule set */
static int in_flight; /* atomic */

static void read_locking_rule(void)
{
    const char *r = getenv("P11TLS_TESTMOD_REFUSE_OS_LOCKING");
    refuse_locking_rv = r && *r ? strtoul(r, NULL, 0) : 0;
    no_locks = 0;
}

/* Non-zero if C_Initialize(args) must be refused with refuse_locking_rv. */
static int locking_refused(CK_VOID_PTR args)
{
    const CK_C_INITIALIZE_ARGS *a = args;
    if (!refuse_locking_rv)
        return 0;
    if (a && ((a->flags & CKF_OS_LOCKING_OK) || a->CreateMutex))
        return 1;
    no_locks = 1;
    return 0;
}

static int serial_enter(void)
{
    struct timespec ms = {0, 1000 * 1000L};
    if (!no_locks)
        return 1;
    if (__atomic_fetch_add(&in_flight, 1, __ATOMIC_SEQ_CST) != 0) {
        __atomic_fetch_sub(&in_flight, 1, __ATOMIC_SEQ_CST);
        log_call("CONCURRENT");
        return 0;
    }
    nanosleep(&ms, NULL);
    return 1;
}

static void serial_leave(void)
{
    if (no_locks)
        __atomic_fetch_sub(&in_flight, 1, __ATOMIC_SEQ_CST);
}

/* ---- C_Finalize serialized with the other calls (SERIAL_FINALIZE) ------ */

static pthread_rwlock_t fin_lock;
static int fin_on; /* read once, at the first call */
static pthread_once_t fin_once = PTHREAD_ONCE_INIT;

static void fin_init(void)
{
    const char *e = getenv("P11TLS_TESTMOD_SERIAL_FINALIZE");
    fin_on = e && strcmp(e, "1") == 0;
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    /* A stream of signing threads must not starve the finalizer. */
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&fin_lock, &a);
    pthread_rwlockattr_destroy(&a);
}

/* Returns whether the lock was taken, for fin_leave. */
static int fin_enter(const char *name)
{
    pthread_once(&fin_once, fin_init);
    if (!fin_on || strcmp(name, "C_WaitForSlotEvent") == 0)
        return 0;
    if (strcmp(name, "C_Finalize") == 0 || strcmp(name, "C_Initialize") == 0)
        pthread_rwlock_wrlock(&fin_lock);
    else
        pthread_rwlock_rdlock(&fin_lock);
    return 1;
}

static void fin_leave(int *held)
{
    if (*held)
        pthread_rwlock_unlock(&fin_lock);
}

/* Declares, in the calling function, the hold that is released on return. */
#define FIN_HOLD(name) int fin_held_ __attribute__((cleanup(fin_leave))) = fin_enter(name)

static CK_FUNCTION_LIST testmod_list;

static CK_RV tm_C_Initialize(CK_VOID_PTR args)
{
    FIN_HOLD("C_Initialize");
    log_call("C_Initialize");
    read_fail_rule();
    read_slow_rule();
    read_fork_rule();
    read_hotplug_rule();
    read_locking_rule();
    shuffle_reset();
    slow_call("C_Initialize");
    const char *noise = getenv("P11TLS_TESTMOD_INIT_STDERR");
    if (noise && *noise)
        fprintf(stderr, "%s\n", noise);
    if (fail_init)
        return CKR_GENERAL_ERROR;
    if (inject("C_Initialize"))
        return fail_rv;
    if (locking_refused(args))
        return refuse_locking_rv;
    CK_RV rv = load_real();
    if (rv != CKR_OK)
        return rv;
    rv = run_init_helper();
    if (rv != CKR_OK)
        return rv;
    rv = real->C_Initialize(args);
    if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
        __atomic_store_n(&hp_running, 1, __ATOMIC_SEQ_CST);
    return rv;
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
    FIN_HOLD("C_GetInfo");
    log_call("C_GetInfo");
    if (random_fail("C_GetInfo"))
        return CKR_GENERAL_ERROR;
    slow_call("C_GetInfo");
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
    FIN_HOLD("C_GetTokenInfo");
    log_call("C_GetTokenInfo");
    if (random_fail("C_GetTokenInfo"))
        return CKR_GENERAL_ERROR;
    slow_call("C_GetTokenInfo");
    if (inject("C_GetTokenInfo"))
        return fail_rv;
    if (!real)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    CK_RV rv = hotplug_block("C_GetTokenInfo");
    if (rv != CKR_OK)
        return rv;
    rv = real->C_GetTokenInfo(slot, info);
    if (rv == CKR_OK && info)
        info->flags |= extra_token_flags;
    return rv;
}

/* What every call does first: log, delay, injected failure. */
#define ENTER(name)                                    \
    FIN_HOLD(#name);                                   \
    do {                                               \
        log_call(#name);                               \
        if (random_fail(#name))                        \
            return CKR_GENERAL_ERROR;                  \
        slow_call(#name);                              \
        if (inject(#name))                             \
            return fail_rv;                            \
        if (!real)                                     \
            return CKR_CRYPTOKI_NOT_INITIALIZED;       \
        CK_RV hp_rv_ = hotplug_block(#name);           \
        if (hp_rv_ != CKR_OK)                          \
            return hp_rv_;                             \
    } while (0)

/* One forwarding wrapper per function. */
#define FWD(name, params, args)                        \
    static CK_RV tm_##name params                      \
    {                                                  \
        ENTER(name);                                   \
        if (!serial_enter())                           \
            return CKR_FUNCTION_FAILED;                \
        CK_RV rv = real->name args;                    \
        serial_leave();                                \
        slow_after_call(#name);                        \
        return rv;                                     \
    }

/* The same for functions that return object handles: SHOW runs on success
 * (maps them, see "Shuffled object handles"). Handles passed in go through
 * real_handle() in ARGS. */
#define FWD_OUT(name, params, args, show)              \
    static CK_RV tm_##name params                      \
    {                                                  \
        ENTER(name);                                   \
        if (!serial_enter())                           \
            return CKR_FUNCTION_FAILED;                \
        CK_RV rv = real->name args;                    \
        serial_leave();                                \
        if (rv == CKR_OK)                              \
            show;                                      \
        slow_after_call(#name);                        \
        return rv;                                     \
    }

typedef CK_SESSION_HANDLE SH;
typedef CK_OBJECT_HANDLE OH;
typedef CK_MECHANISM_PTR MP;
typedef CK_BYTE_PTR BP;
typedef CK_ULONG UL;
typedef CK_ULONG_PTR ULP;
typedef CK_ATTRIBUTE_PTR AP;

static CK_RV tm_C_Finalize(CK_VOID_PTR r)
{
    ENTER(C_Finalize);
    __atomic_store_n(&hp_running, 0, __ATOMIC_SEQ_CST);
    return real->C_Finalize(r);
}
static CK_RV tm_C_GetSlotList(CK_BBOOL p, CK_SLOT_ID_PTR l, ULP c)
{
    ENTER(C_GetSlotList);
    return hp_file[0] ? hp_get_slot_list(p, l, c) : real->C_GetSlotList(p, l, c);
}
static CK_RV tm_C_GetSlotInfo(CK_SLOT_ID s, CK_SLOT_INFO_PTR i)
{
    ENTER(C_GetSlotInfo);
    CK_RV rv = real->C_GetSlotInfo(s, i);
    if (rv == CKR_OK && i && hp_file[0])
        i->flags |= CKF_REMOVABLE_DEVICE;
    return rv;
}
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
FWD(C_SetOperationState, (SH h, BP s, UL sl, OH e, OH a), (h, s, sl, real_handle(h, e), real_handle(h, a)))
FWD(C_Login, (SH h, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, UL pl), (h, u, p, pl))
FWD(C_Logout, (SH h), (h))
FWD_OUT(C_CreateObject, (SH h, AP t, UL c, CK_OBJECT_HANDLE_PTR o), (h, t, c, o), show_handles(h, o, 1))
FWD_OUT(C_CopyObject, (SH h, OH o, AP t, UL c, CK_OBJECT_HANDLE_PTR n), (h, real_handle(h, o), t, c, n), show_handles(h, n, 1))
FWD(C_DestroyObject, (SH h, OH o), (h, real_handle(h, o)))
FWD(C_GetObjectSize, (SH h, OH o, ULP s), (h, real_handle(h, o), s))
static CK_RV tm_C_GetAttributeValue(SH h, OH o, AP t, UL c)
{
    ENTER(C_GetAttributeValue);
    const CK_OBJECT_HANDLE r = real_handle(h, o);
    CK_RV rv = real->C_GetAttributeValue(h, r, t, c);
    if (!hide_public || !t || (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID &&
                               rv != CKR_ATTRIBUTE_SENSITIVE && rv != CKR_BUFFER_TOO_SMALL))
        return rv;
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof cls};
    if (real->C_GetAttributeValue(h, r, &a, 1) != CKR_OK || cls != CKO_PRIVATE_KEY)
        return rv;
    for (UL i = 0; i < c; i++)
        if (t[i].type == CKA_MODULUS || t[i].type == CKA_PUBLIC_EXPONENT || t[i].type == CKA_EC_POINT ||
            t[i].type == CKA_PUBLIC_KEY_INFO) {
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            if (rv == CKR_OK)
                rv = CKR_ATTRIBUTE_TYPE_INVALID;
        }
    return rv;
}
FWD(C_SetAttributeValue, (SH h, OH o, AP t, UL c), (h, real_handle(h, o), t, c))
FWD(C_FindObjectsInit, (SH h, AP t, UL c), (h, t, c))
static CK_RV tm_C_FindObjects(SH h, CK_OBJECT_HANDLE_PTR o, UL m, ULP c)
{
    ENTER(C_FindObjects);
    if (find_chunk && m > find_chunk)
        m = find_chunk;
    CK_RV rv = real->C_FindObjects(h, o, m, c);
    if (rv != CKR_OK)
        return rv;
    show_handles(h, o, c ? *c : 0);
    if (find_endless && c && o && m > 0) {
        if (*c > 0)
            find_last = o[*c - 1];
        else if (find_last != CK_INVALID_HANDLE) {
            o[0] = find_last;
            *c = 1;
        }
    }
    return CKR_OK;
}
FWD(C_FindObjectsFinal, (SH h), (h))
FWD(C_EncryptInit, (SH h, MP m, OH k), (h, m, real_handle(h, k)))
FWD(C_Encrypt, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_EncryptUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_EncryptFinal, (SH h, BP o, ULP ol), (h, o, ol))
FWD(C_DecryptInit, (SH h, MP m, OH k), (h, m, real_handle(h, k)))
FWD(C_Decrypt, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_DecryptUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_DecryptFinal, (SH h, BP o, ULP ol), (h, o, ol))
FWD(C_DigestInit, (SH h, MP m), (h, m))
FWD(C_Digest, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_DigestUpdate, (SH h, BP d, UL dl), (h, d, dl))
FWD(C_DigestKey, (SH h, OH k), (h, real_handle(h, k)))
FWD(C_DigestFinal, (SH h, BP o, ULP ol), (h, o, ol))
FWD(C_SignInit, (SH h, MP m, OH k), (h, m, real_handle(h, k)))
FWD(C_Sign, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_SignUpdate, (SH h, BP d, UL dl), (h, d, dl))
FWD(C_SignFinal, (SH h, BP o, ULP ol), (h, o, ol))
FWD(C_SignRecoverInit, (SH h, MP m, OH k), (h, m, real_handle(h, k)))
FWD(C_SignRecover, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_VerifyInit, (SH h, MP m, OH k), (h, m, real_handle(h, k)))
FWD(C_Verify, (SH h, BP d, UL dl, BP s, UL sl), (h, d, dl, s, sl))
FWD(C_VerifyUpdate, (SH h, BP d, UL dl), (h, d, dl))
FWD(C_VerifyFinal, (SH h, BP s, UL sl), (h, s, sl))
FWD(C_VerifyRecoverInit, (SH h, MP m, OH k), (h, m, real_handle(h, k)))
FWD(C_VerifyRecover, (SH h, BP s, UL sl, BP o, ULP ol), (h, s, sl, o, ol))
FWD(C_DigestEncryptUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_DecryptDigestUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_SignEncryptUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD(C_DecryptVerifyUpdate, (SH h, BP d, UL dl, BP o, ULP ol), (h, d, dl, o, ol))
FWD_OUT(C_GenerateKey, (SH h, MP m, AP t, UL c, CK_OBJECT_HANDLE_PTR k), (h, m, t, c, k), show_handles(h, k, 1))
FWD_OUT(C_GenerateKeyPair, (SH h, MP m, AP pt, UL pc, AP vt, UL vc, CK_OBJECT_HANDLE_PTR pk, CK_OBJECT_HANDLE_PTR vk), (h, m, pt, pc, vt, vc, pk, vk), (show_handles(h, pk, 1), show_handles(h, vk, 1)))
FWD(C_WrapKey, (SH h, MP m, OH w, OH k, BP o, ULP ol), (h, m, real_handle(h, w), real_handle(h, k), o, ol))
FWD_OUT(C_UnwrapKey, (SH h, MP m, OH u, BP w, UL wl, AP t, UL c, CK_OBJECT_HANDLE_PTR k), (h, m, real_handle(h, u), w, wl, t, c, k), show_handles(h, k, 1))
FWD_OUT(C_DeriveKey, (SH h, MP m, OH b, AP t, UL c, CK_OBJECT_HANDLE_PTR k), (h, m, real_handle(h, b), t, c, k), show_handles(h, k, 1))
FWD(C_SeedRandom, (SH h, BP s, UL sl), (h, s, sl))
FWD(C_GenerateRandom, (SH h, BP o, UL ol), (h, o, ol))
FWD(C_GetFunctionStatus, (SH h), (h))
FWD(C_CancelFunction, (SH h), (h))
static CK_RV tm_C_WaitForSlotEvent(CK_FLAGS f, CK_SLOT_ID_PTR s, CK_VOID_PTR r)
{
    ENTER(C_WaitForSlotEvent);
    return hp_file[0] ? hp_wait_for_slot_event(f, s) : real->C_WaitForSlotEvent(f, s, r);
}

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
