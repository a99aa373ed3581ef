#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# causeway-loadgen against causewayd, briefly, through perf/tunnel-load.sh:
# the DPDK backend over vhost-user and the socket backend in a namespace
# behind a veth (the generator on net_af_packet). In each backend and mode
# every session comes up with a full handshake and none fails; idle
# sessions cost the gateway at most 4 KiB each; requests are answered
# (403, by the route table) and none is malformed or reset. Then bulk and
# storm, briefly: the body bytes the generator had answered are what the
# gateway decoded (up to those still in flight), and storm sessions
# reconnected (the gateway's full handshakes moved by the generator's
# count at least) while no request failed or stalled. Last, watch mode
# through the cloud hub (perf/hub-load.sh, 16 agents): every agent lists
# and watches its five resources, the upstream sees one watch per
# resource and no request while they hold them, and one change made
# upstream reaches every agent.
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

cw_section "perf/tunnel-load.sh bulk (32 sessions, 3 s) and storm (128 sessions, 32 storming, 4 s), both backends"
rc=0
"$here/../../perf/tunnel-load.sh" --build "$BUILD" --no-build --sessions 32 --seconds 3 \
	--inflight 2 --bulk-size 100000 --modes bulk >"$tmp/out2.json" 2>"$tmp/load2.log" || rc=$?
cw_check_eq "tunnel-load.sh bulk exit status" 0 "$rc"
rc=0
"$here/../../perf/tunnel-load.sh" --build "$BUILD" --no-build --sessions 128 --seconds 4 \
	--inflight 2 --storm 32 --modes storm >>"$tmp/out2.json" 2>>"$tmp/load2.log" || rc=$?
cw_check_eq "tunnel-load.sh storm exit status" 0 "$rc"
grep -E '^(check|dpdk|socket) ' "$tmp/load2.log" | while read -r l; do cw_log "$l"; done
mapfile -t lines < <(grep '^{' "$tmp/out2.json")
cw_check_eq "one summary per backend and mode" 4 "${#lines[@]}"
for out in "${lines[@]}"; do
	mode="$(cw_json "$out" backend) $(cw_json "$out" mode)"
	answered=$(cw_json "$out" answered)
	cw_log "$mode: $out"
	cw_check_eq "$mode: every session up at the end" "$(cw_json "$out" sessions)" \
		"$(cw_json "$out" up)"
	cw_check_eq "$mode: no session failed" 0 "$(cw_json "$out" failed)"
	cw_check_eq "$mode: every session closed" 0 "$(cw_json "$out" unclosed)"
	cw_check_ge "$mode: answered" 1 "$answered"
	cw_check_eq "$mode: every answer a 403 of the route table" "$answered" \
		"$(cw_json "$out" answers.403)"
	cw_check_eq "$mode: none reset or malformed" 0 \
		"$(($(cw_json "$out" resets) + $(cw_json "$out" malformed)))"
	case $mode in
	*bulk)
		cw_check_eq "$mode: bodies of 100000 bytes" 100000 "$(cw_json "$out" body_bytes)"
		cw_check_ge "$mode: gateway decoded the bodies of the answered requests" \
			"$(cw_json "$out" bodies_answered_bytes)" "$(cw_json "$out" dut_body_bytes)"
		cw_check_ge "$mode: ... and no more than were sent" "$(cw_json "$out" dut_body_bytes)" \
			"$(cw_json "$out" bodies_sent_bytes)"
		;;
	*storm)
		cw_check_ge "$mode: storm sessions reconnected" 1 "$(cw_json "$out" storm.reconnects)"
		cw_check_eq "$mode: no reconnect failed" 0 "$(cw_json "$out" storm.failed)"
		cw_check_eq "$mode: no request open for over a second at the end" 0 \
			"$(cw_json "$out" stalled)"
		cw_check_ge "$mode: gateway full handshakes >= sessions + reconnects" \
			"$((128 + $(cw_json "$out" storm.reconnects)))" "$(cw_json "$out" dut_hs_full)"
		cw_check_ge "$mode: requests answered before the storm" 1 \
			"$(cw_json "$out" phases.idle.answered)"
		cw_check_ge "$mode: ... and during it" 1 "$(cw_json "$out" phases.storm.answered)"
		;;
	esac
done

cw_section "perf/hub-load.sh: 16 agents watching through the cloud hub, 4 s"
rc=0
"$here/../../perf/hub-load.sh" --build "$BUILD" --no-build --sessions 16 --seconds 4 --pods 64 \
	--no-list >"$tmp/out3.json" 2>"$tmp/load3.log" || rc=$?
cw_check_eq "hub-load.sh exit status" 0 "$rc"
out=$(grep -m1 '^{' "$tmp/out3.json" || echo '{}')
cw_log "watch: $out"
cw_check_eq "every agent up" 16 "$(cw_json "$out" up)"
cw_check_eq "every agent watching its 5 resources" 16 "$(cw_json "$out" watch.watching)"
cw_check_eq "80 lists, none failed" "80 0" \
	"$(cw_json "$out" watch.lists) $(cw_json "$out" watch.list_errors)"
cw_check_eq "none malformed or reset" 0 "$(cw_json "$out" watch.bad)"
cw_check_eq "the upstream: one watch per resource" 5 "$(cw_json "$out" upstream.watches_open)"
cw_check_eq "the upstream: no request while the agents hold their watches" 0 \
	"$(cw_json "$out" upstream.requests_during_hold)"
cw_check_eq "the marker's PATCH answered 200" 200 "$(cw_json "$out" marker_status)"
cw_check_eq "the change reached every agent" 16 "$(cw_json "$out" watch.marker.sessions)"
cw_summary
