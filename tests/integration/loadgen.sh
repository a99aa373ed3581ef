#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# causeway-loadgen against causewayd, briefly, through perf/tunnel-load.sh:
# the DPDK backend over vhost-user and the socket backend in a namespace
# behind a veth (the generator on net_af_packet). In each backend and mode
# every session comes up with a full handshake and none fails; idle
# sessions cost the gateway at most 4 KiB each; requests are answered
# (403, by the route table) and none is malformed or reset.
#
# Usage: loadgen.sh BUILD_DIR
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[[ $# -eq 1 ]] || {
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
}
[[ $EUID -eq 0 ]] || {
	echo "SKIP: needs root"
	exit 77
}
BUILD=$(realpath -e "$1")
CW_KEEP_GOING=1
cw_tmpdir loadgen

cw_section "perf/tunnel-load.sh, both backends, 256 sessions (one slot chunk), 2 s per mode"
rc=0
"$here/../../perf/tunnel-load.sh" --build "$BUILD" --no-build --sessions 256 --seconds 2 \
	>"$tmp/out.json" 2>"$tmp/load.log" || rc=$?
cw_check_eq "tunnel-load.sh exit status" 0 "$rc"
mapfile -t lines < <(grep '^{' "$tmp/out.json")
cw_check_eq "one summary per backend and mode" 6 "${#lines[@]}"
for out in "${lines[@]}"; do
	mode="$(cw_json "$out" backend) $(cw_json "$out" mode)"
	cw_log "$mode: $out"
	cw_check_eq "$mode: every session up" 256 "$(cw_json "$out" up)"
	cw_check_eq "$mode: no session failed" 0 "$(cw_json "$out" failed)"
	case $mode in
	*idle)
		per=$(cw_json "$out" gateway_bytes_per_session)
		cw_check "$mode: at most 4 KiB of gateway memory per session ($per B)" \
			test "$per" -gt 0 -a "$per" -le 4096
		;;
	*requests)
		cw_check "$mode: answered ($(cw_json "$out" answered))" \
			test "$(cw_json "$out" answered)" -gt 0
		cw_check_eq "$mode: every answer a 403 of the route table" \
			"$(cw_json "$out" answered)" "$(cw_json "$out" answers.403)"
		cw_check_eq "$mode: none reset or malformed" 0 \
			"$(($(cw_json "$out" resets) + $(cw_json "$out" malformed)))"
		;;
	esac
done
cw_summary
