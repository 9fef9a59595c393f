# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# p11kit-isolate.sh - sourced (not run) by the test wrappers: makes p11-kit,
# in the calling script and everything it starts, see only the modules the
# test registers, whatever the host registers (a host module that prints
# errors, such as tpm2-pkcs11 without a TPM, or shows more tokens would
# change what the tests see; installing libtpm2-pkcs11-1 registers it for
# the whole machine).
#
#   p11kit_isolate_reexec SCRIPT ARGS...
#       As root, re-executes SCRIPT in a private mount namespace (unshare
#       execs: same process), once; returns otherwise. Nothing mounted there
#       is visible outside, and it ends with the test.
#   p11kit_register_only DIR MODULE-FILE...
#       Sets HOME and XDG_CONFIG_HOME to DIR/home and registers exactly the
#       given p11-kit .module files (copied, named as given), hiding the
#       host's registrations as p11-kit allows:
#       - as root (p11-kit ignores user configuration there), in the private
#         mount namespace: DIR/p11-kit/modules is bound over each module
#         directory of p11-kit, and /etc/pkcs11 is hidden;
#       - otherwise, DIR/home/.config/pkcs11/pkcs11.conf says
#         "user-config: only", so p11-kit loads only the private
#         ~/.config/pkcs11/modules (unless the system's pkcs11.conf forbids
#         user configuration: then the host's modules are seen, and we say
#         so on stderr).
#       Returns 1 (with a message) if a directory cannot be hidden.
#   p11kit_register_more DIR MODULE-FILE...
#       Registers more module files beside those p11kit_register_only DIR
#       registered (DIR as given there; tests/with-token.sh's is
#       P11TLS_TEST_DIR), for the processes started after.
#   p11kit_require_isolation
#       For the module suites, which must see their module only: exits 77
#       (skipped, with the reason) where p11kit_register_only cannot hide
#       the host's modules.

p11kit_isolate_reexec() {
    local script=$1
    shift
    if [ "$(id -u)" = 0 ] && [ "${P11TLS_ISOLATE_NS:-}" != "$$" ] &&
       unshare -m --propagation private true 2>/dev/null; then
        export P11TLS_ISOLATE_NS=$$
        exec unshare -m --propagation private bash "$script" "$@"
    fi
}

p11kit_register_only() {
    local dir=$1 f d hidden=" " me
    me=$(basename "$0")
    shift
    export HOME="$dir/home"
    export XDG_CONFIG_HOME="$dir/home/.config"
    mkdir -p "$XDG_CONFIG_HOME/pkcs11/modules" "$dir/p11-kit/modules" "$dir/p11-kit/empty"
    echo "user-config: only" >"$XDG_CONFIG_HOME/pkcs11/pkcs11.conf"
    for f in "$@"; do
        cp "$f" "$XDG_CONFIG_HOME/pkcs11/modules/"
        cp "$f" "$dir/p11-kit/modules/"
    done
    if [ "${P11TLS_ISOLATE_NS:-}" = "$$" ]; then
        for d in /usr/share/p11-kit/modules /usr/lib/p11-kit/modules \
                 "$(pkg-config --variable=p11_module_configs p11-kit-1 2>/dev/null)"; do
            [ -n "$d" ] && [ -d "$d" ] || continue
            d=$(cd "$d" && pwd -P)
            # Once each: a second bind through the first would pin $dir.
            case $hidden in *" $d "*) continue ;; esac
            hidden="$hidden$d "
            if ! mount --bind "$dir/p11-kit/modules" "$d"; then
                echo "$me: cannot hide $d" >&2
                return 1
            fi
        done
        if [ -d /etc/pkcs11 ] && ! mount --bind "$dir/p11-kit/empty" /etc/pkcs11; then
            echo "$me: cannot hide /etc/pkcs11" >&2
            return 1
        fi
    elif [ "$(id -u)" = 0 ]; then
        echo "$me: note: no mount namespace (unshare -m): the test sees the host's registered p11-kit modules" >&2
    elif grep -qs '^[[:space:]]*user-config:[[:space:]]*none' /etc/pkcs11/pkcs11.conf; then
        echo "$me: note: /etc/pkcs11/pkcs11.conf forbids user configuration: the test sees the host's registered p11-kit modules" >&2
    fi
    return 0
}

p11kit_register_more() {
    local dir=$1 f
    shift
    for f in "$@"; do
        cp "$f" "$dir/home/.config/pkcs11/modules/"
        cp "$f" "$dir/p11-kit/modules/"
    done
}

p11kit_require_isolation() {
    local me
    me=$(basename "$0")
    if [ "$(id -u)" = 0 ] && [ "${P11TLS_ISOLATE_NS:-}" != "$$" ]; then
        echo "$me: SKIP: root without a private mount namespace (unshare -m): p11-kit would load the host's modules" >&2
        exit 77
    fi
    if [ "$(id -u)" != 0 ] && grep -qs '^[[:space:]]*user-config:[[:space:]]*none' /etc/pkcs11/pkcs11.conf; then
        echo "$me: SKIP: /etc/pkcs11/pkcs11.conf forbids user configuration: p11-kit would load the host's modules" >&2
        exit 77
    fi
}
