/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * p11tls — a self-initializing, fork-aware PKCS#11 backend for TLS.
 *
 * Conventions (apply to every function below unless its comment says
 * otherwise):
 *
 *  - Nothing needs to be initialized, reinitialized or finalized. Every
 *    function initializes what it needs on first use, and after fork() the
 *    child rebuilds its PKCS#11 state lazily on its first call.
 *  - Functions return 0 on success and a negative P11TLS_E_* code on
 *    failure; p11tls_strerror() names the code and
 *    p11tls_last_error_detail() says, for the calling thread, what failed
 *    (module, PKCS#11 function, CKR_* value).
 *  - A NULL p11tls_ctx means the process default context: registered
 *    p11-kit modules, P11TLS_FORK_REINIT, and as PIN function GnuTLS's
 *    process-wide PKCS#11 PIN function (gnutls_pkcs11_set_pin_function)
 *    when one is set, none otherwise.
 *  - Handles are opaque. Every *_free(NULL) does nothing.
 *  - Outputs go either into a caller buffer with an in/out size_t length
 *    (a NULL buffer asks for the size needed; a short buffer gives
 *    P11TLS_E_BUFFER_TOO_SMALL with the size needed stored), or into
 *    memory allocated by p11tls and released with p11tls_free().
 *  - All functions are thread-safe. A key may be used by several threads at
 *    once; a context may be configured while it is used by other threads.
 *  - PINs are never logged, never put in error details, and wiped after use.
 *  - Other users of a module in the process. p11tls never finalizes a
 *    module (p11-kit counts its initialization apart from other callers'),
 *    and a module another caller initialized first is used as it is. When
 *    another caller finalizes a module p11tls uses (libp11 and pam_p11
 *    call C_Finalize on the module itself, not through p11-kit), p11tls
 *    sees CKR_CRYPTOKI_NOT_INITIALIZED and carries on as after fork():
 *    the module is initialized again (on the module itself, with
 *    CKF_OS_LOCKING_OK; CKR_CRYPTOKI_ALREADY_INITIALIZED is accepted), the
 *    call that saw the answer starts over once (opening, signing,
 *    decrypting, reading a certificate; a listing, whose callbacks may
 *    have run, does not: the next call finds the module initialized
 *    again), keys are found again and proven the same key (their public
 *    key, P11TLS_E_KEY_MISMATCH otherwise), and logins are redone from
 *    the PIN sources the key has (its URI's pin-value or pin-source, its
 *    context's PIN function). The same when another caller closes every
 *    session of a token p11tls is logged in to (libp11 does, and so logs
 *    the token out): the token's state is found anew, logged in again.
 *    A PIN a token refused is never sent to it
 *    again in the process (P11TLS_E_PIN_INCORRECT without C_Login; a
 *    forked child starts afresh) until p11tls itself changes that token's
 *    PIN. See doc/fork-model.md,
 *    "Modules finalized by another caller", for the epochs this runs on
 *    and the one case it cannot see.
 *  - Tokens across a connection (doc/remote.md). For a module that reaches
 *    its tokens over a connection (p11-kit-client.so, a p11-kit "remote:"
 *    module, or one whose module file says "x-p11tls-network: yes"), an
 *    answer CKR_DEVICE_ERROR or CKR_DEVICE_REMOVED means the link dropped,
 *    and p11tls carries on as when another caller finalizes a module: the
 *    module is finalized and initialized again (which reconnects), the
 *    call starts over once, keys are found again and proven the same key
 *    (P11TLS_E_KEY_MISMATCH otherwise: a server back with another key
 *    under the URI is never used), logins are redone. While the server is
 *    away, reconnection is tried 25 ms, then 50, ... at most 400 ms apart,
 *    and calls in between fail at once with P11TLS_E_TOKEN_NOT_PRESENT
 *    (the detail says so). SIGPIPE raised by the module's socket is
 *    blocked and discarded around each call into such a module.
 *  - Replicas (doc/remote.md). A key URI that matches the key on several
 *    tokens that each show, before a login, the same one public key for
 *    it (an HSM cluster; two key servers) opens on the first; when the
 *    key cannot be bound there any more, it fails over to the others in
 *    turn, each proven to be the key before use. Tokens that show
 *    different keys, or none, stay P11TLS_E_AMBIGUOUS.
 */
#ifndef P11TLS_P11TLS_H
#define P11TLS_P11TLS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define P11TLS_API __attribute__((visibility("default")))
#else
#define P11TLS_API
#endif

/* The version of this header: P11TLS_VERSION is "MAJOR.MINOR.PATCH" (the
 * version in configure.ac's AC_INIT; a test checks they agree) and
 * P11TLS_VERSION_NUMBER is 0xMMmmpp, for #if. The library a program runs
 * with may be newer: see p11tls_check_version(). */
#define P11TLS_VERSION "0.2.0"
#define P11TLS_VERSION_NUMBER 0x000200
#define P11TLS_VERSION_STRING P11TLS_VERSION /* older name, kept */

/* ---- Error codes -------------------------------------------------------- */

#define P11TLS_E_SUCCESS 0
#define P11TLS_E_INVALID_ARGUMENT -1    /* a NULL or out-of-range argument */
#define P11TLS_E_INVALID_URI -2         /* not a valid RFC 7512 pkcs11: URI */
#define P11TLS_E_NOT_FOUND -3           /* no object matches the URI */
#define P11TLS_E_AMBIGUOUS -4           /* more than one object matches */
#define P11TLS_E_PIN_INCORRECT -5       /* the token refused the PIN */
#define P11TLS_E_PIN_LOCKED -6          /* the user PIN is locked */
#define P11TLS_E_PIN_REQUIRED -7        /* login needed, no PIN available */
#define P11TLS_E_PIN_CANCELLED -8       /* the PIN function declined */
#define P11TLS_E_TOKEN_NOT_PRESENT -9   /* token removed or absent */
#define P11TLS_E_UNSUPPORTED -10        /* scheme/mechanism/key type unsupported */
#define P11TLS_E_BUFFER_TOO_SMALL -11   /* output buffer too small */
#define P11TLS_E_FORKED -12             /* object is stale after fork (FORK_FAIL), or
                                           its module is not used in a forked child */
#define P11TLS_E_MODULE -13             /* a module failed to load or initialize */
#define P11TLS_E_DEVICE -14             /* the token or module reported an error */
#define P11TLS_E_KEY_MISMATCH -15       /* the token object is not the key opened */
#define P11TLS_E_MEMORY -16             /* out of memory */
#define P11TLS_E_NOT_PERMITTED -17      /* refused by policy (e.g. module-path in URI) */
#define P11TLS_E_PIN_SOURCE -18         /* pin-source unreadable or unsafe */
#define P11TLS_E_INTERNAL -19           /* a bug in p11tls; please report */
#define P11TLS_E_READ_ONLY -20          /* the token is write-protected */
#define P11TLS_E_EXISTS -21             /* an object with that label or ID exists */
#define P11TLS_E_PIN_LEN_RANGE -22      /* the new PIN is too short or too long for the token */
#define P11TLS_E_TIMEOUT -23           /* nothing appeared in time */

/* Returns a static, human-readable description of an error code; never NULL.
 * Thread-safe. */
P11TLS_API const char *p11tls_strerror(int err);

/* Returns the symbolic name of an error code ("P11TLS_E_NOT_FOUND"); never
 * NULL. Thread-safe. */
P11TLS_API const char *p11tls_strerror_name(int err);

/* Returns a one-line description of the calling thread's last failure
 * (e.g. "module softhsm2: C_Login: CKR_PIN_INCORRECT"), or "" if the last
 * p11tls call of this thread succeeded. The string belongs to p11tls and is
 * valid until this thread's next p11tls call. Never contains a PIN. */
P11TLS_API const char *p11tls_last_error_detail(void);

/* Returns the version of the library running (e.g. "0.2.0") if it is at
 * least req_version ("MAJOR.MINOR.PATCH"; missing parts count as 0), else
 * NULL; with req_version NULL, just the version. Like gnutls_check_version:
 * check at run time that the shared library is not older than the headers
 * the program was built with, p11tls_check_version(P11TLS_VERSION). The
 * string is static. A req_version that is not a version gives NULL.
 * Thread-safe. */
P11TLS_API const char *p11tls_check_version(const char *req_version);

/* Frees memory returned by p11tls (DER buffers, strings). NULL is ignored. */
P11TLS_API void p11tls_free(void *p);

/* ---- Contexts ------------------------------------------------------------ */

typedef struct p11tls_ctx p11tls_ctx;
typedef struct p11tls_key p11tls_key;

/* Fork policies: what a key opened before fork() does in the child. */
#define P11TLS_FORK_REINIT 0 /* reopen, re-login, re-find, verify identity */
#define P11TLS_FORK_FAIL 1   /* stale objects return P11TLS_E_FORKED */
#define P11TLS_FORK_ABORT 2  /* print one line to stderr and abort() */

/* Creates a context: the settings of one caller (PIN function, fork policy,
 * extra modules). Settings of one context never affect another.
 * On success *out_ctx owns a reference, released by p11tls_ctx_free().
 * Objects opened through the context keep what they need of it alive, so a
 * context may be freed while its keys are still in use. */
P11TLS_API int p11tls_ctx_new(p11tls_ctx **out_ctx);

/* Releases the caller's reference. Never finalizes a module another caller
 * may use. NULL (and the default context) are ignored. */
P11TLS_API void p11tls_ctx_free(p11tls_ctx *ctx);

/* PIN function flags: why the PIN is asked for. */
#define P11TLS_PIN_FINAL_TRY (1u << 0)        /* one wrong PIN locks the token */
#define P11TLS_PIN_COUNT_LOW (1u << 1)        /* a wrong PIN was entered before */
#define P11TLS_PIN_WRONG (1u << 2)            /* the previous PIN was refused */
#define P11TLS_PIN_CONTEXT_SPECIFIC (1u << 3) /* per-operation PIN (CKA_ALWAYS_AUTHENTICATE) */

/* Called, with no p11tls lock held, when a token needs a PIN and the URI
 * gave none. Writes a NUL-terminated PIN of at most pin_size-1 bytes into
 * pin and returns 0, or returns a negative value to cancel. An empty PIN is
 * a cancel too, and a buffer left without a NUL (a PIN that did not fit) is
 * refused, never cut: both give P11TLS_E_PIN_CANCELLED without any login
 * (a token with a protected authentication path is logged into without
 * calling the function). May block, fork
 * or call back into p11tls. token_uri identifies the token; token_label is
 * its label. p11tls wipes the buffer after use.
 *
 * If it forks, the parent's call goes on with the PIN returned there; in
 * the child the call that asked starts again in the child's own PKCS#11
 * state and calls the function again (a PIN is sent to the token once, by
 * the process it was returned in); the listing functions (p11tls_list_*),
 * whose callbacks may have run already, fail there with P11TLS_E_FORKED. The calling thread may be cancelled while in it
 * (pthread_cancel, pthread_exit): it unwinds through p11tls, which holds no
 * lock there, and the call never returns. */
typedef int (*p11tls_pin_fn)(void *arg, const char *token_uri,
                             const char *token_label, unsigned flags,
                             char *pin, size_t pin_size);

/* Sets (fn != NULL) or clears (fn == NULL) the context's PIN function.
 * Fails with P11TLS_E_INVALID_ARGUMENT on the default context (NULL): the
 * default context is shared by every caller in the process. It asks
 * GnuTLS's process-wide PKCS#11 PIN function instead, at the time a PIN is
 * needed, when the program has set one with gnutls_pkcs11_set_pin_function()
 * (as programs using GnuTLS's own PKCS#11 code do); with none set, a token
 * that needs a PIN the URI does not give fails with P11TLS_E_PIN_REQUIRED.
 * That function is called with no p11tls lock held, attempt 1, and
 * GNUTLS_PIN_USER plus the GNUTLS_PIN_* flags matching P11TLS_PIN_*; a
 * non-zero return is P11TLS_E_PIN_CANCELLED. */
P11TLS_API int p11tls_ctx_set_pin_fn(p11tls_ctx *ctx, p11tls_pin_fn fn, void *arg);

/* Sets the fork policy (P11TLS_FORK_*) for objects opened through ctx.
 * P11TLS_E_INVALID_ARGUMENT for the default context or an unknown policy. */
P11TLS_API int p11tls_ctx_set_fork_policy(p11tls_ctx *ctx, int policy);

/* Loads the PKCS#11 module at module_path (through p11-kit, as a managed
 * module) and makes its tokens visible to this context only. The module is
 * loaded at once so that a bad path fails here (P11TLS_E_MODULE); it is
 * initialized on first use. Loading the same path twice is harmless. A path
 * that failed to load is also remembered: p11tls_list_modules() reports it
 * (status P11TLS_E_MODULE, error saying why) until it loads. */
P11TLS_API int p11tls_ctx_add_module(p11tls_ctx *ctx, const char *module_path);

/* As p11tls_ctx_add_module(), for a module that needs an argument when it
 * is initialized: init_reserved (NULL: none) is passed, as given, as
 * CK_C_INITIALIZE_ARGS.pReserved to the module's C_Initialize (with
 * CKF_OS_LOCKING_OK), in this process and in forked children. This is what
 * p11-kit's "x-init-reserved:" option does for a registered module (which
 * p11tls honours): NSS's softokn, for one, fails with CKR_ARGUMENTS_BAD
 * without its "configdir='sql:DIR' ..." string. The string is copied and
 * kept (never logged) as long as the process lives; it may hold
 * configuration the module treats as secret, which is why it is not a URI
 * attribute. A module file is initialized once per process (p11-kit shares
 * one initialization per library among its callers): loading a file that
 * is already loaded with another init_reserved (or none), by path or as a
 * registered module, fails with P11TLS_E_INVALID_ARGUMENT and changes
 * nothing. Thread-safe. */
P11TLS_API int p11tls_ctx_add_module_with_args(p11tls_ctx *ctx, const char *module_path,
                                               const char *init_reserved);

/* Waits until a token matching uri (NULL: any token) is visible to ctx
 * (NULL: the default context), for at most timeout_ms milliseconds: for a
 * token the user is asked to insert. Returns 0 at once if one is there;
 * P11TLS_E_TIMEOUT if none appeared in time (p11tls_last_error_detail says
 * which tokens were seen); P11TLS_E_INVALID_URI, P11TLS_E_NOT_PERMITTED
 * (a module-path the context may not load) as the listing functions.
 *
 * Tokens plugged in after the process started are found: a URI that
 * matches no token makes p11tls ask the modules for their slot list afresh
 * (C_GetSlotList with no buffer, at most once a second per module, in
 * every lookup, not only here). While waiting, modules that support slot
 * events are polled with C_WaitForSlotEvent(CKF_DONT_BLOCK) every 50 ms;
 * the call never blocks inside a module, so the wait ends by timeout_ms.
 * A removed token stops matching at once. Fork-safe: a wait that finds
 * itself in a forked child starts over there, with the full timeout, in
 * the child's own PKCS#11 state. Thread-safe; may be cancelled
 * (pthread_cancel) while it sleeps. */
P11TLS_API int p11tls_ctx_wait_for_token(p11tls_ctx *ctx, const char *uri, unsigned timeout_ms);

/* Context flags. */
#define P11TLS_CTX_NO_REGISTERED_MODULES (1u << 0) /* ignore p11-kit's config */
#define P11TLS_CTX_ALLOW_MODULE_PATH (1u << 1)     /* let URIs load module-path */

/* Replaces the context's flags (P11TLS_CTX_*). By default a URI's
 * module-path attribute only selects among modules already loaded; with
 * P11TLS_CTX_ALLOW_MODULE_PATH it may load the named module. */
P11TLS_API int p11tls_ctx_set_flags(p11tls_ctx *ctx, unsigned flags);

/* ---- Diagnostics ---------------------------------------------------------- */

/* Log levels, most severe first. A level includes those above it. */
#define P11TLS_LOG_ERROR 1   /* an operation failed: its function, code and detail */
#define P11TLS_LOG_WARNING 2 /* something was passed over: a listing URI matching no token */
#define P11TLS_LOG_INFO 3    /* a key opened, a token logged in, state rebuilt after fork */
#define P11TLS_LOG_DEBUG 4   /* every failed PKCS#11 call, naming the function and attribute */

/* A log function: level is P11TLS_LOG_*, message one line without a
 * newline, valid only during the call. Messages never contain a PIN. It is
 * called with no p11tls lock held, from whichever thread does the
 * operation (possibly several at once). It may call p11tls: messages of
 * those nested calls go to stderr only (P11TLS_DEBUG), never back to it. */
typedef void (*p11tls_log_fn)(void *arg, int level, const char *message);

/* Sets (fn != NULL) or clears (fn == NULL) the context's log function:
 * it receives the messages, up to max_level (P11TLS_LOG_*), of every
 * operation done through ctx or a key opened through it, including the
 * messages about shared state that the operation caused (a module failing
 * to initialize, the world rebuilt after fork). Nothing else reaches it.
 *
 * Per context, not process-wide, as every other setting: two libraries
 * layered in one process each see their own operations' messages and
 * neither can take the other's away. The default context (NULL) takes no
 * log function (P11TLS_E_INVALID_ARGUMENT: it is shared by every caller);
 * its messages, and all others, go to stderr when the environment variable
 * P11TLS_DEBUG is set (not in setuid programs), whatever is set here.
 *
 * Thread-safe, also while other threads log through ctx. Setting or
 * clearing returns once no other thread is still running the previous
 * function, so arg may then be freed (a log function that clears itself
 * is not waited for); do not hold a lock your log function takes while
 * calling this. p11tls_ctx_free() clears it the same way: keys that
 * outlive their context log to it no more. After fork() the child keeps
 * the function. P11TLS_E_INVALID_ARGUMENT for a max_level outside
 * P11TLS_LOG_ERROR..P11TLS_LOG_DEBUG when fn is set. */
P11TLS_API int p11tls_ctx_set_log_fn(p11tls_ctx *ctx, p11tls_log_fn fn, void *arg,
                                     int max_level);

/* ---- Signature schemes (TLS SignatureScheme code points, RFC 8446) ------- */

#define P11TLS_SIG_RSA_PKCS1_SHA256 0x0401
#define P11TLS_SIG_RSA_PKCS1_SHA384 0x0501
#define P11TLS_SIG_RSA_PKCS1_SHA512 0x0601
#define P11TLS_SIG_ECDSA_SECP256R1_SHA256 0x0403
#define P11TLS_SIG_ECDSA_SECP384R1_SHA384 0x0503
#define P11TLS_SIG_ECDSA_SECP521R1_SHA512 0x0603
#define P11TLS_SIG_RSA_PSS_RSAE_SHA256 0x0804
#define P11TLS_SIG_RSA_PSS_RSAE_SHA384 0x0805
#define P11TLS_SIG_RSA_PSS_RSAE_SHA512 0x0806
#define P11TLS_SIG_ED25519 0x0807
#define P11TLS_SIG_ED448 0x0808

/* Returns the scheme's TLS name ("rsa_pss_rsae_sha256"), or NULL. */
P11TLS_API const char *p11tls_sig_scheme_name(uint16_t scheme);

/* Parses a TLS scheme name; returns the code point or 0 if unknown. */
P11TLS_API uint16_t p11tls_sig_scheme_from_name(const char *name);

/* ---- Keys ---------------------------------------------------------------- */

/* Key algorithms. */
#define P11TLS_ALG_RSA 1
#define P11TLS_ALG_ECDSA 2
#define P11TLS_ALG_ED25519 3
#define P11TLS_ALG_ED448 4

/* p11tls_key_open() flag: prove the PIN now. PKCS#11 keeps a token logged
 * in for the whole process, so once anyone in the process has logged in, a
 * plain open needs no PIN. With this flag the token is logged out (if it was
 * logged in) and logged in again with this open's PIN, so the open succeeds
 * only if that PIN is right: for authentication modules (PAM) that must
 * check that the user knows it. The URI must match exactly one token
 * (P11TLS_E_AMBIGUOUS otherwise), so one PIN is never tried on several.
 * Cost: the logout is process-wide. Other keys on the token are logged in
 * again on their next operation with their own PIN source; if this PIN was
 * wrong, the token stays logged out until then. */
#define P11TLS_KEY_OPEN_VERIFY_PIN (1u << 0)

/* Opens the private key named by uri (RFC 7512). Exactly one private key
 * must match: P11TLS_E_NOT_FOUND if none, P11TLS_E_AMBIGUOUS if several.
 * Logs in to the token if needed, with the PIN from the URI (pin-value,
 * then pin-source) or else the context's PIN function. A refused PIN
 * returns P11TLS_E_PIN_INCORRECT and is never retried automatically; the
 * same PIN given again for that token (by any source, in any later call of
 * the process) is refused without reaching the token.
 *
 * Where a PIN goes: only to a token known to hold the key, never to one
 * token after another. A URI that matches one token logs in there. When it
 * matches several, tokens that need no PIN (no login required, or logged
 * in already) are searched first; of those that need one, the PIN (and the
 * PIN function's question) goes to the one that shows, before any login,
 * the key's public key or certificate with the URI's label and CKA_ID; if
 * none shows one and the key was not found elsewhere, to the only token
 * that needs a PIN. Otherwise nothing is logged in and the open fails with
 * P11TLS_E_AMBIGUOUS, p11tls_last_error_detail() naming the tokens. The
 * same rule holds for P11TLS_LIST_LOGIN and p11tls_object_delete(), and
 * for a key found again on tokens that look alike (smart cards of one
 * kind share label and serial): only one that shows the key's public key
 * before a login is logged in to.
 *
 * Key identity: the key opened is the private key object found, whose
 * public key p11tls_key_get_spki() reports (read from the object itself,
 * else from its public key object or certificate). No signature is ever
 * returned unless the object that made it is proven to be that key: by the
 * public half the object shows itself (an RSA modulus, CKA_EC_POINT,
 * CKA_PUBLIC_KEY_INFO), or else, for the first operation after the key is
 * opened or found again (after fork() or a lost login), by verifying the
 * signature in software before returning it, or for a decryption by first
 * decrypting a random secret encrypted to the key's public key. A failed
 * proof is P11TLS_E_KEY_MISMATCH. An EC key stored without any public half
 * on its token (no public key object, certificate or public attribute)
 * opens, its public key learnt from two signatures it makes at open; an
 * EdDSA key stored so opens and signs, but its public key cannot be learnt:
 * p11tls_key_get_spki() fails with P11TLS_E_UNSUPPORTED, and after fork()
 * or a lost login its operations fail with P11TLS_E_UNSUPPORTED, since the
 * object found again cannot be proven to be it.
 *
 * Lookups answer from what p11tls read of the token (its object index,
 * each answer checked on the token), read again once it is one second old
 * or twenty times as old as its read took: a second key created under the
 * same name by another process makes the URI P11TLS_E_AMBIGUOUS within that
 * time, as a search (P11TLS_NO_OBJECT_INDEX set) says at once.
 *
 * PINs
 * are at most 255 bytes: a longer pin-value (P11TLS_E_INVALID_URI) or
 * pin-source line (P11TLS_E_PIN_SOURCE) is refused, never cut; an empty one
 * is no PIN (P11TLS_E_PIN_REQUIRED); neither is sent to the token. A
 * pin-source must be a regular file: a FIFO, socket, device or directory
 * is refused at once (P11TLS_E_PIN_SOURCE), never waited on.
 * flags is 0 or P11TLS_KEY_OPEN_VERIFY_PIN. On success *out_key is a new key
 * owned by the caller. */
P11TLS_API int p11tls_key_open(p11tls_ctx *ctx, const char *uri, unsigned flags,
                               p11tls_key **out_key);

/* Frees a key. It must not be in use by another thread. */
P11TLS_API void p11tls_key_free(p11tls_key *key);

/* Returns P11TLS_ALG_* of the key, or a negative error for a NULL key. */
P11TLS_API int p11tls_key_get_algorithm(const p11tls_key *key);

/* Returns the key size in bits (RSA modulus, curve size), or negative. */
P11TLS_API int p11tls_key_get_bits(const p11tls_key *key);

/* Stores the public key as DER SubjectPublicKeyInfo in memory freed with
 * p11tls_free(). The value is the one recorded at open and never changes;
 * every signature the key returns verifies under it. P11TLS_E_UNSUPPORTED
 * for an EdDSA key stored without its public key (p11tls_key_open). */
P11TLS_API int p11tls_key_get_spki(const p11tls_key *key, uint8_t **out_der,
                                   size_t *out_len);

/* Returns the key's full object URI (without any PIN), owned by the key. */
P11TLS_API const char *p11tls_key_get_uri(const p11tls_key *key);

/* Returns 1 if the key can produce the scheme on its token, 0 otherwise.
 * Never negative: every failure is turned into 0 (a NULL key, an unknown
 * scheme or one of another algorithm, a stale key under P11TLS_FORK_FAIL,
 * a key that cannot be found again, a token error); p11tls_key_sign() with
 * the same scheme tells the reason. The first call after fork(), or after
 * the token dropped its login, binds the key again as any operation does:
 * it may log in, and so call the context's PIN function. Thread-safe. */
P11TLS_API int p11tls_key_supports(p11tls_key *key, uint16_t scheme);

/* Signs msg with the given scheme; hashing is done on the token where it
 * has a combined mechanism, else in software. ECDSA signatures are DER
 * encoded; RSA-PSS uses a salt as long as the hash. sig may be NULL to ask
 * for the maximum signature size (*sig_len set, 0 returned). On success
 * *sig_len is the signature's length. Thread-safe: several threads may
 * sign with one key at once.
 *
 * Returns 0, or:
 *  - P11TLS_E_INVALID_ARGUMENT: key or sig_len NULL, msg NULL with a
 *    nonzero msg_len, or the token refused the data (CKR_DATA_*);
 *  - P11TLS_E_UNSUPPORTED: an unknown scheme, one of another algorithm
 *    than the key's, or a mechanism (or its parameters) the token refuses;
 *  - P11TLS_E_BUFFER_TOO_SMALL: *sig_len is less than the signature needs;
 *    *sig_len is set to what it needs;
 *  - P11TLS_E_FORKED: the key was opened before fork() and its context's
 *    policy is P11TLS_FORK_FAIL (under P11TLS_FORK_ABORT the process aborts);
 *  - after fork(), or when the token dropped its login, the key is found
 *    again and the token logged in again (the PIN function may be called):
 *    that may fail with P11TLS_E_MODULE, P11TLS_E_TOKEN_NOT_PRESENT,
 *    P11TLS_E_NOT_FOUND, P11TLS_E_AMBIGUOUS, P11TLS_E_PIN_INCORRECT,
 *    P11TLS_E_PIN_LOCKED, P11TLS_E_PIN_REQUIRED, P11TLS_E_PIN_CANCELLED,
 *    P11TLS_E_PIN_SOURCE, or P11TLS_E_UNSUPPORTED for an EdDSA key whose
 *    public key is unknown (p11tls_key_open);
 *  - P11TLS_E_KEY_MISMATCH: the object on the token is not the key opened
 *    (its public half is another, or its signature does not verify under
 *    p11tls_key_get_spki(): another key took its place); no signature is
 *    returned (p11tls_key_open, "Key identity");
 *  - P11TLS_E_TOKEN_NOT_PRESENT: the token was removed (a later call finds
 *    it again if it is back, in any reader; a look-alike token without the
 *    key is P11TLS_E_KEY_MISMATCH), also when the module answers a device
 *    error and no longer lists the token (OpenSC once pcscd is gone);
 *    P11TLS_E_DEVICE: another module error;
 *  - P11TLS_E_MEMORY, P11TLS_E_INTERNAL.
 * p11tls_last_error_detail() says more. */
P11TLS_API int p11tls_key_sign(p11tls_key *key, uint16_t scheme,
                               const uint8_t *msg, size_t msg_len,
                               uint8_t *sig, size_t *sig_len);

/* Signs an already computed hash (its length must match the scheme's hash).
 * Buffers, thread-safety and failures as p11tls_key_sign(), and:
 *  - P11TLS_E_UNSUPPORTED also for Ed25519/Ed448 (EdDSA signs messages);
 *  - P11TLS_E_INVALID_ARGUMENT also when hash_len is not the length of the
 *    scheme's hash. */
P11TLS_API int p11tls_key_sign_hash(p11tls_key *key, uint16_t scheme,
                                    const uint8_t *hash, size_t hash_len,
                                    uint8_t *sig, size_t *sig_len);

/* RSA decryption paddings. */
#define P11TLS_DECRYPT_RSA_PKCS1 1
#define P11TLS_DECRYPT_RSA_OAEP_SHA256 2

/* Decrypts an RSA ciphertext. pt may be NULL to ask for the maximum size
 * (*pt_len set, 0 returned). On success *pt_len is the plaintext's length.
 * Thread-safe. The plaintext p11tls kept is wiped.
 *
 * Returns 0, or:
 *  - P11TLS_E_INVALID_ARGUMENT: key, ct or pt_len NULL, a padding other
 *    than P11TLS_DECRYPT_*, or a ciphertext the token refuses as such
 *    (CKR_ENCRYPTED_DATA_LEN_RANGE);
 *  - P11TLS_E_UNSUPPORTED: not an RSA key, or a padding the token refuses;
 *  - P11TLS_E_DEVICE: the token failed, including a ciphertext that does
 *    not decrypt (CKR_ENCRYPTED_DATA_INVALID);
 *  - P11TLS_E_BUFFER_TOO_SMALL: *pt_len is less than the plaintext; *pt_len
 *    is set to its length;
 *  - P11TLS_E_KEY_MISMATCH: the object on the token is not the key
 *    opened: where it does not show its modulus, a random secret encrypted
 *    to the key's public key is decrypted first (once per binding: at open,
 *    after fork or a lost login), and came back wrong or was refused; pt
 *    is not written;
 *  - P11TLS_E_FORKED and the failures of finding the key again after fork
 *    or a lost login, P11TLS_E_TOKEN_NOT_PRESENT, P11TLS_E_MEMORY,
 *    P11TLS_E_INTERNAL: as p11tls_key_sign(). */
P11TLS_API int p11tls_key_decrypt(p11tls_key *key, int padding,
                                  const uint8_t *ct, size_t ct_len,
                                  uint8_t *pt, size_t *pt_len);

/* ---- Certificates and discovery ----------------------------------------- */

/* Stores the DER of the one certificate matching uri (P11TLS_E_NOT_FOUND,
 * P11TLS_E_AMBIGUOUS otherwise) in memory freed with p11tls_free(). When
 * several match, p11tls_last_error_detail() names them (subject, serial,
 * validity, token; up to 16) and says whether they certify one key.
 * Public certificates only: no login. Thread-safe. */
P11TLS_API int p11tls_cert_get_der(p11tls_ctx *ctx, const char *uri,
                                   uint8_t **out_der, size_t *out_len);

/* p11tls_cert_get_der2() and p11tls_cert_get_chain() flags. */
/* Several certificates of one public key matching (an old and a renewed
 * one, same label and ID, as a smart card keeps them after a renewal) are
 * no ambiguity: the one valid now (not before <= now <= not after) is
 * taken, the newest of those (latest not before, then latest not after);
 * if none is valid now, the newest of all. Certificates of different keys
 * stay P11TLS_E_AMBIGUOUS. */
#define P11TLS_CERT_NEWEST (1u << 0)
/* A certificate not seen without a login (CKA_PRIVATE) is looked for
 * again after logging in (PIN sources as for p11tls_key_open()), on the
 * one token the URI names; a URI naming several tokens then fails with
 * P11TLS_E_AMBIGUOUS naming them, and no PIN is sent (one PIN is never
 * tried on several tokens). */
#define P11TLS_CERT_LOGIN (1u << 1)

/* p11tls_cert_get_der() with flags (P11TLS_CERT_*; others:
 * P11TLS_E_INVALID_ARGUMENT). With P11TLS_CERT_LOGIN also the login
 * failures of p11tls_key_open(). Thread-safe. */
P11TLS_API int p11tls_cert_get_der2(p11tls_ctx *ctx, const char *uri, unsigned flags,
                                    uint8_t **out_der, size_t *out_len);

/* The listing structs (p11tls_token_info, p11tls_module_info,
 * p11tls_object_info) are made by the library and passed to the caller's
 * callback by const pointer; a caller never allocates or copies one. New
 * members are therefore only ever appended: a program built against an
 * older header reads its members where they always were. A program that
 * reads members added later needs a library that has them (check with
 * p11tls_check_version() for a version newer than the one named at the
 * member). */

/* What p11tls_list_tokens() reports for one token. Strings are valid only
 * during the callback. */
typedef struct p11tls_token_info {
    const char *uri;          /* pkcs11: URI naming the token */
    const char *label;
    const char *manufacturer;
    const char *model;
    const char *serial;
    const char *module_name;  /* p11-kit name, or the module's path */
    unsigned long slot_id;
    unsigned long flags;      /* CK_TOKEN_INFO flags, read at the listing
                                 (0.1.0: as first discovered):
                                 CKF_TOKEN_INITIALIZED is clear for an empty
                                 slot awaiting C_InitToken, such as
                                 SoftHSM's spare slot, whose label and
                                 serial are then empty */
    int fork_shared;          /* appended after 0.2.0: 1 if the token's
                                 module keeps sharing its state with forked
                                 children (tpm2-pkcs11), so that only the
                                 process that initialized it may use it:
                                 p11tls does not call it in that process's
                                 children (their calls fail with
                                 P11TLS_E_FORKED, or find no token). A
                                 program that forks workers opens such a
                                 token's keys in each worker after the fork,
                                 and uses the module before it in no
                                 process it forks from (doc/modules.md).
                                 0 otherwise */
} p11tls_token_info;

/* Return non-zero from a callback to stop the listing; that value is then
 * returned by the listing function. */
typedef int (*p11tls_token_cb)(void *arg, const p11tls_token_info *info);

/* Calls cb for each present token matching uri (NULL: all tokens),
 * uninitialized ones included (see flags). */
P11TLS_API int p11tls_list_tokens(p11tls_ctx *ctx, const char *uri,
                                  p11tls_token_cb cb, void *arg);

/* What p11tls_list_modules() reports for one module. */
typedef struct p11tls_module_info {
    const char *name;         /* p11-kit name, or the module's path */
    const char *path;         /* file name as configured, may be NULL */
    const char *description;  /* CK_INFO libraryDescription, or "" */
    int status;               /* 0, or the P11TLS_E_* it failed with */
    const char *error;        /* what failed, "" when status is 0 */
} p11tls_module_info;

typedef int (*p11tls_module_cb)(void *arg, const p11tls_module_info *info);

/* Calls cb for each module the context uses, including those that failed
 * to initialize (status < 0, error naming C_Initialize and the CKR_*
 * value), then for each path p11tls_ctx_add_module() could not load (name
 * and path are the path as given, status P11TLS_E_MODULE). */
P11TLS_API int p11tls_list_modules(p11tls_ctx *ctx, p11tls_module_cb cb, void *arg);

/* Object classes reported by p11tls_list_objects (PKCS#11 CKO_* values). */
#define P11TLS_CLASS_CERTIFICATE 1UL
#define P11TLS_CLASS_PUBLIC_KEY 2UL
#define P11TLS_CLASS_PRIVATE_KEY 3UL

/* Object attribute bits of p11tls_object_info.attributes: set when the
 * token reports the attribute as CK_TRUE (clear when it is CK_FALSE, absent
 * or not readable). */
#define P11TLS_OBJECT_PRIVATE (1UL << 0)             /* CKA_PRIVATE */
#define P11TLS_OBJECT_SENSITIVE (1UL << 1)           /* CKA_SENSITIVE */
#define P11TLS_OBJECT_ALWAYS_SENSITIVE (1UL << 2)    /* CKA_ALWAYS_SENSITIVE */
#define P11TLS_OBJECT_EXTRACTABLE (1UL << 3)         /* CKA_EXTRACTABLE */
#define P11TLS_OBJECT_NEVER_EXTRACTABLE (1UL << 4)   /* CKA_NEVER_EXTRACTABLE */
#define P11TLS_OBJECT_ALWAYS_AUTHENTICATE (1UL << 5) /* CKA_ALWAYS_AUTHENTICATE */
#define P11TLS_OBJECT_LOCAL (1UL << 6)               /* CKA_LOCAL: made on the token */
#define P11TLS_OBJECT_MODIFIABLE (1UL << 7)          /* CKA_MODIFIABLE */

/* What p11tls_list_objects() reports for one object. Pointers are valid
 * only during the callback. The members from attributes on were appended
 * in 0.2.0 (see above). */
typedef struct p11tls_object_info {
    const char *uri;          /* object URI, no PIN */
    const char *label;
    unsigned long object_class; /* CKO_* */
    int algorithm;            /* P11TLS_ALG_* for keys, 0 otherwise */
    const uint8_t *id;        /* CKA_ID */
    size_t id_len;
    const char *token_label;
    /* appended in 0.2.0 */
    unsigned long attributes; /* P11TLS_OBJECT_* bits */
    int bits;                 /* public and private keys: size in bits (RSA
                                 modulus; EC curve 256, 384, 521; Ed25519
                                 256 and Ed448 456, as GnuTLS counts them);
                                 0 if unknown or not such a key */
    const uint8_t *spki;      /* public and private keys: the public key as
                                 DER SubjectPublicKeyInfo, from the object
                                 or the public key or certificate with its
                                 CKA_ID; NULL if none can be read */
    size_t spki_len;
    const uint8_t *value;     /* certificates: CKA_VALUE, the DER
                                 certificate; NULL for other classes (a data
                                 or secret key value is never read) */
    size_t value_len;
} p11tls_object_info;

typedef int (*p11tls_object_cb)(void *arg, const p11tls_object_info *info);

/* List flags. */
#define P11TLS_LIST_LOGIN (1u << 0) /* log in first, to see private objects */

/* Calls cb for each object matching uri (NULL: every object on every token).
 * Without P11TLS_LIST_LOGIN no PIN is asked for and private objects of
 * tokens not yet logged in are not seen. With it, a PIN goes only where
 * p11tls_key_open() would send it (an object matching uri shown before
 * login): when uri matches several tokens that need a PIN and nothing says
 * which, P11TLS_E_AMBIGUOUS and no login; tokens that need a PIN and get
 * none are not listed. More than 100,000 matching objects
 * on one token fail with P11TLS_E_UNSUPPORTED (cb is not called for that
 * token): never a silently partial list. Uninitialized tokens hold no
 * objects and are skipped. */
P11TLS_API int p11tls_list_objects(p11tls_ctx *ctx, const char *uri,
                                   unsigned flags, p11tls_object_cb cb, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* P11TLS_P11TLS_H */
