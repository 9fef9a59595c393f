#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pam_install_test.sh — where 'make install' puts pam_p11tls.so, and whether
# libpam then finds it by the bare name /etc/pam.d uses ("pam_p11tls.so").
#
# 1. 'make install DESTDIR=$tmp/root' of this build tree: the module is in
#    $(pammoddir), without its .la; 'make uninstall' removes it.
# 2. libpam's own module directory is read from libpam.so.0 itself (its
#    compiled-in default module path, not configure's detection).
# 3. In a private mount namespace (unshare -m: nothing is visible outside
#    this test, and it ends with it), the installed tree is laid over the
#    real $(libdir) and $(pammoddir) with read-only overlay mounts, as if
#    'make install' had run without DESTDIR. pamtester under pam_wrapper then
#    authenticates with "auth required pam_p11tls.so": this must succeed
#    when $(pammoddir) is libpam's module directory (configure --prefix=/usr
#    --libdir=/usr/lib/<multiarch>, or --prefix=/usr alone), and must fail to
#    load the module otherwise (the default prefix /usr/local, for which
#    configure warns). With P11TLS_EXPECT_BARE_NAME=found the first case
#    is required.
#
# Run through tests/with-token.sh (tests/suites/pam-install.test). Needs root (or
# CAP_SYS_ADMIN) for the mount namespace; otherwise step 3 is skipped.
# Exit status: 0 all passed, 1 a case failed, 77 skipped.

me=pam_install_test.sh
. "$(dirname "$0")/pam_lib.sh"

# make_var NAME: the value of a variable of this build tree's Makefile.
make_var() {
    printf 'p11tls-print-%%:\n\t@echo $($*)\n' > "$tmp/print.mk"
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
        make -s --no-print-directory -C "$builddir" -f Makefile -f "$tmp/print.mk" "p11tls-print-$1"
}
canon() { if [ -d "$1" ]; then (cd "$1" && pwd -P); else echo "$1"; fi; }

pammoddir=$(make_var pammoddir)
libdir=$(make_var libdir)
mandir=$(make_var mandir)
[ -n "$pammoddir" ] || skip "this build has no PAM module (configure --disable-pam)"
echo "# pammoddir=$pammoddir libdir=$libdir"

# --- 1. the installed files -----------------------------------------------------
root=$tmp/root
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    timeout 300 make -s -C "$builddir" install DESTDIR="$root" >"$tmp/install.log" 2>&1
expect_eq "make install DESTDIR: exit status" 0 $?
expect_eq "module installed in pammoddir" yes \
    "$([ -f "$root$pammoddir/pam_p11tls.so" ] && echo yes || echo no)"
expect_eq "no pam_p11tls.la installed" "" "$(find "$root" -name 'pam_p11tls.la')"
expect_eq "man page pam_p11tls.8 installed" yes \
    "$([ -f "$root$mandir/man8/pam_p11tls.8" ] && echo yes || echo no)"

# --- 2. libpam's module directory -----------------------------------------------
libpam=
for l in /lib/x86_64-linux-gnu/libpam.so.0 /usr/lib/x86_64-linux-gnu/libpam.so.0 \
         /lib/*/libpam.so.0 /usr/lib/*/libpam.so.0 /lib64/libpam.so.0 /usr/lib64/libpam.so.0 \
         /lib/libpam.so.0 /usr/lib/libpam.so.0; do
    if [ -f "$l" ]; then libpam=$l; break; fi
done
[ -n "$libpam" ] || skip "libpam.so.0 not found"
# Linux-PAM prefixes bare module names with DEFAULT_MODULE_PATH, a string
# "/.../security/" in the library.
pamdir=$(grep -a -o '/[[:alnum:]_./-]*/security/' "$libpam" | head -n1)
[ -n "$pamdir" ] || skip "no module path found in $libpam"
pamdir=$(canon "${pamdir%/}")
if [ "$(canon "$pammoddir")" = "$pamdir" ]; then
    want=found
else
    want=not-found
fi
echo "# libpam ($libpam) loads bare names from $pamdir: expecting the module $want"
# P11TLS_EXPECT_BARE_NAME=found (CI's --prefix=/usr build): configure's
# default must have chosen libpam's directory.
if [ -n "${P11TLS_EXPECT_BARE_NAME:-}" ]; then
    expect_eq "configure chose the directory libpam loads bare names from" \
        "$P11TLS_EXPECT_BARE_NAME" "$want"
fi
# A module of that name already on the host would make step 3 prove nothing.
[ ! -e "$pamdir/pam_p11tls.so" ] || skip "$pamdir/pam_p11tls.so exists on this host"

# --- 3. the bare name, in a private mount namespace -----------------------------
if ! unshare -m --propagation private true 2>/dev/null; then
    echo "# SKIP step 3: cannot create a mount namespace (needs root or CAP_SYS_ADMIN)"
    finish
fi
cp "$P11TLS_TEST_DIR/p256.pem" "$tmp/authorized"
{
    echo "auth    required pam_p11tls.so uri=pkcs11:token=p11tls-test;object=p256;type=cert authorized=$tmp/authorized"
    echo "account required pam_p11tls.so"
} > "$tmp/pam.d/$service"
# in-ns.sh ROOT PAMDIR DIR...: in the namespace, lays ROOT/DIR over each DIR
# (where both exist), then authenticates with run_pam (exported below).
cat > "$tmp/in-ns.sh" <<'EOF'
root=$1 pamdir=$2
shift 2
for d in "$@"; do
    if [ -d "$root$d" ] && [ -d "$d" ]; then
        mount -t overlay p11tls-install -o "lowerdir=$root$d:$d" "$d" || exit 99
    fi
done
[ ! -e "$pamdir/pam_p11tls.so" ] || echo "pam_p11tls.so visible in $pamdir"
run_pam "$P11TLS_PIN_INPUT" authenticate acct_mgmt
EOF
dirs=("$libdir")
case $pammoddir in "$libdir"/*) ;; *) dirs+=("$pammoddir") ;; esac
export -f run_pam
export tmp wrapper service user
P11TLS_PIN_INPUT="$pin"$'\n' timeout 60 unshare -m --propagation private \
    bash "$tmp/in-ns.sh" "$root" "$pamdir" "${dirs[@]}" > "$tmp/ns.log" 2>&1
rc=$?
cat "$tmp/ns.log" >> "$tmp/log"
if [ "$want" = found ]; then
    check "bare name pam_p11tls.so after make install: auth and account succeed" 0 \
        "pam_p11tls.so visible in $pamdir" $rc
else
    check "bare name pam_p11tls.so after make install into $pammoddir: not found by libpam" fail \
        "unable to dlopen" $rc
fi

# --- 1 (end). uninstall ------------------------------------------------------------
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    timeout 300 make -s -C "$builddir" uninstall DESTDIR="$root" >>"$tmp/install.log" 2>&1
expect_eq "make uninstall: module removed" no \
    "$([ -e "$root$pammoddir/pam_p11tls.so" ] && echo yes || echo no)"

finish
