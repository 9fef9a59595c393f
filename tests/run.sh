#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# run.sh SUITE[.rof-true|.rof-false][.test] [ARGS...]
#
# The one driver of the test suites that need a token (or a setup of their
# own): make check runs it as the log compiler of the .test suites
# (TEST_LOG_COMPILER in tests/Makefile.am), which are empty files named
# tests/suites/SUITE.rof-false.test and the like. The name says everything:
# SUITE picks the program from the table below; rof-true/rof-false is
# SoftHSM's library.reset_on_fork for tests/with-token.sh (default false).
# The first line of each log says what ran with which setting.
#
#   one suite:        make check TESTS=tests/suites/integration.rof-false.test
#   by hand, filtered: bash tests/run.sh integration.rof-true --gtest_filter='Fork*'
#                     (from the build directory; ARGS go to the program)
#
# ADDING A SUITE: one line in the table, and its names in P11TLS_SUITES
# (tests/Makefile.am).
set -euo pipefail

if [ "$#" -lt 1 ]; then
    echo "usage: $0 SUITE[.rof-true|.rof-false][.test] [ARGS...]" >&2
    exit 99
fi
name=$(basename "$1" .test)
shift
src=${srcdir:-.}
suite=${name%%.*}
case $name in
    *.rof-true) rof=true ;;
    *.rof-false|"$suite") rof=false ;;
    *) echo "$0: cannot read the setting in '$name' (SUITE.rof-true or SUITE.rof-false)" >&2
       exit 99 ;;
esac

# The fork storm is not run under ASan: 1 child of 500 hung in 9 of 14 ASan
# runs, a child forked while another thread holds a lock of GCC 12's libasan
# allocator hangs on it (gdb backtrace in doc/fork-model.md; never seen in
# the plain and TSan builds).
no_asan() {
    if [ "${P11TLS_SANITIZER:-}" = asan ]; then
        echo "SKIP: fork storm not run under ASan (doc/fork-model.md)" >&2
        exit 77
    fi
}
cli=${P11TLS_CLI:-./src/p11tls}  # the tool, for the tool's suites
# The other modules' suites set up their own module (tests/modules/), each
# bounded as a whole.
limit=(timeout --kill-after=10 "${P11TLS_TEST_TIMEOUT:-300}")
# p11-kit's trust module: System Trust, then a private instance, each in its
# own process (p11-kit ignores a second registration of one library file).
# Fails if either fails; skipped if both are.
trust_phases() {
    local rc=0 ran=no s phase
    for phase in system private; do
        s=0
        "${limit[@]}" bash "$src/tests/modules/trust_test.sh" "$phase" || s=$?
        case $s in
            0) ran=yes ;;
            77) ;;
            *) rc=1; ran=yes ;;
        esac
    done
    if [ "$rc" -eq 0 ] && [ "$ran" = no ]; then exit 77; fi
    exit "$rc"
}
token=yes
case $suite in
    # gtest programs
    integration)   set -- ./tests/integration_tests "$@" ;;
    gnutls)        set -- ./tests/gnutls_tests "$@" ;;    # in-process TLS handshakes
    countmod)      set -- ./tests/countmod_tests "$@" ;;  # calls counted by the test module
    badmod)        set -- ./tests/badmod_tests "$@" ;;    # bad modules, a vanishing token
    faults)        set -- ./tests/faults_tests "$@" ;;    # the test module's injected faults
    input)         set -- ./tests/input_tests "$@" ;;     # PIN input and listings
    robust)        set -- ./tests/robust_tests "$@" ;;    # atfork handlers, raw forks, cancel
    provision)     set -- ./tests/provision_tests "$@" ;; # set-pin, generate, write, delete
    token-wait)    set -- ./tests/token_wait_tests "$@" ;;  # tokens plugged in later
    coexist)       set -- ./tests/coexist_tests "$@" ;;   # other callers that finalize the module
    libp11)        if [ ! -x ./tests/coexist/libp11_test ]; then
                       echo "SKIP: tests/coexist/libp11_test not built (install libp11-dev, configure again)" >&2
                       exit 77
                   fi
                   set -- ./tests/coexist/libp11_test "$@" ;;
    trust-list)    export P11TLS_SRCDIR=$src; set -- ./tests/trust_list_tests "$@" ;;  # trust through PKCS#11
    trust-cli)     export P11TLS_CLI=$cli; set -- bash "$src/tests/trust/trust_cli_test.sh" "$@" ;;
    trust-store)   token=; export P11TLS_CLI=$cli P11TLS_TRUST_DECIDE=$PWD/tests/trust/trust_decide \
                       P11TLS_PRELOAD=$PWD/src/preload/.libs/p11tls-preload.so
                   set -- "${limit[@]}" bash "$src/tests/trust/trust_store_test.sh" "$@" ;;
    index)         set -- ./tests/index_tests "$@" ;;     # the object index
    lookup-noindex) export P11TLS_NO_OBJECT_INDEX=1  # the lookup tests, a real search every time
                   set -- sh -c './tests/integration_tests --gtest_filter="Lookup.*" && ./tests/index_tests' ;;
    # plain programs, exit status 0 = pass
    fork-storm-2)  no_asan; set -- ./tests/fork_storm 2 500 "$@" ;;  # 500 forks, 2 signing threads
    fork-storm-4)  no_asan; set -- ./tests/fork_storm 4 500 "$@" ;;
    layered)       set -- ./tests/layered_test ./tests/layered/.libs/libcaller-a.so \
                          ./tests/layered/.libs/libcaller-b.so "$@" ;;
    forwarded)     set -- bash "$src/tests/forward/forwarded_test.sh" ./tests/forwarded_sign "$@" ;;
    reconnect)     export P11TLS_CLI=$cli
                   set -- bash "$src/tests/forward/reconnect_test.sh" ./tests/reconnect_sign "$@" ;;
    default-pin)   set -- bash "$src/tests/gnutls/default_pin_test.sh" "$@" ;;
    gnutls-semantics) set -- bash "$src/tests/gnutls/semantics_test.sh" "$@" ;;
    # the tool
    cli)           export P11TLS_CLI=$cli; set -- bash "$src/tests/cli/cli_test.sh" "$@" ;;
    cli-pin)       export P11TLS_CLI=$cli; set -- bash "$src/tests/cli/pin_test.sh" "$@" ;;
    serve)         export P11TLS_CLI=$cli; set -- bash "$src/tests/cli/serve_test.sh" "$@" ;;
    tls-peers)     export P11TLS_CLI=$cli; set -- bash "$src/tests/cli/tls_peers_test.sh" "$@" ;;
    inspect)       export P11TLS_CLI=$cli; set -- bash "$src/tests/cli/inspect_test.sh" "$@" ;;
    lifecycle)     export P11TLS_CLI=$cli; set -- bash "$src/tests/cli/lifecycle_test.sh" "$@" ;;
    exit-status)   export P11TLS_CLI=$cli; set -- bash "$src/tests/cli/exit_status_test.sh" "$@" ;;
    # unmodified programs under `p11tls exec` (doc/apps.md)
    exec)          export P11TLS_CLI=$cli P11TLS_PRELOAD=$PWD/src/preload/.libs/p11tls-preload.so
                   set -- bash "$src/tests/apps/exec_test.sh" "$@" ;;
    exim)          export P11TLS_CLI=$cli P11TLS_PRELOAD=$PWD/src/preload/.libs/p11tls-preload.so
                   set -- bash "$src/tests/apps/exim_test.sh" "$@" ;;
    ocserv)        export P11TLS_CLI=$cli P11TLS_PRELOAD=$PWD/src/preload/.libs/p11tls-preload.so
                   set -- bash "$src/tests/apps/ocserv_test.sh" "$@" ;;
    # the PAM module
    pam)           set -- bash "$src/tests/pam/pam_test.sh" "$@" ;;
    pam-programs)  set -- bash "$src/tests/pam/pam_programs_test.sh" "$@" ;;
    pam-pin)       set -- bash "$src/tests/pam/pam_pin_test.sh" "$@" ;;
    pam-ssh)       set -- bash "$src/tests/pam/pam_ssh_test.sh" "$@" ;;
    pam-wait)      set -- bash "$src/tests/pam/pam_wait_test.sh" "$@" ;;
    pam-chauthtok) set -- bash "$src/tests/pam/pam_chauthtok_test.sh" "$@" ;;
    pam-ca)        set -- bash "$src/tests/pam/pam_ca_test.sh" "$@" ;;
    pam-install)   set -- bash "$src/tests/pam/pam_install_test.sh" "$@" ;;
    # documentation that works as written
    doc-blocks)    set -- python3 "$src/tests/doc/doc_blocks_test.py" "$@" ;;
    # the other PKCS#11 modules Debian ships (doc/modules.md)
    nss)           token=; export P11TLS_CLI=$cli; set -- "${limit[@]}" bash "$src/tests/modules/nss_test.sh" "$@" ;;
    trust)         export P11TLS_CLI=$cli; echo "run.sh: suite trust" >&2; trust_phases ;;
    opencryptoki)  token=; export P11TLS_CLI=$cli; set -- "${limit[@]}" bash "$src/tests/modules/opencryptoki_test.sh" "$@" ;;
    tpm2)          token=; export P11TLS_CLI=$cli; set -- "${limit[@]}" bash "$src/tests/modules/tpm2_test.sh" "$@" ;;
    may-share)     set -- bash "$src/tests/modules/may_share_test.sh" "$@" ;;
    # a smart card in a reader, through OpenSC and pcscd (tests/smartcard/)
    smartcard)     token=; export P11TLS_CLI=$cli; set -- "${limit[@]}" bash "$src/tests/smartcard/card_test.sh" "$@" ;;
    # no token
    secure-env)    token=; set -- bash "$src/tests/setuid/secure_env_test.sh" ./tests/setuid/secure_env "$@" ;;
    *) echo "$0: no suite '$suite' (see the table in tests/run.sh)" >&2
       exit 99 ;;
esac

if [ -z "$token" ]; then
    echo "run.sh: suite $suite, no token: $*" >&2
    exec "$@"
fi
echo "run.sh: suite $suite, reset_on_fork=$rof: $*" >&2
exec bash "$src/tests/with-token.sh" "$rof" "$@"
