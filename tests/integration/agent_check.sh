#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# "causeway-agent --check" on loopback files, no root and no gateway
# needed. Usage:
#
#   tests/integration/agent_check.sh CAUSEWAY_AGENT
#
# Checks: conf/agent.conf passes (exit 0) and prints the effective
# configuration, which passes --check again and prints itself unchanged;
# broken files exit 2 with "FILE:LINE: key 'KEY': reason" (or "FILE:LINE:
# reason") on stderr and nothing on stdout; a missing file and usage
# errors exit 2. Prints one line per check and "N passed, N failed"; exit 1
# on any failure.
set -uo pipefail

[[ $# -eq 1 ]] || {
	echo "usage: $0 CAUSEWAY_AGENT" >&2
	exit 2
}
AGENT=$(realpath -e "$1") || exit 2
here=$(cd "$(dirname "$0")" && pwd)
example=$here/../../conf/agent.conf
tmp=$(mktemp -d /tmp/cw-agent-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0

pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}

# fail NAME REASON [FILE-WITH-OUTPUT...]
fail() {
	local f
	echo "FAIL $1: $2"
	shift 2
	for f in "$@"; do
		[[ -s $f ]] && sed 's/^/    | /' "$f"
	done
	failed=$((failed + 1))
}

# run ARGS...: run the agent, keep stdout and stderr.
run() {
	"$AGENT" "$@" >"$tmp/out" 2>"$tmp/err"
}

# The example file: exit 0, every section printed, and a fixed point.
if run --check -c "$example"; then
	pass "example passes --check"
else
	fail "example passes --check" "exit $?" "$tmp/err"
fi
missing=
for s in agent gateway tls dial admin hub keepalive reconnect log; do
	grep -qx "\[$s\]" "$tmp/out" || missing+=" [$s]"
done
[[ -z $missing ]] && pass "example prints every section" ||
	fail "example prints every section" "missing$missing" "$tmp/out"
grep -qx 'address = gateway.example.net:10262' "$tmp/out" &&
	pass "example prints its gateway address" ||
	fail "example prints its gateway address" "missing" "$tmp/out"
cp "$tmp/out" "$tmp/effective.conf"
if run --check -c "$tmp/effective.conf" && cmp -s "$tmp/out" "$tmp/effective.conf"; then
	pass "effective configuration is a fixed point"
else
	fail "effective configuration is a fixed point" "differs or fails" "$tmp/err"
fi

# bad NAME LINE MESSAGE TEXT: TEXT must fail with "FILE:LINE: MESSAGE".
bad() {
	local name=$1 line=$2 msg=$3 file=$tmp/$1.conf status
	printf '%b' "$4" >"$file"
	run --check -c "$file"
	status=$?
	if [[ $status -ne 2 ]]; then
		fail "$name" "exit $status, want 2" "$tmp/err"
	elif ! grep -qxF "$file:$line: $msg" "$tmp/err"; then
		fail "$name" "want '$file:$line: $msg'" "$tmp/err"
	elif [[ -s $tmp/out ]]; then
		fail "$name" "printed a configuration" "$tmp/out"
	else
		pass "$name"
	fi
}

GW='[gateway]\naddress = gw.example.net\n'
bad "port out of range" 4 "key 'allow': port '99999' is not a number 1..65535" \
	"${GW}[dial]\nallow = 99999\n"
bad "unknown key" 4 "key 'colour': unknown key in section [agent]" \
	"${GW}[agent]\ncolour = blue\n"
bad "unknown section" 1 "unknown section 'agnet'" "[agnet]\n${GW}"
bad "key twice" 5 "key 'cert_file': duplicate key" \
	"${GW}[tls]\ncert_file = /a\ncert_file = /b\n"
bad "bad log level" 5 "key 'level': expected error, warning, info or debug" \
	"${GW}[log]\n\nlevel = loud\n"

# An error far down a file still names its line.
{
	printf '[gateway]\naddress = gw.example.net\n'
	for i in $(seq 1 20); do printf '# comment %d\n' "$i"; done
	printf '[keepalive]\ninterval_ms = 0\n'
} >"$tmp/far.conf"
bad_file() {
	run --check -c "$1"
	local status=$?
	if [[ $status -eq 2 ]] && grep -qxF "$2" "$tmp/err" && [[ ! -s $tmp/out ]]; then
		pass "$3"
	else
		fail "$3" "exit $status, want 2 and '$2'" "$tmp/err"
	fi
}
bad_file "$tmp/far.conf" "$tmp/far.conf:24: key 'interval_ms': 0 is out of range 1000..25000" \
	"error on line 24 names it"
# The one key without a default: a whole-file error.
printf '[agent]\npool = a\n' >"$tmp/nogw.conf"
bad_file "$tmp/nogw.conf" "$tmp/nogw.conf: missing key 'address' in section [gateway]" \
	"missing [gateway] address"

run --check -c "$tmp/no-such.conf"
status=$?
if [[ $status -eq 2 ]] && grep -q "no-such.conf" "$tmp/err"; then
	pass "missing file exits 2"
else
	fail "missing file exits 2" "exit $status" "$tmp/err"
fi
run --check
[[ $? -eq 2 ]] && pass "no -c exits 2" || fail "no -c exits 2" "exit $?" "$tmp/err"
run --frobnicate -c "$example"
[[ $? -eq 2 ]] && pass "unknown option exits 2" || fail "unknown option exits 2" "exit $?"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
