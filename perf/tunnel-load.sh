#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# causewayd's tunnel under causeway-loadgen (issue 4): one worker lcore for
# causewayd, one lcore for the generator, and every figure twice:
#
#   dpdk    causewayd's DPDK backend owns a vhost-user port; the generator
#           drives virtio_user
#   socket  causewayd's kernel-socket backend in a network namespace, on
#           one end of a veth pair; the generator's DPDK port is
#           net_af_packet on the other end (the same generator, so the
#           ratio is the gateway's)
#
#   perf/tunnel-load.sh [--sessions N] [--seconds D] [--inflight K]
#                       [--rate R] [--body FILE] [--modes "handshakes idle requests"]
#                       [--backends "dpdk socket"] [--build DIR] [--no-build]
#
# For each backend and mode a fresh causewayd and one generator run; each
# prints its JSON line (causeway-loadgen's summary with "backend" added,
# "dut_wait_ms": how long causewayd's worker sat runnable without a CPU
# from the last session up to the summary, "dut_body_bytes": the request
# body bytes it decoded, and for idle the gateway's
# memory per session from DPDK telemetry); then
# the DPDK/socket ratios of the modes both backends ran. Defaults: 2000
# sessions, 5 s (idle needs 2 at least: memory is read after 1.2 s), 4
# requests in flight per session (with --rate R: open loop at R requests/s,
# at most K in flight per session; with --body FILE, every request carries
# FILE compressed once with conf/causeway.dict, which causewayd offers and
# decodes per request), release build in build-bench. Needs root
# (DPDK, vhost sockets, a namespace); no hugepages.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
SESSIONS=2000 SECONDS_RUN=5 INFLIGHT=4 RATE=() BODY=() MODES="handshakes idle requests" BACKENDS="dpdk socket"
BUILD=$root/build-bench BUILD_IT=1
while (($#)); do
	case $1 in
	--sessions) SESSIONS=$2; shift 2 ;;
	--seconds) SECONDS_RUN=$2; shift 2 ;;
	--inflight) INFLIGHT=$2; shift 2 ;;
	--rate) RATE=(--rate "$2"); shift 2 ;;
	--body) BODY=(--body "$(realpath -e "$2")" --dict "$root/conf/causeway.dict"); shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--backends) BACKENDS=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--no-build) BUILD_IT=0; shift ;; # use DIR's binaries as they are (the test suite)
	*)
		echo "usage: $0 [--sessions N] [--seconds D] [--inflight K] [--rate R] [--body FILE] [--modes LIST]" \
			"[--backends LIST] [--build DIR] [--no-build]" >&2
		exit 2
		;;
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
NS=cwtl-$$ VETH_H=cwtl$$h VETH_N=cwtl$$n
DUT_IP=198.18.0.1 LG_IP=198.18.0.2
PIDS=()
cleanup()
{
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	ip link del "$VETH_H" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$WORK" "/var/run/dpdk/$PFX-dut" "/var/run/dpdk/$PFX-lg"
}
trap cleanup EXIT

"$root/scripts/pki.sh" "$WORK" "$DUT_IP" unused >/dev/null
SOCK=$WORK/vhost.sock

# The socket backend's link: causewayd's end in the namespace, with the
# offloads off so that the generator's AF_PACKET sees plain frames.
setup_veth()
{
	ip netns add "$NS"
	ip link add "$VETH_H" type veth peer name "$VETH_N" netns "$NS"
	ip netns exec "$NS" ip addr add "$DUT_IP/24" dev "$VETH_N"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" ip link set "$VETH_N" up
	ip netns exec "$NS" ethtool -K "$VETH_N" tx off sg off tso off gso off >/dev/null
	ip link set "$VETH_H" up
}

dut_conf()
{
	local backend=$1

	cat <<EOF
[eal]
lcores = 0-1
hugepages = no
memory = 1024
file_prefix = $PFX-dut
EOF
	if [[ $backend == dpdk ]]; then
		printf '[port p0]\ndevice = net_vhost0,iface=%s,queues=1\naddress = %s/24\n' \
			"$SOCK" "$DUT_IP"
		printf '[dataplane]\n'
	else
		printf '[dataplane]\nbackend = socket\nsocket_address = %s\n' "$DUT_IP"
	fi
	cat <<EOF
workers = 1
stats_interval = 0
mbuf_pool_size = 32767
[tunnel]
port = 10262
cert = $WORK/gateway.crt
key = $WORK/gateway.key
ca = $WORK/ca.crt
dictionary = $root/conf/causeway.dict
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
}

start_dut()
{
	local backend=$1 i
	local wrap=()

	dut_conf "$backend" >"$WORK/causeway.conf"
	rm -f "$SOCK"
	[[ $backend == socket ]] && wrap=(ip netns exec "$NS")
	"${wrap[@]}" "$DAEMON" -c "$WORK/causeway.conf" >"$WORK/dut.log" 2>&1 &
	DUT_PID=$!
	PIDS+=("$DUT_PID")
	for ((i = 0; i < 200; i++)); do
		grep -q 'causewayd: ready' "$WORK/dut.log" &&
			{ [[ $backend == socket ]] || [[ -S $SOCK ]]; } && return 0
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

# dut_wait: ns causewayd's worker thread has sat runnable without a CPU.
dut_wait()
{
	local tid

	tid=$(ps -L -o tid=,comm= -p "$DUT_PID" | awk '$2 == "rte-worker-1" {print $1}')
	awk '{print $2}' "/proc/$DUT_PID/task/$tid/schedstat" 2>/dev/null || echo 0
}

# telemetry NAME: a total of causewayd's /causeway/stats.
telemetry()
{
	echo /causeway/stats | dpdk-telemetry.py -f "$PFX-dut" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["/causeway/stats"]["total"][sys.argv[1]])' "$1"
}

# run BACKEND MODE: one generator run against a fresh causewayd.
run()
{
	local backend=$1 mode=$2 out mem0 mem1 lg_rc vdev w0 w1 decoded

	start_dut "$backend"
	mem0=$(telemetry tunnel_memory_bytes)
	vdev="virtio_user0,path=$SOCK,queues=1,queue_size=1024"
	[[ $backend == socket ]] && vdev="net_af_packet0,iface=$VETH_H"
	"$LG" -l 0 --no-pci --no-huge -m 1024 --single-file-segments --file-prefix "$PFX-lg" \
		--vdev "$vdev" -- --dut-ip "$DUT_IP" --src-ip "$LG_IP" --ca "$WORK/ca.crt" \
		--ca-key "$WORK/ca.key" --sessions "$SESSIONS" --mode "$mode" \
		--seconds "$SECONDS_RUN" --inflight "$INFLIGHT" "${RATE[@]}" "${BODY[@]}" >"$WORK/lg.out" \
		2>"$WORK/lg.log" &
	LG_PID=$!
	PIDS+=("$LG_PID")
	mem1=
	while kill -0 "$LG_PID" 2>/dev/null && ! grep -q '^causeway-loadgen: all up' "$WORK/lg.out"; do
		sleep 0.1
	done
	w0=$(dut_wait)
	if [[ $mode == idle ]]; then
		# Once every session is up and has been idle for more than a second
		# (sessions give their cipher contexts back after 1 s).
		sleep 1.2
		mem1=$(telemetry tunnel_memory_bytes)
	fi
	while kill -0 "$LG_PID" 2>/dev/null && ! grep -q '^{' "$WORK/lg.out"; do
		sleep 0.1
	done
	w1=$(dut_wait)
	sleep 0.2 # the worker publishes its figures every 100 ms
	decoded=$(telemetry tunnel_body_bytes)
	lg_rc=0
	wait "$LG_PID" || lg_rc=$?
	grep '^causeway-loadgen:' "$WORK/lg.out" | tail -n 2 | sed "s/^/$backend: /" >&2 || true
	out=$(grep '^{' "$WORK/lg.out" || true)
	stop_dut
	if [[ -z $out ]] || ((lg_rc)); then
		tail -n 20 "$WORK/lg.log" "$WORK/dut.log" >&2
		echo "tunnel-load.sh: $backend $mode: causeway-loadgen exited with $lg_rc" >&2
		return 1
	fi
	[[ -n $mem1 ]] && out="${out%?},\"gateway_bytes_per_session\":$(((mem1 - mem0) / SESSIONS))}"
	out="{\"backend\":\"$backend\",\"dut_wait_ms\":$(((w1 - w0) / 1000000)),\"dut_body_bytes\":$decoded,${out#\{}"
	echo "$out" | tee -a "$WORK/all.json"
}

echo "tunnel-load.sh: $(date -u '+%F %T') UTC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, commit $(git -C "$root" rev-parse --short HEAD)"
[[ " $BACKENDS " == *" socket "* ]] && setup_veth
for backend in $BACKENDS; do
	for mode in $MODES; do
		run "$backend" "$mode"
	done
done
python3 - "$WORK/all.json" <<'EOF'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["backend"], r["mode"]): r for r in runs}
for mode, key, what in (("handshakes", "handshakes_per_s", "full handshakes/s"),
                        ("requests", "requests_per_s", "requests/s")):
    d, s = by.get(("dpdk", mode)), by.get(("socket", mode))
    if d and s and s[key]:
        print(f"ratio dpdk/socket, {what}: {d[key] / s[key]:.2f} ({d[key]:.0f} / {s[key]:.0f})")
EOF
