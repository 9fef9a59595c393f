// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Waiting for a token: look, then poll the candidate modules for slot
// events (never blocking in the module: a blocking C_WaitForSlotEvent ends
// only with an event or C_Finalize) and sleep a short step, until the
// token is there or the time is up. Nothing is kept across steps but the
// deadline: every step looks up the current world, so a step in a forked
// child runs in the child's own PKCS#11 state.
#include "world/token_wait.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/log.hpp"
#include "uri/uri.hpp"
#include "world/matching.hpp"
#include "world/module_state.hpp"

namespace p11tls {

namespace {
// Between two looks. Slot events are polled (CKF_DONT_BLOCK) at this pace
// too, so a module with events is noticed within a step; one without is
// re-listed at ModuleState::kRescanInterval.
constexpr std::chrono::milliseconds kStep{50};

void sleep_for(std::chrono::steady_clock::duration d) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    if (ns <= 0) return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}
}  // namespace

void wait_for_token(const CtxState &ctx, const Uri &uri, unsigned timeout_ms) {
    using clock = std::chrono::steady_clock;
    const auto timeout = std::chrono::milliseconds(timeout_ms);
    uint64_t gen = current_generation();
    auto deadline = clock::now() + timeout;
    for (;;) {
        std::string why;
        if (!matching_tokens(ctx, uri, &why).empty()) return;
        if (current_generation() != gen) {
            // A wait that finds itself in a forked child (the module or a
            // PIN function forked under it) starts over there.
            gen = current_generation();
            deadline = clock::now() + timeout;
            debug("wait for a token: forked; waiting again in generation %llu",
                  (unsigned long long)gen);
            continue;
        }
        auto now = clock::now();
        if (now >= deadline)
            fail(P11TLS_E_TIMEOUT, "no token matching the URI appeared within " +
                                       std::to_string(timeout_ms) + " ms; " + why);
        bool event = false;
        for (ModuleState *ms : candidate_modules(ctx, uri)) {
            if (ms->poll_slot_event() > 0) {
                // The module says a slot changed: its slot list is news,
                // whatever the rescan rate.
                ms->rescan_slots(true);
                event = true;
            }
        }
        if (!event) sleep_for(std::min<clock::duration>(kStep, deadline - clock::now()));
    }
}

}  // namespace p11tls
