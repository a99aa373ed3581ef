#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# causewayd's tunnel on DPDK under causeway-loadgen (issue 4): one worker
# lcore for causewayd, one lcore for the generator, joined by vhost-user
# (causewayd owns net_vhost, the generator drives virtio_user).
#
#   perf/tunnel-load.sh [--sessions N] [--seconds D] [--inflight K]
#                       [--modes "handshakes idle requests"] [--build DIR]
#                       [--no-build]
#
# For each mode a fresh causewayd and one generator run; each prints its
# JSON line (causeway-loadgen's summary, with the gateway's memory per
# session from DPDK telemetry added for idle), and a table follows.
# Defaults: 2000 sessions, 5 s (idle needs 2 at least: memory is read
# after 1.2 s), 4 requests in flight per session, release build in
# build-bench. Needs root (DPDK, vhost sockets); no hugepages.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
SESSIONS=2000 SECONDS_RUN=5 INFLIGHT=4 MODES="handshakes idle requests"
BUILD=$root/build-bench BUILD_IT=1
while (($#)); do
	case $1 in
	--sessions) SESSIONS=$2; shift 2 ;;
	--seconds) SECONDS_RUN=$2; shift 2 ;;
	--inflight) INFLIGHT=$2; shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--no-build) BUILD_IT=0; shift ;; # use DIR's binaries as they are (the test suite)
	*) echo "usage: $0 [--sessions N] [--seconds D] [--inflight K] [--modes LIST] [--build DIR] [--no-build]" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "tunnel-load.sh: run as root" >&2; exit 1; }
if ((BUILD_IT)); then
	[[ -d $BUILD ]] || meson setup "$BUILD" "$root" --buildtype=release >/dev/null
	ninja -C "$BUILD" causewayd perf/causeway-loadgen >/dev/null
fi
DAEMON=$BUILD/causewayd LG=$BUILD/perf/causeway-loadgen

WORK=$(mktemp -d /tmp/cw-tload.XXXXXX)
PFX=cwtl$$
DUT_IP=198.18.0.1 LG_IP=198.18.0.2
PIDS=()
cleanup()
{
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK" "/var/run/dpdk/$PFX-dut" "/var/run/dpdk/$PFX-lg"
}
trap cleanup EXIT

"$root/scripts/pki.sh" "$WORK" "$DUT_IP" unused >/dev/null
SOCK=$WORK/vhost.sock

start_dut()
{
	cat >"$WORK/causeway.conf" <<EOF
[eal]
lcores = 0-1
hugepages = no
memory = 1024
file_prefix = $PFX-dut
[port p0]
device = net_vhost0,iface=$SOCK,queues=1
address = $DUT_IP/24
[dataplane]
workers = 1
stats_interval = 0
mbuf_pool_size = 32767
[tunnel]
port = 10262
cert = $WORK/gateway.crt
key = $WORK/gateway.key
ca = $WORK/ca.crt
retry = never
max_sessions = 200000
[ingress]
listen =
[admin]
listen =
[route]
rule = * ^/api/v1/(namespaces/[^/]+/)?secrets(/|$) deny
[log]
level = warning
EOF
	rm -f "$SOCK"
	"$DAEMON" -c "$WORK/causeway.conf" >"$WORK/dut.log" 2>&1 &
	DUT_PID=$!
	PIDS+=("$DUT_PID")
	for ((i = 0; i < 200; i++)); do
		grep -q 'causewayd: ready' "$WORK/dut.log" && [[ -S $SOCK ]] && return 0
		kill -0 "$DUT_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/dut.log" >&2
	echo "tunnel-load.sh: causewayd did not start" >&2
	exit 1
}

stop_dut()
{
	kill -INT "$DUT_PID" 2>/dev/null || true
	wait "$DUT_PID" 2>/dev/null || true
}

# telemetry NAME: a total of causewayd's /causeway/stats.
telemetry()
{
	echo /causeway/stats | dpdk-telemetry.py -f "$PFX-dut" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["/causeway/stats"]["total"][sys.argv[1]])' "$1"
}

run_mode()
{
	local mode=$1 out mem0 mem1 lg_rc
	start_dut
	mem0=$(telemetry tunnel_memory_bytes)
	"$LG" -l 0 --no-pci --no-huge -m 1024 --single-file-segments --file-prefix "$PFX-lg" \
		--vdev "virtio_user0,path=$SOCK,queues=1,queue_size=1024" -- \
		--dut-ip "$DUT_IP" --src-ip "$LG_IP" --ca "$WORK/ca.crt" --ca-key "$WORK/ca.key" \
		--sessions "$SESSIONS" --mode "$mode" --seconds "$SECONDS_RUN" \
		--inflight "$INFLIGHT" >"$WORK/lg-$mode.out" 2>"$WORK/lg-$mode.log" &
	LG_PID=$!
	PIDS+=("$LG_PID")
	mem1=
	if [[ $mode == idle ]]; then
		# Once every session is up and has been idle for more than a second
		# (sessions give their cipher contexts back after 1 s).
		while kill -0 "$LG_PID" 2>/dev/null && ! grep -q '^causeway-loadgen: all up' "$WORK/lg-$mode.out"; do
			sleep 0.1
		done
		sleep 1.2
		mem1=$(telemetry tunnel_memory_bytes)
	fi
	lg_rc=0
	wait "$LG_PID" || lg_rc=$?
	grep '^causeway-loadgen:' "$WORK/lg-$mode.out" | tail -n 3 >&2 || true
	out=$(grep '^{' "$WORK/lg-$mode.out" || true)
	[[ -n $out ]] || { tail -n 20 "$WORK/lg-$mode.log" "$WORK/dut.log" >&2; echo "tunnel-load.sh: $mode: no summary" >&2; return 1; }
	if [[ -n $mem1 ]]; then
		out="${out%?},\"gateway_bytes_per_session\":$(((mem1 - mem0) / SESSIONS))}"
	fi
	echo "$out"
	stop_dut
	if ((lg_rc)); then
		tail -n 20 "$WORK/lg-$mode.log" >&2
		echo "tunnel-load.sh: $mode: causeway-loadgen exited with $lg_rc" >&2
		return 1
	fi
}

echo "tunnel-load.sh: $(date -u '+%F %T') UTC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, commit $(git -C "$root" rev-parse --short HEAD)"
for mode in $MODES; do
	run_mode "$mode"
done
