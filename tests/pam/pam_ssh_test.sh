#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# pam_ssh_test.sh — OpenSSH public-key lines (authorized_keys(5)) in the
# authorized file and the mapping file: the line of a token key
# authenticates, with options and comments as sshd accepts them; another
# key, a cert-authority or from= line, an expired line do not; a malformed
# line is refused with its line number. Under pam_wrapper and pamtester
# (helpers in pam_lib.sh); run through tests/suites/pam-ssh.rof-false.test.

me=pam_ssh_test.sh
. "$(dirname "$0")/pam_lib.sh"

command -v ssh-keygen >/dev/null 2>&1 || skip "ssh-keygen not installed (openssh-client)"
command -v openssl >/dev/null 2>&1 || skip "openssl not installed"

# ssh_line LABEL: the OpenSSH line of the token key LABEL, from its
# certificate. ssh-keygen converts RSA and ECDSA public keys; it has no
# PKCS#8 import for Ed25519, whose blob (RFC 8709) is built here.
ssh_line() {
    local spki=$tmp/$1.spki
    openssl x509 -in "$P11TLS_TEST_DIR/$1.pem" -noout -pubkey > "$spki" || return 1
    if [ "$1" = ed25519 ]; then
        printf 'ssh-ed25519 %s\n' "$({ printf '\0\0\0\013ssh-ed25519\0\0\0\040'
            openssl pkey -pubin -in "$spki" -outform DER | tail -c 32; } | base64 -w0)"
    else
        ssh-keygen -i -m PKCS8 -f "$spki"
    fi
}

for k in p256 p384 p521 ed25519 rsa2048; do
    line=$(ssh_line $k)
    # sshd's syntax: options with quoted values (a blank and \" inside), a
    # comment after the key.
    printf '# %s\n  restrict,command="echo \\"hi there\\"",no-pty %s me@laptop key\n' \
        "$k" "$line" > "$tmp/auth-$k"
    write_service $k "$tmp/auth-$k"
    run_pam "$pin"$'\n'
    check "SSH line of token key $k, options and comment: authenticated" 0 "" $?
done

# Another key: ssh-keygen's own output.
ssh-keygen -q -t ed25519 -N '' -C other@host -f "$tmp/other" || echo "# ssh-keygen failed"
cp "$tmp/other.pub" "$tmp/auth-other"
write_service p256 "$tmp/auth-other" debug
run_pam "$pin"$'\n'
check "a different SSH key: refused" fail "no authorized key on the token" $? \
    "1 authorized key(s) in $tmp/auth-other"

p256=$(ssh_line p256)
# Lines that are valid but authorize nothing, beside nothing else.
for opt in 'cert-authority' 'from="10.0.0.0/8"' 'expiry-time="20200101"'; do
    echo "$opt $p256" > "$tmp/auth-opt"
    write_service p256 "$tmp/auth-opt"
    run_pam "$pin"$'\n'
    check "SSH line with $opt: refused" fail "no authorized key in $tmp/auth-opt" $?
done
echo "expiry-time=\"29991231\" $p256" > "$tmp/auth-opt"
write_service p256 "$tmp/auth-opt"
run_pam "$pin"$'\n'
check "SSH line with a future expiry-time: authenticated" 0 "" $?

# Key types no token has are skipped, not errors.
{ echo "ssh-dss AAAAB3NzaC1kc3MAAAA= old"; echo "$p256"; } > "$tmp/auth-dss"
write_service p256 "$tmp/auth-dss"
run_pam "$pin"$'\n'
check "an ssh-dss line beside the key: authenticated" 0 "" $?

# Malformed lines: refused with the line number and why.
{ echo "$p256"; echo "ssh-ed25519 AAAA!!!! broken"; } > "$tmp/auth-bad"
write_service p256 "$tmp/auth-bad"
run_pam "$pin"$'\n'
check "bad base64 in an SSH line: refused with the line" fail \
    "authorized file $tmp/auth-bad line 2: SSH key ssh-ed25519: bad base64" $?
echo "no-such-option $p256" > "$tmp/auth-bad"
run_pam "$pin"$'\n'
check "unknown SSH option: refused with the line" fail \
    "line 1: unknown SSH key option 'no-such-option'" $?
echo "ssh-rsa ${p256#* }" > "$tmp/auth-bad"
run_pam "$pin"$'\n'
check "key data of another type: refused" fail "line 1: SSH key: the key data is not a ssh-rsa key" $?

# The man page's example line, the key put in.
man_example example-ssh | sed "s#AAAA\.\.\.#${p256#* }#" > "$tmp/auth-man"
write_service p256 "$tmp/auth-man"
run_pam "$pin"$'\n'
check "pam_p11tls(8) SSH example: authenticated" 0 "" $?
expect_eq "pam_p11tls(8) SSH example: lines" 2 "$(grep -c . "$tmp/auth-man")"

# The mapping file: an SSH line as a user's entry.
printf 'nobody: %s\n%s: from="x" %s\n%s: %s me@laptop\n' "$(ssh_line rsa2048)" "$user" \
    "$p256" "$user" "$p256" > "$tmp/map"
echo "auth required $modso uri=pkcs11:token=p11tls-test;object=p256;type=cert mapfile=$tmp/map debug" \
    > "$tmp/pam.d/$service"
run_pam "$pin"$'\n'
check "mapping file with SSH lines: authenticated" 0 "1 authorized key(s) in $tmp/map" $?
printf '%s: ssh-ed25519 AAAA!!!!\n' "$user" > "$tmp/map"
run_pam "$pin"$'\n'
check "mapping file with a bad SSH line: refused with the line" fail \
    "mapping file $tmp/map line 1: SSH key ssh-ed25519: bad base64" $?

finish
