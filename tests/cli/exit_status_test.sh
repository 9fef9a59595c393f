#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# exit_status_test.sh - p11tls(1)'s table of exit statuses, checked: every
# command the tool lists has a row, and for every cell with a status the
# command is made to meet that mistake (a misspelt token, a URI matching no
# object, one matching several objects or tokens, a usage error) and must
# exit with it, in text and with --json (whose error document has the same
# exit_status and names the error). Also: 'p11tls help COMMAND' and
# 'p11tls COMMAND --help' for every command, exec included, exit 0 with the
# command's usage. Run by tests/run.sh (suite exit-status) on a private
# copy of the SoftHSM test token, to which it adds a second token.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools python3 softhsm2-util
MAN=${top_srcdir:-${srcdir:-.}}/doc/p11tls.1

T="pkcs11:token=$TOKEN"
TYPO="pkcs11:token=${TOKEN}-typo"      # a misspelt token
NONE="$T;object=no-such-object"        # a token that holds no such object
MANY_TOKENS="pkcs11:manufacturer=SoftHSM%20project"
PEM=$DIR/p256.pem
# A second token, so that a URI may match two (its PIN is not the test's).
softhsm2-util --init-token --free --label second --pin 97531864 --so-pin 12345678 \
    >"$TMP/init.log" 2>&1 || { cat "$TMP/init.log"; exit 99; }

# scenario COMMAND COLUMN: sets args to the command line that makes the
# mistake; returns 1 if this script has none for it.
scenario() {
    local key="$T;object=p256;type=private" cert="$T;object=p256;type=cert"
    case $1:$2 in
        list-tokens:token) args=(list-tokens "$TYPO") ;;
        list-tokens:usage) args=(list-tokens --pem) ;;
        list:token)        args=(list "$TYPO") ;;
        list:object)       args=(list "$NONE") ;;
        list:usage)        args=(list "$T" "$T") ;;
        info:token)        args=(info "$TYPO;object=p256;type=private") ;;
        info:object)       args=(info "$NONE;type=private") ;;
        info:several)      args=(info "$T;type=private") ;;
        info:usage)        args=(info) ;;
        export-cert:token)   args=(export-cert "$TYPO;object=p256;type=cert") ;;
        export-cert:object)  args=(export-cert "$NONE;type=cert") ;;
        export-cert:several) args=(export-cert "$T;type=cert") ;;
        export-cert:usage)   args=(export-cert "$cert" --scheme ed25519) ;;
        sign:token)        args=(sign "$TYPO;object=p256;type=private" --scheme ed25519) ;;
        sign:object)       args=(sign "$NONE;type=private" --scheme ed25519) ;;
        sign:several)      args=(sign "$T;type=private" --scheme ed25519) ;;
        sign:usage)        args=(sign "$key") ;;
        serve:token)       args=(serve "$TYPO;object=p256;type=private" --cert "$cert" --port 0) ;;
        serve:object)      args=(serve "$NONE;type=private" --cert "$cert" --port 0) ;;
        serve:several)     args=(serve "$T;type=private" --cert "$cert" --port 0) ;;
        serve:usage)       args=(serve "$key") ;;
        connect:token)     args=(connect "$TYPO;object=p256;type=private" --cert "$cert" --port 1 --ca "$DIR/ca.pem") ;;
        connect:object)    args=(connect "$NONE;type=private" --cert "$cert" --port 1 --ca "$DIR/ca.pem") ;;
        connect:several)   args=(connect "$T;type=private" --cert "$cert" --port 1 --ca "$DIR/ca.pem") ;;
        connect:usage)     args=(connect "$key" --cert "$cert") ;;
        verify:token)      args=(verify "$PEM" --trust "$TYPO") ;;
        verify:usage)      args=(verify "$PEM") ;;
        generate:token)    args=(generate "$TYPO" --type ec:p256 --label new) ;;
        generate:several)  args=(generate "$MANY_TOKENS" --type ec:p256 --label new) ;;
        generate:usage)    args=(generate "$T" --type ec:p257 --label new) ;;
        csr:token)         args=(csr "$TYPO;object=p256;type=private" --subject CN=x) ;;
        csr:object)        args=(csr "$NONE;type=private" --subject CN=x) ;;
        csr:several)       args=(csr "$T;type=private" --subject CN=x) ;;
        csr:usage)         args=(csr "$key") ;;
        import-cert:token)   args=(import-cert "$TYPO" "$PEM" --label new) ;;
        import-cert:several) args=(import-cert "$MANY_TOKENS" "$PEM" --label new) ;;
        import-cert:usage)   args=(import-cert "$T" "$PEM") ;;
        delete:token)      args=(delete "$TYPO;object=p256;type=cert" --yes) ;;
        delete:object)     args=(delete "$NONE" --yes) ;;
        delete:several)    args=(delete "$T;object=p256" --yes) ;;
        delete:usage)      args=(delete "$T" --yes --all) ;;
        export-chain:token)   args=(export-chain "$TYPO;object=p256;type=cert") ;;
        export-chain:object)  args=(export-chain "$NONE;type=cert") ;;
        export-chain:several) args=(export-chain "$T;type=cert") ;;
        export-chain:usage)   args=(export-chain) ;;
        mechanisms:token)   args=(mechanisms "$TYPO") ;;
        mechanisms:several) args=(mechanisms "$MANY_TOKENS") ;;
        mechanisms:usage)   args=(mechanisms) ;;
        set-pin:token)     args=(set-pin "$TYPO") ;;
        set-pin:several)   args=(set-pin "$MANY_TOKENS") ;;
        set-pin:usage)     args=(set-pin "$T" "$T") ;;
        exec:usage)        args=(exec) ;;
        help:usage)        args=(help no-such-command) ;;
        *) return 1 ;;
    esac
}

# The table, from between its markers in p11tls(1): "command status..."
# per line, '-' where the command cannot make the mistake.
python3 - "$MAN" >"$TMP/table" <<'PY' || { echo "cannot read the table in $MAN"; exit 99; }
import re, sys
text = open(sys.argv[1]).read()
body = text.split(".\\\" exit status table begin\n", 1)[1].split(".\\\" exit status table end", 1)[0]
rows = body.split(".TS\n", 1)[1].split(".TE", 1)[0].splitlines()[3:]  # format, header, rule
for row in rows:
    cells = [re.sub(r"\\f[BRI]", "", c).replace("\\-", "-") for c in row.split("\t")]
    print(" ".join(cells))
PY
[ -s "$TMP/table" ] || { echo "the table in $MAN has no rows"; exit 99; }

# Every command the tool lists has a row, and every row is a command.
"$CLI" help 2>&1 | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' | sort >"$TMP/commands"
cut -d' ' -f1 "$TMP/table" | sort >"$TMP/rows"
if [ -s "$TMP/commands" ] && cmp -s "$TMP/commands" "$TMP/rows"; then
    ok "p11tls(1)'s table has one row per command ($(wc -l <"$TMP/rows"))"
else
    diff "$TMP/commands" "$TMP/rows" >"$TMP/rows.diff"
    not_ok "p11tls(1)'s table has one row per command (< help, > table)" "$TMP/rows.diff"
fi

# run ARGS...: the tool with the PIN on fd 3 (a mistake must not hide
# behind a missing PIN); status in st, outputs in out and err.
run() {
    timeout 60 "$CLI" --pin-fd 3 "$@" </dev/null >"$TMP/out" 2>"$TMP/err" 3<<<"$PIN"
    st=$?
}
# The --json runs' documents are checked together at the end (one python
# for all): stdout is one error document with the exit_status, naming a
# libp11tls error with its code for 3 and 4, the usage error for 2.
json_runs=0
: >"$TMP/json.list"

col=(token object several usage)
while read -r cmd cells; do
    read -r -a want <<<"$cells"
    for i in 0 1 2 3; do
        [ "${want[$i]}" = - ] && continue
        if ! scenario "$cmd" "${col[$i]}"; then
            not_ok "$cmd, ${col[$i]}: the table says ${want[$i]}, this test has no case for it"
            continue
        fi
        run "${args[@]}"
        if [ "$st" -eq "${want[$i]}" ]; then
            ok "$cmd, ${col[$i]}: exit ${want[$i]}"
        else
            not_ok "$cmd, ${col[$i]}: exit $st, the table says ${want[$i]} (p11tls ${args[*]})" \
                "$TMP/err"
        fi
        [ "$cmd" = exec ] || [ "$cmd" = help ] && continue
        run --json "${args[@]}"
        json_runs=$((json_runs + 1))
        cp "$TMP/out" "$TMP/json.$json_runs"
        printf '%s\t%s\t%s\t%s\n' "$TMP/json.$json_runs" "${want[$i]}" "$st" \
            "$cmd --json, ${col[$i]}" >>"$TMP/json.list"
    done
done <"$TMP/table"

python3 - "$TMP/json.list" >"$TMP/json.out" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    path, want, got, name = line.rstrip("\n").split("\t")
    want, got = int(want), int(got)
    try:
        doc = json.loads(open(path).read())
        assert got == want, f"exit {got}"
        assert doc["exit_status"] == want, doc
        if want == 2:
            assert doc["error"] == "P11TLS_CLI_E_USAGE" and doc["code"] is None, doc
        else:
            names = {3: ("P11TLS_E_NOT_FOUND", "P11TLS_E_TOKEN_NOT_PRESENT"),
                     4: ("P11TLS_E_AMBIGUOUS",)}[want]
            assert doc["error"] in names and isinstance(doc["code"], int) and doc["code"] < 0, doc
        print(f"ok\t{name}: exit {want}, the error document says so")
    except Exception as e:
        print(f"not ok\t{name}: the table says {want}: {e!r}")
PY
while IFS=$'\t' read -r verdict text; do
    if [ "$verdict" = ok ]; then ok "$text"; else not_ok "$text"; fi
done <"$TMP/json.out"
[ "$(wc -l <"$TMP/json.out")" -eq "$json_runs" ] || not_ok "every --json run checked"

# Help for every command, exec's included ("exec --help" is no program).
while read -r cmd; do
    for how in "help $cmd" "$cmd --help"; do
        # shellcheck disable=SC2086  # $how is two words
        timeout 10 "$CLI" $how </dev/null >"$TMP/out" 2>"$TMP/err"
        st=$?
        if [ "$st" -eq 0 ] && head -n 1 "$TMP/out" | grep -q "^Usage: p11tls .*$cmd"; then
            ok "p11tls $how: exit 0, the usage of $cmd"
        else
            not_ok "p11tls $how: exit $st" "$TMP/out" "$TMP/err"
        fi
    done
done <"$TMP/rows"

finish
