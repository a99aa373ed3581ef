#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The impairment relay (tests/tools/relay.c), on loopback, against its own
# counters and what a stream of numbered datagrams (tests/tools/udpflow)
# sees after going client -> relay -> echo server -> relay -> client. No
# root needed. Usage:
#
#   tests/integration/relay.sh RELAY UDPFLOW
#
# Checks: --help and usage errors; no impairment: every datagram (4..1472
# and 65000..65507 bytes) comes back byte-exact; 10 % loss, seed 42: the
# loss count is within bounds, equals what the stream misses, and two runs
# with the same seed lose exactly the same datagrams (another seed does
# not); burst loss loses in runs; duplication, corruption (one bit) and
# reordering counters equal what the stream sees; delay and jitter add at
# least the delay and keep order; a --blackout window drops exactly the
# datagrams that arrive inside it, and so does a SIGUSR2 toggled one; the
# rate limit paces or drops; the pending cap drops the overflow; four
# concurrent clients each get their own replies, the client cap refuses a
# second one; SIGUSR1 and --rebind-every move the upstream source port.
# For every relay run: exit status 0 on SIGTERM/SIGINT, a JSON stats file,
# and rx = forwarded - duplicated + dropped + pending in each direction.
# Prints one line per check and "N passed, N failed"; exit 1 on any failure.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[[ $# -eq 2 ]] || {
	echo "usage: $0 RELAY UDPFLOW" >&2
	exit 2
}
RELAY=$(realpath -e "$1")
UDPFLOW=$(realpath -e "$2")
CW_KEEP_GOING=1
LO=127.0.0.1

tmp=$(mktemp -d /tmp/cw-relay.XXXXXX)
cw_on_exit "rm -rf '$tmp'"
# shellcheck disable=SC2016 # expanded when the hook runs
cw_on_exit '((CW_FAILED == 0)) || for f in "$tmp"/*.log; do echo "---- $f"; tail -n 20 "$f"; done >&2'

eq() { cw_check_eq "$@" || true; }

# range WHAT LO HI VALUE
range()
{
	if [[ "$4" =~ ^-?[0-9]+$ ]] && (($4 >= $2 && $4 <= $3)); then
		cw_pass "$1 = $4 (in $2..$3)"
	else
		cw_failed "$1: expected $2..$3, got '$4'"
	fi
}

# wait_file PATH: until PATH exists (5 s at most).
wait_file()
{
	local i

	for ((i = 0; i < 250; i++)); do
		[[ -s "$1" ]] && return 0
		sleep 0.02
	done
	cw_fail "$1 did not appear"
}

# start_echo NAME: an echo server; sets ECHO_PORT.
start_echo()
{
	"$UDPFLOW" echo -p "$tmp/$1.port" "$LO:0" >"$tmp/$1.peers" 2>"$tmp/$1.log" &
	cw_track_pid $!
	wait_file "$tmp/$1.port"
	ECHO_PORT=$(<"$tmp/$1.port")
}

# start_relay NAME ARGS...: a relay to the echo server; sets RELAY_PID, RELAY_PORT.
start_relay()
{
	RUN=$1
	shift
	"$RELAY" -l "$LO:0" -u "$LO:$ECHO_PORT" --port-file "$tmp/$RUN.port" \
		--stats-file "$tmp/$RUN.json" "$@" 2>"$tmp/$RUN.log" &
	RELAY_PID=$!
	cw_track_pid "$RELAY_PID"
	wait_file "$tmp/$RUN.port"
	RELAY_PORT=$(<"$tmp/$RUN.port")
}

# stop_relay [SIGNAL]: stop the relay, check its exit and counters, and
# flatten its JSON stats into $tmp/$RUN.stats (up.rx=..., clients=...).
stop_relay()
{
	local rc=0 d rx fwd dup drop pend

	kill "-${1:-TERM}" "$RELAY_PID"
	wait "$RELAY_PID" || rc=$?
	eq "$RUN: relay exit status after SIG${1:-TERM}" 0 "$rc"
	if ! python3 - "$tmp/$RUN.json" >"$tmp/$RUN.stats" <<'EOF'; then
import json, sys
d = json.load(open(sys.argv[1]))
for k, v in d.items():
    for k2, v2 in (v.items() if isinstance(v, dict) else [(None, v)]):
        print("%s=%s" % (k if k2 is None else k + "." + k2, v2))
EOF
		cw_failed "$RUN: stats file is not valid JSON"
		return 0
	fi
	for d in up down; do
		rx=$(sv "$d.rx") fwd=$(sv "$d.forwarded") dup=$(sv "$d.duplicated")
		drop=$(sv "$d.dropped") pend=$(sv "$d.pending")
		eq "$RUN: $d rx = forwarded - duplicated + dropped + pending" "$rx" \
			$((fwd - dup + drop + pend))
	done
}

# flow ARGS...: a udpflow stream through the relay into $tmp/$RUN.flow
# (it ends 150 ms after the last datagram unless ARGS say otherwise).
flow()
{
	"$UDPFLOW" send -q 150 "$@" "$LO:$RELAY_PORT" >"$tmp/$RUN.flow" 2>>"$tmp/$RUN.log"
}

# fv KEY [RUN]: a value udpflow reported; sv KEY [RUN]: a relay counter.
fv() { awk -F= -v k="$1" '$1 == k { print $2 }' "$tmp/${2:-$RUN}.flow"; }
sv() { awk -F= -v k="$1" '$1 == k { print $2 }' "$tmp/${2:-$RUN}.stats"; }

cw_section "command line"
out=$("$RELAY" --help) || true
cw_check "--help exits 0 and documents --burst-loss" grep -q -- --burst-loss <<<"$out"
rc=0
"$RELAY" -l "$LO:0" 2>/dev/null || rc=$?
eq "missing --upstream: exit status" 2 "$rc"
rc=0
"$RELAY" -l "$LO:0" -u "$LO:9" --loss 101 2>/dev/null || rc=$?
eq "--loss 101: exit status" 2 "$rc"

start_echo echo

cw_section "no impairment: byte-exact"
start_relay clean
flow -n 3000 -s 4-1472 -i 50
flow -n 20 -s 65000-65507 -i 1000 && mv "$tmp/clean.flow" "$tmp/clean-big.flow"
flow -n 3000 -s 4-1472 -i 50
stop_relay INT
for r in clean clean-big; do
	n=$(fv sent $r)
	eq "$r: unique exact replies" "$n" "$(fv unique $r)"
	eq "$r: received" "$n" "$(fv received $r)"
	eq "$r: corrupted + duplicates + late + foreign" 0 \
		$(($(fv corrupted $r) + $(fv duplicates $r) + $(fv late $r) + $(fv foreign $r)))
done
eq "clean: up forwarded" 6020 "$(sv up.forwarded)"
eq "clean: down forwarded" 6020 "$(sv down.forwarded)"
eq "clean: dropped" "0 0" "$(sv up.dropped) $(sv down.dropped)"
eq "clean: clients" 3 "$(sv clients_total)"

cw_section "10 % loss, seed 42, twice; then seed 43"
for r in loss-a loss-b loss-c; do
	seed=42
	[[ $r == loss-c ]] && seed=43
	start_relay $r --loss up:10 --seed $seed
	flow -n 2000 -s 4-1200 -i 50
	stop_relay
	eq "$r: stream misses what the relay lost" "$(sv up.dropped_loss)" "$(fv missing)"
	eq "$r: nothing else" "0 0 0 0" "$(fv corrupted) $(fv duplicates) $(sv down.dropped) $(sv up.dropped_error)"
done
range "loss-a: datagrams lost of 2000 (10 %)" 140 260 "$(sv up.dropped_loss loss-a)"
eq "loss-b: same loss count as loss-a" "$(sv up.dropped_loss loss-a)" "$(sv up.dropped_loss loss-b)"
eq "loss-b: same relay decision digest" "$(sv up.digest loss-a)" "$(sv up.digest loss-b)"
eq "loss-b: same datagrams missing" "$(fv missing_digest loss-a)" "$(fv missing_digest loss-b)"
cw_check "loss-c: another seed loses other datagrams" \
	test "$(fv missing_digest loss-a)" != "$(fv missing_digest loss-c)"

cw_section "Gilbert-Elliott burst loss"
start_relay burst --burst-loss up:5,30 --seed 7
flow -n 2000 -s 100 -i 50
stop_relay
eq "burst: stream misses what the relay lost" "$(sv up.dropped_loss)" "$(fv missing)"
range "burst: loss per mille (mean 143)" 50 300 $(($(fv missing) * 1000 / 2000))
runs=$(fv loss_runs)
range "burst: mean burst length x100 (mean 333; 111 for 10 % random)" 200 600 \
	$(($(fv missing) * 100 / (runs > 0 ? runs : 1)))

cw_section "duplication"
start_relay dup --duplicate up:20 --seed 3
flow -n 2000 -s 4-1000 -i 50
stop_relay
range "dup: copies of 2000 (20 %)" 300 500 "$(sv up.duplicated)"
eq "dup: stream sees as many duplicates" "$(sv up.duplicated)" "$(fv duplicates)"
eq "dup: every datagram once exact" 2000 "$(fv unique)"
eq "dup: no corruption, no reordering" "0 0" "$(fv corrupted) $(fv late)"

cw_section "corruption"
start_relay corrupt --corrupt up:10 --seed 5
flow -n 2000 -s 4-1400 -i 50
stop_relay
range "corrupt: corrupted of 2000 (10 %)" 140 260 "$(sv up.corrupted)"
eq "corrupt: stream sees as many corrupted" "$(sv up.corrupted)" "$(fv corrupted)"
eq "corrupt: each differs in exactly one bit" "$(fv corrupted)" "$(fv corrupted_1bit)"
eq "corrupt: the others exact" $((2000 - $(sv up.corrupted))) "$(fv unique)"

cw_section "duplication and corruption together"
start_relay dupcor --duplicate up:10 --corrupt up:10 --seed 9
flow -n 2000 -s 4-1400 -i 50
stop_relay
eq "dupcor: stream receives every copy" "$(sv up.forwarded)" "$(fv received)"
eq "dupcor: corrupted copies" "$(sv up.corrupted)" "$(fv corrupted)"
eq "dupcor: exact copies" $(($(sv up.forwarded) - $(sv up.corrupted))) \
	$(($(fv unique) + $(fv duplicates)))

cw_section "reordering"
start_relay reorder --reorder up:5 --reorder-gap 3 --seed 11
flow -n 1000 -s 100 -i 200
stop_relay
range "reorder: reordered of 1000 (5 %)" 20 90 "$(sv up.reordered)"
eq "reorder: stream sees as many late" "$(sv up.reordered)" "$(fv late)"
eq "reorder: nothing lost" 1000 "$(fv unique)"

cw_section "delay and jitter"
start_relay delay --delay 40 --jitter up:10
flow -n 100 -s 100 -i 1000
stop_relay
range "delay: min RTT us (2 x 40 ms)" 80000 110000 "$(fv rtt_min_us)"
range "delay: max RTT us (+ 10 ms jitter)" 80000 150000 "$(fv rtt_max_us)"
eq "delay: jitter keeps order, nothing lost" "0 100" "$(fv late) $(fv unique)"

cw_section "blackout window 0.505..1.005 s after the first datagram"
start_relay window --blackout 0.505:1.005 --epoch first
flow -n 150 -s 100 -i 10000
stop_relay
eq "window: stream misses what the relay blacked out" \
	"$(sv up.dropped_blackout)" "$(fv missing)"
eq "window: one gap" 1 "$(fv loss_runs)"
range "window: first missing (datagram 51 arrives at 0.51 s)" 50 52 "$(fv first_missing)"
range "window: last missing (datagram 100 at 1.00 s)" 99 101 "$(fv last_missing)"
eq "window: nothing else dropped" "0 0" "$(sv up.dropped_loss) $(sv down.dropped)"

cw_section "blackout toggled by SIGUSR2"
start_relay toggle
flow -n 200 -s 100 -i 5000 &
flow_pid=$!
cw_track_pid $flow_pid
sleep 0.3
kill -USR2 "$RELAY_PID"
sleep 0.3
kill -USR2 "$RELAY_PID"
wait $flow_pid
stop_relay
eq "toggle: toggles" 2 "$(sv blackout_toggles)"
eq "toggle: stream misses what the relay blacked out" \
	$(($(sv up.dropped_blackout) + $(sv down.dropped_blackout))) "$(fv missing)"
eq "toggle: one gap" 1 "$(fv loss_runs)"
range "toggle: missing of 200 sent every 5 ms (0.3 s)" 40 80 "$(fv missing)"

cw_section "rate limit"
start_relay shaped --rate up:200k --rate-burst up:2000 --rate-queue up:1M
flow -n 100 -s 1000 -i 0
stop_relay
eq "shaped: all delivered" "100 0" "$(fv unique) $(sv up.dropped_rate)"
range "shaped: last arrival ms (98 kB at 200 kB/s)" 450 1200 "$(fv last_arrival_ms)"
start_relay policed --rate up:200k --rate-burst up:2000 --rate-queue up:20000
flow -n 100 -s 1000 -i 0 -q 200
stop_relay
range "policed: dropped by the shaper" 60 85 "$(sv up.dropped_rate)"
eq "policed: stream misses as many" "$(sv up.dropped_rate)" "$(fv missing)"

cw_section "pending cap"
start_relay cap --delay up:300 --max-pending 100
flow -n 500 -s 100 -i 0 -q 500
stop_relay
eq "cap: overflow dropped" 400 "$(sv up.dropped_overflow)"
eq "cap: delivered" 100 "$(fv unique)"

cw_section "four concurrent clients"
start_relay multi
pids=()
for i in 1 2 3 4; do
	RUN=multi$i flow -n 500 -s 4-1400 -i 200 -S "$i" &
	pids+=($!)
	cw_track_pid $!
done
for p in "${pids[@]}"; do wait "$p"; done
stop_relay
for i in 1 2 3 4; do
	eq "multi$i: own replies only, exact" "500 0 0" \
		"$(fv unique multi$i) $(fv corrupted multi$i) $(fv foreign multi$i)"
done
eq "multi: clients" 4 "$(sv clients_total)"

start_relay capped --max-clients 1
flow -n 50 -s 100 -i 1000 -q 100 && mv "$tmp/capped.flow" "$tmp/capped1.flow"
flow -n 50 -s 100 -i 1000 -q 100
stop_relay
eq "capped: first client served" 50 "$(fv unique capped1)"
eq "capped: second refused" "0 50" "$(fv unique) $(sv up.dropped_client_cap)"

cw_section "NAT rebinding"
start_echo echo-usr1
start_relay usr1
flow -n 300 -s 100 -i 2000 &
flow_pid=$!
cw_track_pid $flow_pid
sleep 0.3
kill -USR1 "$RELAY_PID"
wait $flow_pid
stop_relay
eq "usr1: rebinds" 1 "$(sv rebinds)"
eq "usr1: the upstream saw two source ports" 2 "$(grep -c '^peer' "$tmp/echo-usr1.peers")"
range "usr1: replies (those in flight at the rebind may be lost)" 298 300 "$(fv unique)"

start_echo echo-sched
start_relay sched --rebind-every 0.2 --epoch first
flow -n 250 -s 100 -i 2000
stop_relay
range "sched: rebinds (every 0.2 s of 0.5 s traffic and 0.15 s quiet)" 2 5 "$(sv rebinds)"
# rebinds after the last datagram make no new source port
range "sched: source ports the upstream saw" 3 $(($(sv rebinds) + 1)) \
	"$(grep -c '^peer' "$tmp/echo-sched.peers")"
range "sched: replies" 245 250 "$(fv unique)"

cw_summary
