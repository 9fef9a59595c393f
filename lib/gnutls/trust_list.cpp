// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Trust anchors and distrust from PKCS#11 tokens in a GnuTLS trust list.
//
// The tokens are read once (when a URI is added, at an explicit refresh, and
// by the automatic refresh at most every P11TLS_TRUST_REFRESH_SECONDS) and
// GnuTLS verifies from memory: anchors go into the list's own hash table
// (gnutls_x509_trust_list_add_cas), distrusted certificates into its
// blocklist (gnutls_x509_trust_list_remove_cas, which also drops them from
// the table), and the issuer callback answers from an IssuerIndex, searching
// the tokens only for a subject it has not seen (once per refresh).
//
// A list's state is reached from the list through its user pointer, and kept
// in a registry by the list's address so that it stays reachable (GnuTLS
// has no hook at gnutls_x509_trust_list_deinit): a later list at the same
// address, whose pointer is not ours, replaces it.
#include "gnutls/trust_list.hpp"

#include <p11tls/gnutls.h>

#include <atomic>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "base/fork.hpp"
#include "base/log.hpp"
#include "capi/guard.hpp"
#include "cert/trust.hpp"
#include "gnutls/errmap.hpp"
#include "gnutls/trust_index.hpp"
#include "world/context.hpp"

using namespace p11tls;

namespace {

std::atomic<int64_t> g_refresh_delay_ms{-1};  // < 0: the default

int64_t refresh_delay_ms() {
    int64_t v = g_refresh_delay_ms.load(std::memory_order_relaxed);
    return v < 0 ? int64_t(P11TLS_TRUST_REFRESH_SECONDS) * 1000 : v;
}

int64_t now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Subjects searched on the tokens, found or not, remembered until the next
// refresh so that an unknown issuer costs one search, not one per
// verification. Bounded: a peer choosing issuer names must not grow it.
constexpr size_t kMaxMissed = 4096;
// Deepest chain the issuer lookup hands GnuTLS.
constexpr unsigned kMaxIssuers = 8;

gnutls_x509_crt_t parse(const Der &der) {
    gnutls_x509_crt_t c;
    if (gnutls_x509_crt_init(&c) < 0) return nullptr;
    gnutls_datum_t d = {const_cast<unsigned char *>(der.data()), static_cast<unsigned>(der.size())};
    if (gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crt_deinit(c);
        return nullptr;
    }
    return c;
}

// Reads of tokens are numbered before they start, process-wide, so that of
// two reads of one source the later one wins whatever order they finish in.
std::atomic<uint64_t> g_read_ticket{0};
uint64_t next_read_ticket() { return g_read_ticket.fetch_add(1, std::memory_order_relaxed) + 1; }

struct Source {
    std::shared_ptr<CtxState> ctx;
    std::string uri;
    uint64_t ticket;  // of the read that gave last
    // As last read; shared, so that copying a list's sources (under its
    // lock) copies no certificates.
    std::shared_ptr<const TrustObjects> last;
};

class TrustList {
public:
    TrustList(gnutls_x509_trust_list_t list, unsigned flags) : list_(list), flags_(flags) {}

    // Adds what uri's tokens said (read by the caller, ticket taken before
    // the read); the number of anchors found through uri.
    int add(const std::shared_ptr<CtxState> &ctx, const char *uri, uint64_t ticket,
            TrustObjects objects) {
        Source src{ctx, uri, ticket, std::make_shared<const TrustObjects>(std::move(objects))};
        int n = static_cast<int>(src.last->anchors.size());
        {
            GenSpinGuard g(lock_);
            sources_.push_back(src);
            version_++;
        }
        apply();
        return n;
    }

    // Reads every source's tokens again and applies the changes; the number
    // of changes. A source that cannot be read keeps what it said last; the
    // first such error is thrown after the others are applied.
    int refresh() {
        std::vector<Source> sources;
        {
            GenSpinGuard g(lock_);
            sources = sources_;
        }
        int first_error = 0;
        std::string detail;
        for (Source &s : sources) {
            s.ticket = next_read_ticket();
            int rc = guard(__func__, s.ctx->log(), [&] {
                s.last = std::make_shared<const TrustObjects>(read_trust(*s.ctx, s.uri.c_str()));
                return 0;
            });
            if (rc < 0 && !first_error) {
                first_error = rc;
                detail = p11tls_last_error_detail();
            }
            if (rc < 0) s.ticket = 0;  // nothing new
        }
        {
            GenSpinGuard g(lock_);
            for (const Source &s : sources)
                for (Source &mine : sources_)
                    if (mine.ctx == s.ctx && mine.uri == s.uri && s.ticket > mine.ticket) {
                        mine.last = s.last;
                        mine.ticket = s.ticket;
                        version_++;
                    }
        }
        int changes = apply();
        if (first_error) fail(first_error, detail);
        return changes;
    }

    // The issuer callback's answer, as DER copies (no lock held while
    // GnuTLS parses them).
    std::vector<Der> issuers_of(gnutls_x509_crt_t cert) {
        maybe_refresh();
        std::shared_ptr<const IssuerIndex> index;
        {
            GenSpinGuard g(lock_);
            index = index_;
        }
        std::vector<Der> out;
        std::string missing;
        if (index)
            for (const Der *d : index->issuers_of(cert, kMaxIssuers, &missing)) out.push_back(*d);
        else
            missing = raw_issuer_dn(cert);
        if (!missing.empty() && out.empty()) search_missing(missing, out);
        return out;
    }

    gnutls_x509_trust_list_t list() const { return list_; }

private:
    // Makes the list say what the sources say now: new anchors added,
    // anchors gone and distrusted certificates blocklisted. The index is
    // built without the lock, and built again if the sources changed
    // meanwhile. Returns the number of changes.
    int apply() {
        for (;;) {
            std::vector<Source> sources;
            uint64_t version;
            {
                GenSpinGuard g(lock_);
                sources = sources_;
                version = version_;
            }
            std::set<Der> anchors, distrusted;
            std::vector<Der> certs;
            for (const Source &s : sources) {
                anchors.insert(s.last->anchors.begin(), s.last->anchors.end());
                distrusted.insert(s.last->distrusted.begin(), s.last->distrusted.end());
                certs.insert(certs.end(), s.last->certificates.begin(), s.last->certificates.end());
            }
            auto index = std::make_shared<const IssuerIndex>(certs);
            GenSpinGuard g(lock_);
            if (version == version_) return apply_locked(anchors, distrusted, index);
        }
    }

    // With lock_ held.
    int apply_locked(const std::set<Der> &anchors, const std::set<Der> &distrusted,
                     const std::shared_ptr<const IssuerIndex> &index) {
        int changes = 0;
        // The list's blocklist cannot be undone: what was refused once stays
        // refused (doc/gnutls.md), and is never added back as an anchor
        // (GnuTLS checks the blocklist against the chain, not the anchor).
        for (const Der &d : distrusted)
            if (!blocked_.count(d)) changes += block(d);
        for (auto it = applied_.begin(); it != applied_.end();) {
            if (anchors.count(*it)) {
                ++it;
                continue;
            }
            if (!blocked_.count(*it)) changes += block(*it);
            it = applied_.erase(it);
        }
        for (const Der &d : anchors) {
            if (applied_.count(d) || blocked_.count(d)) continue;
            gnutls_x509_crt_t c = parse(d);
            if (!c) continue;
            // The list owns c when it took it (1); 0 is out of memory.
            if (gnutls_x509_trust_list_add_cas(list_, &c, 1, 0) == 1) {
                applied_.insert(d);
                changes++;
            } else {
                gnutls_x509_crt_deinit(c);
            }
        }
        index_ = index;
        missed_.clear();
        found_.clear();
        scanned_ms_.store(now_ms(), std::memory_order_relaxed);
        return changes;
    }

    int block(const Der &d) {  // with lock_ held
        gnutls_x509_crt_t c = parse(d);
        if (!c) return 0;
        gnutls_x509_trust_list_remove_cas(list_, &c, 1);
        gnutls_x509_crt_deinit(c);  // remove_cas keeps its own copy
        blocked_.insert(d);
        return 1;
    }

    // The automatic refresh: when the tokens were read longer ago than the
    // delay, by one thread at a time (the others answer from what is there;
    // a scan interrupted by fork does not block the child).
    void maybe_refresh() {
        if (flags_ & P11TLS_TRUST_NO_AUTO_REFRESH) return;
        if (now_ms() - scanned_ms_.load(std::memory_order_relaxed) < refresh_delay_ms()) return;
        uint64_t gen = current_generation();
        uint64_t cur = scanning_.load(std::memory_order_acquire);
        if (cur == gen || !scanning_.compare_exchange_strong(cur, gen)) return;
        try {
            int changes = refresh();
            debug("trust list: automatic refresh, %d changes", changes);
        } catch (...) {
            // Keeps what it had; the error went to the context's log.
        }
        scanning_.store(0, std::memory_order_release);
    }

    // A subject the index does not know: searched on the tokens once per
    // refresh (certificates added since the last read).
    void search_missing(const std::string &subject, std::vector<Der> &out) {
        std::vector<Source> sources;
        {
            GenSpinGuard g(lock_);
            if (missed_.count(subject)) return;
            auto it = found_.find(subject);
            if (it != found_.end()) {
                out = it->second;
                return;
            }
            sources = sources_;
        }
        Der dn(subject.begin(), subject.end());
        for (const Source &s : sources)
            guard(__func__, s.ctx->log(), [&] {
                for (Der &d : certs_with_subject(*s.ctx, s.uri.c_str(), dn)) out.push_back(std::move(d));
                return 0;
            });
        GenSpinGuard g(lock_);
        if (missed_.size() + found_.size() >= kMaxMissed) {
            missed_.clear();
            found_.clear();
        }
        if (out.empty())
            missed_.insert(subject);
        else
            found_[subject] = out;
    }

    const gnutls_x509_trust_list_t list_;
    const unsigned flags_;
    std::atomic<int64_t> scanned_ms_{0};  // when the tokens were last read
    std::atomic<uint64_t> scanning_{0};   // generation of the thread refreshing, 0 if none
    // Guards everything below. Never held across a module call or a GnuTLS
    // verification; a holder lost in fork does not block the child.
    GenSpinLock lock_;
    std::vector<Source> sources_;
    uint64_t version_ = 0;   // bumped whenever sources_ changes
    std::set<Der> applied_;  // anchors this list got from us
    std::set<Der> blocked_;  // certificates this list blocklists because of us
    std::shared_ptr<const IssuerIndex> index_;
    std::set<std::string> missed_;                 // subjects not on the tokens
    std::map<std::string, std::vector<Der>> found_;  // subjects found since the last read
};

// Every list's state, by the list's address (see the top of the file).
// Never freed: states must stay valid for lists used after fork.
GenSpinLock g_registry_lock;                                   // guards g_registry
std::map<gnutls_x509_trust_list_t, TrustList *> *g_registry;  // guarded by g_registry_lock

int issuer_callback(gnutls_x509_trust_list_t list, const gnutls_x509_crt_t cert,
                    gnutls_x509_crt_t **issuers, unsigned int *issuers_size) {
    *issuers = nullptr;
    *issuers_size = 0;
    auto *state = static_cast<TrustList *>(gnutls_x509_trust_list_get_ptr(list));
    if (!state || state->list() != list) return 0;
    std::vector<Der> ders;
    int rc = guard(__func__, [&] {
        ders = state->issuers_of(cert);
        return 0;
    });
    if (rc < 0 || ders.empty()) return 0;
    auto *out = static_cast<gnutls_x509_crt_t *>(gnutls_malloc(ders.size() * sizeof(gnutls_x509_crt_t)));
    if (!out) return 0;
    // A chain, each issuing the one before: of several certificates found
    // with one subject, those that do not issue (another key) are left out.
    unsigned n = 0;
    gnutls_x509_crt_t cur = cert;
    for (const Der &d : ders) {
        gnutls_x509_crt_t c = parse(d);
        if (c && gnutls_x509_crt_check_issuer(cur, c)) {
            out[n++] = cur = c;
        } else if (c) {
            gnutls_x509_crt_deinit(c);
        }
    }
    *issuers = out;  // GnuTLS frees the array and the certificates
    *issuers_size = n;
    return 0;
}

// The state of list, made on first use.
TrustList *state_of_list(gnutls_x509_trust_list_t list, unsigned flags) {
    GenSpinGuard g(g_registry_lock);
    if (!g_registry) g_registry = new std::map<gnutls_x509_trust_list_t, TrustList *>;
    TrustList *&slot = (*g_registry)[list];
    if (slot && gnutls_x509_trust_list_get_ptr(list) == slot) return slot;
    delete slot;  // a freed list's, at the same address
    slot = new TrustList(list, flags);
    gnutls_x509_trust_list_set_ptr(list, slot);
    gnutls_x509_trust_list_set_getissuer_function(list, issuer_callback);
    return slot;
}

TrustList *existing_state(gnutls_x509_trust_list_t list) {
    GenSpinGuard g(g_registry_lock);
    if (!g_registry) return nullptr;
    auto it = g_registry->find(list);
    if (it == g_registry->end() || gnutls_x509_trust_list_get_ptr(list) != it->second) return nullptr;
    return it->second;
}

}  // namespace

namespace p11tls {

void set_trust_refresh_delay_ms_for_tests(int64_t ms) {
    g_refresh_delay_ms.store(ms, std::memory_order_relaxed);
}

}  // namespace p11tls

extern "C" int p11tls_gnutls_trust_list_add(gnutls_x509_trust_list_t list, p11tls_ctx *ctx,
                                            const char *uri, unsigned flags) {
    if (!list || !uri || (flags & ~P11TLS_TRUST_NO_AUTO_REFRESH)) return GNUTLS_E_INVALID_REQUEST;
    const std::shared_ptr<CtxState> &state = state_of(ctx);
    int n = 0;
    int rc = guard(__func__, state->log(), [&] {
        // Read first: a URI that fails leaves the list as it was.
        uint64_t ticket = next_read_ticket();
        TrustObjects objects = read_trust(*state, uri);
        n = state_of_list(list, flags)->add(state, uri, ticket, std::move(objects));
        return 0;
    });
    return rc < 0 ? gnutls_error_of(rc) : n;
}

extern "C" int p11tls_gnutls_trust_list_refresh(gnutls_x509_trust_list_t list, unsigned flags) {
    if (!list || flags) return GNUTLS_E_INVALID_REQUEST;
    TrustList *state = existing_state(list);
    if (!state) return GNUTLS_E_INVALID_REQUEST;
    int n = 0;
    int rc = guard(__func__, [&] {
        n = state->refresh();
        return 0;
    });
    return rc < 0 ? gnutls_error_of(rc) : n;
}
