#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Usage: run.sh PATH/TO/causewayd
#
# Every *.conf here is broken in exactly one way. Its first line says how:
#   # expect: LINE: message      ->  stderr has "FILE:LINE: message"
#   # expect: message            ->  stderr has "FILE: message" (whole-file error)
# where FILE is the path passed to -c. Each must make "causewayd --check -c
# FILE" exit 2 with that message. Then conf/causeway.conf must pass --check,
# and the effective config it prints must pass --check too and print itself
# again unchanged (the printer and the parser agree).
set -u

bin=${1:?usage: run.sh PATH/TO/causewayd}
here=$(cd "$(dirname "$0")" && pwd)
example=$here/../../conf/causeway.conf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0

pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}

# fail NAME REASON [FILE-WITH-OUTPUT]
fail() {
	echo "FAIL $1: $2"
	if [ -n "${3:-}" ] && [ -s "$3" ]; then
		sed 's/^/    | /' "$3"
	fi
	failed=$((failed + 1))
}

# The message a broken file announces, with its FILE: prefix added.
expected_message() {
	local file=$1 spec

	spec=$(head -n 1 "$file")
	case $spec in
	"# expect: "*) spec=${spec#"# expect: "} ;;
	*) return 1 ;;
	esac
	case $spec in
	[0-9]*) printf '%s:%s' "$file" "$spec" ;;
	*) printf '%s: %s' "$file" "$spec" ;;
	esac
}

check_broken() {
	local file=$1 name want status

	name=$(basename "$file")
	if ! want=$(expected_message "$file"); then
		fail "$name" "first line is not '# expect: ...'"
		return
	fi
	"$bin" --check -c "$file" >"$tmp/out" 2>"$tmp/err"
	status=$?
	if [ "$status" -ne 2 ]; then
		fail "$name" "exit status $status, expected 2" "$tmp/err"
	elif ! grep -qF -- "$want" "$tmp/err"; then
		fail "$name" "stderr lacks: $want" "$tmp/err"
	else
		pass "$name"
	fi
}

# check_good NAME FILE OUTPUT: --check passes and prints the effective config.
check_good() {
	local status

	"$bin" --check -c "$2" >"$3" 2>"$tmp/err"
	status=$?
	if [ "$status" -ne 0 ]; then
		fail "$1" "exit status $status, expected 0" "$tmp/err"
		return 1
	fi
	pass "$1"
}

if [ ! -x "$bin" ]; then
	echo "run.sh: $bin is not an executable" >&2
	exit 1
fi

shopt -s nullglob
broken=("$here"/*.conf)
if [ "${#broken[@]}" -eq 0 ]; then
	echo "run.sh: no broken config files in $here" >&2
	exit 1
fi
for file in "${broken[@]}"; do
	check_broken "$file"
done

if check_good "causeway.conf passes --check" "$example" "$tmp/effective.conf" &&
	check_good "effective config passes --check" "$tmp/effective.conf" "$tmp/again.conf"; then
	if cmp -s "$tmp/effective.conf" "$tmp/again.conf"; then
		pass "effective config prints itself unchanged"
	else
		diff -u "$tmp/effective.conf" "$tmp/again.conf" >"$tmp/diff"
		fail "effective config prints itself unchanged" "output differs" "$tmp/diff"
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
