// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Trust anchors and distrust from PKCS#11 tokens in a GnuTLS trust list.
//
// The tokens are read once (when a URI is added, at an explicit refresh, and
// by the automatic refresh at most every P11TLS_TRUST_REFRESH_SECONDS) and
// GnuTLS verifies from memory: anchors go into the list's own hash table
// (gnutls_x509_trust_list_add_cas) in the tokens' order, with the
// extensions the tokens staple to them applied (gnutls/stapled.hpp);
// distrusted certificates go on its blocklist
// (gnutls_x509_trust_list_remove_cas, which also drops them from the
// table) and, by issuer and serial number, into unsigned CRLs
// (gnutls/distrust_crl.hpp); the issuer callback answers from an
// IssuerIndex of the certificates read, hits and misses alike.
//
// GnuTLS calls into p11tls during a verification only through that
// callback, which it calls only for a chain with a gap (an issuer neither
// sent nor an anchor): a chain that ends at an anchor is verified with no
// p11tls code at all. So the automatic refresh runs there, and a caller
// that must see removals and distrust within the delay whatever the peers
// send calls p11tls_gnutls_trust_list_refresh(list,
// P11TLS_TRUST_REFRESH_IF_DUE) before it verifies (a clock read when not
// due; include/p11tls/gnutls.h).
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
#include "gnutls/der.hpp"
#include "gnutls/distrust_crl.hpp"
#include "gnutls/errmap.hpp"
#include "gnutls/stapled.hpp"
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

// Deepest chain the issuer lookup hands GnuTLS.
constexpr unsigned kMaxIssuers = 8;

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

    // The automatic refresh's check, made by the issuer lookup and by
    // p11tls_gnutls_trust_list_refresh(P11TLS_TRUST_REFRESH_IF_DUE): reads
    // the tokens again when they were read longer ago than the delay, by
    // one thread at a time (the others answer from what is there; a scan
    // interrupted by fork does not block the child). The number of changes.
    int refresh_if_due() {
        if (now_ms() - scanned_ms_.load(std::memory_order_relaxed) < refresh_delay_ms()) return 0;
        uint64_t gen = current_generation();
        uint64_t cur = scanning_.load(std::memory_order_acquire);
        if (cur == gen || !scanning_.compare_exchange_strong(cur, gen)) return 0;
        struct Done {
            std::atomic<uint64_t> &flag;
            ~Done() { flag.store(0, std::memory_order_release); }
        } done{scanning_};
        return refresh();
    }

    // The issuer callback's answer from memory, as DER copies (no lock
    // held while GnuTLS parses them). A certificate written on a token
    // since the last read is seen at the next refresh, not searched for:
    // a peer naming unknown issuers costs no token search.
    std::vector<Der> issuers_of(gnutls_x509_crt_t cert) {
        if (!(flags_ & P11TLS_TRUST_NO_AUTO_REFRESH)) {
            try {
                if (int changes = refresh_if_due())
                    debug("trust list: automatic refresh, %d changes", changes);
            } catch (...) {
                // Keeps what it had; the error went to the context's log.
            }
        }
        std::shared_ptr<const IssuerIndex> index;
        {
            GenSpinGuard g(lock_);
            index = index_;
        }
        std::vector<Der> out;
        std::string missing;
        if (index)
            for (const Der *d : index->issuers_of(cert, kMaxIssuers, &missing)) out.push_back(*d);
        return out;
    }

    gnutls_x509_trust_list_t list() const { return list_; }

private:
    // Makes the list say what the sources say now: new anchors added,
    // anchors gone and distrusted certificates blocklisted, new distrust by
    // serial number in CRLs. The index is built without the lock, and
    // built again if the sources changed meanwhile. Returns the number of
    // changes.
    int apply() {
        for (;;) {
            std::vector<Source> sources;
            uint64_t version;
            {
                GenSpinGuard g(lock_);
                sources = sources_;
                version = version_;
            }
            Wanted want;
            std::set<Der> anchor_ders;
            std::vector<Der> certs;
            for (const Source &s : sources) {
                for (const Anchor &a : s.last->anchors)
                    if (anchor_ders.insert(a.der).second) want.anchors.push_back(a);
                want.distrusted.insert(s.last->distrusted.begin(), s.last->distrusted.end());
                want.serials.insert(s.last->distrusted_serials.begin(),
                                    s.last->distrusted_serials.end());
                certs.insert(certs.end(), s.last->certificates.begin(), s.last->certificates.end());
            }
            auto index = std::make_shared<const IssuerIndex>(certs);
            GenSpinGuard g(lock_);
            if (version == version_) return apply_locked(want, index);
        }
    }

    // What the sources say, merged.
    struct Wanted {
        std::vector<Anchor> anchors;  // in the sources' order, each once
        std::set<Der> distrusted;
        std::set<IssuerSerial> serials;
    };

    // An anchor as this list has it in GnuTLS's table.
    struct Applied {
        std::vector<Der> extensions;  // stapled when added
        std::vector<Der> added;       // the DER of each copy GnuTLS has
        IssuerSerial key;             // its issuer and serial number
    };

    // With lock_ held.
    int apply_locked(const Wanted &want, const std::shared_ptr<const IssuerIndex> &index) {
        int changes = 0;
        // The list's blocklist cannot be undone: what was refused once stays
        // refused (doc/gnutls.md), and is never added back as an anchor
        // (GnuTLS checks the blocklist against the chain, not the anchor).
        for (const Der &d : want.distrusted)
            if (!blocked_.count(d)) changes += block(d);
        changes += add_serials(want.serials);
        std::map<Der, const Anchor *> wanted;
        for (const Anchor &a : want.anchors) wanted[a.der] = &a;
        for (auto it = applied_.begin(); it != applied_.end();) {
            auto w = wanted.find(it->first);
            if (w != wanted.end() && w->second->extensions == it->second.extensions &&
                !blocked_.count(it->first) && !want.serials.count(it->second.key)) {
                ++it;
                continue;
            }
            // Gone, distrusted (by any source), or stapled differently now:
            // out of the table (and on the blocklist, as GnuTLS's removal
            // does; so it stays out of this list).
            for (const Der &d : it->second.added)
                if (!blocked_.count(d)) changes += block(d);
            it = applied_.erase(it);
        }
        for (const Anchor &a : want.anchors)
            if (!applied_.count(a.der) && !blocked_.count(a.der)) changes += add_anchor(a, want.serials);
        index_ = index;
        scanned_ms_.store(now_ms(), std::memory_order_relaxed);
        return changes;
    }

    // Puts a into GnuTLS's table. With extensions stapled, two copies:
    // the certificate as it is, first, so that a peer presenting the
    // anchor itself matches it (GnuTLS compares the whole certificate
    // there, as its own PKCS#11 trust compares it with the token's), and
    // the one with the extensions, after it, which GnuTLS prefers as the
    // issuer of the certificates below (the last valid one among those
    // of one name and key). Not if another source distrusts it by serial
    // number. 1 if added, 0 if not. With lock_ held.
    int add_anchor(const Anchor &a, const std::set<IssuerSerial> &distrusted) {
        const char *why = nullptr;
        gnutls_x509_crt_t c = stapled_certificate(a, &why);
        if (!c) {
            debug("trust list: an anchor left out: %s", why);
            return 0;
        }
        const IssuerSerial key = issuer_serial_of(c);
        if (distrusted.count(key)) {
            gnutls_x509_crt_deinit(c);
            return 0;
        }
        // GnuTLS's own PKCS#11 trust checks the anchor's extended key usage
        // (stapled or its own) for the purpose of the verification (TLS WWW
        // server when none is given); a verification against a trust list
        // checks the chain's certificates but not the anchor it ends at.
        // So the list's purpose decides here: an anchor that does not allow
        // it (a root restricted to e-mail) is left out.
        const char *purpose = (flags_ & P11TLS_TRUST_FOR_CLIENTS) ? GNUTLS_KP_TLS_WWW_CLIENT
                                                                 : GNUTLS_KP_TLS_WWW_SERVER;
        if (!gnutls_x509_crt_check_key_purpose(c, purpose, 0)) {
            gnutls_x509_crt_deinit(c);
            return 0;
        }
        Applied record{a.extensions, {}, key};
        std::vector<gnutls_x509_crt_t> copies;
        if (!a.extensions.empty()) {
            if (gnutls_x509_crt_t original = crt_from_der(a.der)) copies.push_back(original);
            record.added.push_back(a.der);
            record.added.push_back(der_of(c));
        } else {
            record.added.push_back(a.der);
        }
        copies.push_back(c);
        for (gnutls_x509_crt_t &copy : copies)
            // The list owns copy when it took it (1); 0 is out of memory.
            if (gnutls_x509_trust_list_add_cas(list_, &copy, 1, 0) != 1) gnutls_x509_crt_deinit(copy);
        applied_.emplace(a.der, std::move(record));
        return 1;
    }

    int block(const Der &d) {  // with lock_ held
        gnutls_x509_crt_t c = crt_from_der(d);
        if (!c) return 0;
        gnutls_x509_trust_list_remove_cas(list_, &c, 1);
        gnutls_x509_crt_deinit(c);  // remove_cas keeps its own copy
        blocked_.insert(d);
        return 1;
    }

    // Distrust by serial number not applied yet: one CRL per issuer
    // (the list owns it). With lock_ held.
    int add_serials(const std::set<IssuerSerial> &serials) {
        std::map<Der, std::vector<Der>> by_issuer;
        for (const IssuerSerial &k : serials)
            if (!crl_serials_.count(k)) by_issuer[k.first].push_back(k.second);
        int changes = 0;
        for (const auto &[issuer, nums] : by_issuer) {
            gnutls_x509_crl_t crl = distrust_crl(issuer, nums, time(nullptr));
            if (!crl) {
                debug("trust list: distrust by serial number of an issuer GnuTLS cannot parse");
                continue;
            }
            if (gnutls_x509_trust_list_add_crls(list_, &crl, 1, 0, 0) != 1) {
                gnutls_x509_crl_deinit(crl);
                continue;
            }
            for (const Der &n : nums) crl_serials_.insert({issuer, n});
            changes += static_cast<int>(nums.size());
        }
        return changes;
    }

    // As CKA_ISSUER and CKA_SERIAL_NUMBER hold them: the DER name and the
    // DER INTEGER.
    static IssuerSerial issuer_serial_of(gnutls_x509_crt_t c) {
        IssuerSerial out;
        gnutls_datum_t dn = {nullptr, 0};
        if (gnutls_x509_crt_get_raw_issuer_dn(c, &dn) >= 0) out.first.assign(dn.data, dn.data + dn.size);
        gnutls_free(dn.data);
        unsigned char serial[128];
        size_t n = sizeof serial;
        if (gnutls_x509_crt_get_serial(c, serial, &n) >= 0)
            out.second = der_integer_from_bytes(Der(serial, serial + n));
        return out;
    }

    static Der der_of(gnutls_x509_crt_t c) {
        gnutls_datum_t d = {nullptr, 0};
        if (gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &d) < 0) return {};
        Der out(d.data, d.data + d.size);
        gnutls_free(d.data);
        return out;
    }

    const gnutls_x509_trust_list_t list_;
    const unsigned flags_;
    std::atomic<int64_t> scanned_ms_{0};  // when the tokens were last read
    std::atomic<uint64_t> scanning_{0};   // generation of the thread refreshing, 0 if none
    // Guards everything below. Never held across a module call or a GnuTLS
    // verification; a holder lost in fork does not block the child.
    GenSpinLock lock_;
    std::vector<Source> sources_;
    uint64_t version_ = 0;           // bumped whenever sources_ changes
    std::map<Der, Applied> applied_;  // anchors this list got from us, by their token DER
    std::set<Der> blocked_;          // certificates this list blocklists because of us
    std::set<IssuerSerial> crl_serials_;  // distrust by serial number in its CRLs
    std::shared_ptr<const IssuerIndex> index_;
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
        gnutls_x509_crt_t c = crt_from_der(d);
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
    if (!list || !uri || (flags & ~(P11TLS_TRUST_NO_AUTO_REFRESH | P11TLS_TRUST_FOR_CLIENTS)))
        return GNUTLS_E_INVALID_REQUEST;
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
    if (!list || (flags & ~P11TLS_TRUST_REFRESH_IF_DUE)) return GNUTLS_E_INVALID_REQUEST;
    TrustList *state = existing_state(list);
    if (!state) return GNUTLS_E_INVALID_REQUEST;
    int n = 0;
    int rc = guard(__func__, [&] {
        n = (flags & P11TLS_TRUST_REFRESH_IF_DUE) ? state->refresh_if_due() : state->refresh();
        return 0;
    });
    return rc < 0 ? gnutls_error_of(rc) : n;
}
