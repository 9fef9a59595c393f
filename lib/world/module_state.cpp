// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// A module in one generation: C_Initialize, slot and token discovery.
#include "world/module_state.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"
#include "pkcs11/padding.hpp"
#include "pkcs11/init_watch.hpp"
#include "uri/uri.hpp"

namespace p11tls {

namespace {
constexpr size_t kSlotRoom = 16;
// What p11-kit's RPC client reports as its library while it has no
// connection (p11-kit/rpc-client.c, its stand-in CK_INFO).
constexpr const char *kNoConnection = "p11-kit (no connection)";
}  // namespace

int ModuleState::ensure_initialized() {
    std::lock_guard<std::mutex> g(mu_);
    bool relink = false;
    if (init_done_) {
        if (!unlinked_ || std::chrono::steady_clock::now() < relink_at_) return init_status_;
        // A link module whose server was away: time to try again. Nothing
        // of this epoch reached a token (no connection, no session), so the
        // epoch goes on.
        relink = true;
    }
    init_done_ = true;
    // Not called at all: an ancestor initialized it, and its state came
    // along into this process (pkcs11/fork_sharing.hpp).
    error_ = inherited_state(mod_);
    if (!error_.empty()) {
        debug("%s", error_.c_str());
        return init_status_ = P11TLS_E_FORKED;
    }
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    // p11-kit uses our args instead of the module's configured ones.
    if (mod_->has_init_reserved) args.pReserved = (void *)mod_->init_reserved.c_str();
    // A later epoch: another caller finalized the module under p11-kit's
    // managed instance, which still counts it initialized.
    auto initialize = [&] {
        return epoch_ == 0 && !relink ? P11CALL(mod_, C_Initialize, (void *)&args)
                                      : initialize_again(mod_, &args);
    };
    CK_RV rv = initialize();
    if (rv == CKR_CANT_LOCK || rv == CKR_NEED_TO_CREATE_THREADS) {
        // A module that cannot use the OS's locks (or must not make
        // threads) is initialized without them, as GnuTLS 3.8.12 does (its
        // issue 1784): no flags and no mutex functions, which promises it
        // never two calls at once. Every call to it is then made under its
        // own lock (Module::serial). Not a NULL argument: p11-kit would
        // pass its own, which ask for OS locking again.
        debug("module %s: C_Initialize: %s; initializing it without OS locking, one call at a time",
              mod_->name.c_str(), ckr_name(rv));
        args.flags = 0;
        rv = initialize();
        if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
            mod_->no_os_locking.store(true, std::memory_order_release);
    }
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED && mod_->link)
        return unlink_locked(std::string("C_Initialize: ") + ckr_name(rv));
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        init_status_ = P11TLS_E_MODULE;
        error_ = "module " + mod_->name + ": C_Initialize: " + ckr_name(rv);
        // Not a warning: a module that fails here (tpm2-pkcs11 installed on
        // a machine without a TPM) would be reported by every command.
        // Listings report it, and so does a URI that then matches no token.
        debug("%s (module skipped)", error_.c_str());
        return init_status_;
    }
    rv = P11CALL(mod_, C_GetInfo, &info_);
    if (rv == CKR_CRYPTOKI_NOT_INITIALIZED && epoch_ == 0) {
        // p11-kit's managed module counts forks with its own atfork handler:
        // in a child made without handlers (_Fork, clone), or before its
        // handler ran, it answers CKR_CRYPTOKI_ALREADY_INITIALIZED for a
        // module that has reset itself. Our managed instance is finalized
        // and initialized once more (p11-kit finalizes the module itself
        // only if no other caller has it initialized).
        debug("module %s: not initialized in this process; initializing again", mod_->name.c_str());
        P11CALL(mod_, C_Finalize, (void *)nullptr);
        rv = P11CALL(mod_, C_Initialize, (void *)&args);
        if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) rv = P11CALL(mod_, C_GetInfo, &info_);
    }
    if (rv != CKR_OK) memset(&info_, 0, sizeof info_);
    unpad_nuls(info_);
    // p11-kit's client initializes without its server, and then answers
    // with stand-ins: this description, no slots.
    if (mod_->link && P11TLS_FIELD(info_.libraryDescription) == kNoConnection)
        return unlink_locked("no connection to its server");
    if (unlinked_) log_info("module %s: connected again", mod_->name.c_str());
    unlinked_ = false;
    mod_->relink_delay_ms.store(0, std::memory_order_relaxed);
    // Once per generation: the fork-sharing mark is the generation's.
    if (epoch_ == 0 && !relink) module_initialized(mod_, info_);
    init_no_.store(note_initialized(mod_), std::memory_order_release);
    return 0;
}

int ModuleState::unlink_locked(const std::string &why) {
    int delay = mod_->relink_delay_ms.load(std::memory_order_relaxed);
    delay = delay == 0 ? kRelinkFirstMs : std::min(delay * 2, kRelinkMaxMs);
    mod_->relink_delay_ms.store(delay, std::memory_order_relaxed);
    relink_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay);
    if (!unlinked_) log_info("module %s: %s; connecting again with back-off", mod_->name.c_str(), why.c_str());
    unlinked_ = true;
    init_status_ = 0;
    memset(&info_, 0, sizeof info_);
    slot_error_ = "module " + mod_->name + ": " + why + "; next attempt to connect in " +
                  std::to_string(delay) + " ms";
    debug("%s", slot_error_.c_str());
    return 0;
}

bool ModuleState::stale() const {
    return ended_.load() || init_lost(mod_, init_no_.load(std::memory_order_acquire));
}

namespace {
// The EpochUses this thread holds, by epoch (a thread holds one or two at
// once; past kOwnMax distinct ones they are not counted, and end_epoch()
// would wait for them until its bound). Trivially destructible.
constexpr int kOwnMax = 8;
struct OwnUse {
    const ModuleState *ms;
    int n;
};
thread_local OwnUse t_own[kOwnMax];

void count_own(const ModuleState *ms, int delta) {
    for (OwnUse &u : t_own)
        if (u.ms == ms && u.n > 0) {
            u.n += delta;
            return;
        }
    if (delta < 0) return;
    for (OwnUse &u : t_own)
        if (u.n == 0) {
            u = {ms, delta};
            return;
        }
}

int own_uses(const ModuleState *ms) {
    for (const OwnUse &u : t_own)
        if (u.ms == ms && u.n > 0) return u.n;
    return 0;
}
}  // namespace

bool ModuleState::end_epoch() {
    ended_.store(true);  // SEQ_CST, against EpochUse's count then load
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDrainMs);
    const int own = own_uses(this);
    while (uses_.load() > own) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        struct timespec ts = {0, 1000000};  // 1 ms: calls on a finalized module fail at once
        nanosleep(&ts, nullptr);
    }
    // What the epoch's tokens kept goes now; the states stay (bindings).
    std::lock_guard<std::mutex> g(mu_);
    for (auto &t : tokens_) t->mark_lost();
    return true;
}

EpochUse::EpochUse(ModuleState *ms) : ms_(ms), gen_(current_generation()) {
    ms_->uses_.fetch_add(1);  // SEQ_CST: either end_epoch() sees this use, or we see it ended
    if (ms_->ended_.load()) {
        ms_->uses_.fetch_sub(1);
        // (not counted as this thread's: never held)
        mark_state_lost();
        fail(P11TLS_E_MODULE, "module " + ms_->module()->name +
                                  " was initialized again after another caller finalized it; the call starts over");
    }
    count_own(ms_, 1);
}

EpochUse::~EpochUse() {
    if (current_generation() != gen_) return;
    count_own(ms_, -1);
    ms_->uses_.fetch_sub(1);
}

bool ModuleState::unlinked() {
    std::lock_guard<std::mutex> g(mu_);
    return unlinked_;
}

std::vector<TokenState *> ModuleState::tokens() {
    std::vector<TokenState *> out;
    if (ensure_initialized() != 0 || unlinked()) return out;
    // Room for the usual number of slots first: one call instead of two.
    std::vector<CK_SLOT_ID> slots(kSlotRoom);
    CK_ULONG n = slots.size();
    CK_RV rv = P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_TRUE, slots.data(), &n);
    if (rv == CKR_BUFFER_TOO_SMALL) {
        n = 0;
        rv = P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_TRUE, (CK_SLOT_ID *)nullptr, &n);
        slots.resize(n);
        if (rv == CKR_OK && n > 0)
            rv = P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_TRUE, slots.data(), &n);
    }
    std::lock_guard<std::mutex> g(mu_);
    if (rv != CKR_OK) {
        slot_error_ = "module " + mod_->name + ": C_GetSlotList: " + ckr_name(rv) + fork_sharing_note(mod_, rv);
        return out;
    }
    slot_error_.clear();
    slots.resize(std::min<size_t>(n, slots.size()));
    // A token in a removable slot that is no longer listed was removed,
    // even if it is back by the next look (OpenSC drops every session of a
    // card pulled out, and its login): it is found again as a new
    // TokenState. A fixed one stays (as in the loop below; SoftHSM's list
    // can miss a token while another process rewrites its files).
    for (auto &t : tokens_)
        if (!t->fixed() && !t->lost() && std::find(slots.begin(), slots.end(), t->slot()) == slots.end())
            t->mark_lost();
    for (CK_SLOT_ID id : slots) {
        // C_GetTokenInfo is a round trip to the device (~40 us even for
        // SoftHSM, which re-reads its token file), made on every open: a
        // token that cannot change under us is taken as known.
        TokenState *known = nullptr;
        for (auto &t : tokens_)
            if (t->slot() == id && !t->lost()) known = t.get();
        if (known && known->fixed()) {
            out.push_back(known);
            continue;
        }
        CK_TOKEN_INFO ti;
        if (P11CALL(mod_, C_GetTokenInfo, id, &ti) != CKR_OK) {
            // A failure here can be passing (SoftHSM returns CKR_GENERAL_ERROR
            // while forked children re-read its files): it must not hide a
            // token this generation already knows in that slot. A removed
            // token is dropped by C_GetSlotList, or by mark_lost().
            if (known) out.push_back(known);
            continue;
        }
        unpad_nuls(ti);
        TokenState *found = nullptr;
        for (auto &t : tokens_)
            if (t->slot() == id && !t->lost() && t->same_token(ti)) found = t.get();
        if (!found) {
            CK_SLOT_INFO si;
            if (P11CALL(mod_, C_GetSlotInfo, id, &si) != CKR_OK) continue;
            unpad_nuls(si);
            tokens_.push_back(std::make_unique<TokenState>(this, id, si, ti));
            found = tokens_.back().get();
        }
        out.push_back(found);
    }
    return out;
}

std::vector<TokenState *> ModuleState::tokens_like(const CK_TOKEN_INFO &info, bool has_prefer, CK_SLOT_ID prefer) {
    std::vector<TokenState *> out;
    for (int look = 0; look < 2 && out.empty(); ++look) {
        if (look == 1 && !rescan_slots()) break;
        for (TokenState *t : tokens())
            if (t->same_token(info)) out.push_back(t);
    }
    if (has_prefer)
        std::stable_partition(out.begin(), out.end(), [&](TokenState *t) { return t->slot() == prefer; });
    return out;
}

bool ModuleState::rescan_slots(bool force) {
    if (ensure_initialized() != 0 || unlinked()) return false;
    {
        std::lock_guard<std::mutex> g(mu_);
        auto now = std::chrono::steady_clock::now();
        if (!force && rescanned_ && now - last_rescan_ < kRescanInterval) return false;
        rescanned_ = true;
        last_rescan_ = now;
    }
    CK_ULONG n = 0;
    P11CALL(mod_, C_GetSlotList, (CK_BBOOL)CK_FALSE, (CK_SLOT_ID *)nullptr, &n);  // logged if it fails
    return true;
}

int ModuleState::poll_slot_event() {
    if (ensure_initialized() != 0 || unlinked()) return -1;
    {
        std::lock_guard<std::mutex> g(mu_);
        if (no_slot_events_) return -1;
    }
    CK_SLOT_ID slot = 0;
    CK_RV rv = P11CALL(mod_, C_WaitForSlotEvent, (CK_FLAGS)CKF_DONT_BLOCK, &slot, (void *)nullptr);
    if (rv == CKR_OK) return 1;
    if (rv == CKR_NO_EVENT) return 0;
    // CKR_FUNCTION_NOT_SUPPORTED, or a failure: polling the slot list
    // serves as well.
    debug("module %s: C_WaitForSlotEvent: %s; polling its slots instead", mod_->name.c_str(),
          ckr_name(rv));
    std::lock_guard<std::mutex> g(mu_);
    no_slot_events_ = true;
    return -1;
}

std::string ModuleState::slot_error() {
    std::lock_guard<std::mutex> g(mu_);
    return slot_error_;
}

}  // namespace p11tls
