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
#                       [--rate R] [--body FILE] [--bulk-size BYTES]
#                       [--storm K] [--storm-resume] [--connecting K]
#                       [--modes "handshakes idle requests bulk storm"]
#                       [--backends "dpdk socket"] [--save DIR] [--build DIR]
#                       [--no-build]
#
# For each backend and mode a fresh causewayd and one generator run; each
# prints its JSON line (causeway-loadgen's summary with "backend" added,
# "dut_wait_ms": how long causewayd's worker sat runnable without a CPU
# from the last session up to the summary, "dut_cpu_ms": how long it ran
# then, "dut_body_bytes": the request body bytes it decoded,
# "dut_hs_full" / "dut_hs_resumed": the
# handshakes it completed, "dut_sessions_left": its live sessions a
# moment after the generator closed them all, and for idle the gateway's
# memory per session from DPDK telemetry and causewayd's RSS); then
# the DPDK/socket ratios of the modes both backends ran, and for bulk and
# storm a check of the generator's counts against the gateway's
# ("check ... ok" or "check ... MISMATCH" on stderr). bulk: every request
# carries BYTES (default 65536) of incompressible body, agent->gateway;
# storm: K (default a quarter) of the sessions close and reconnect in the
# second half of the run (--storm-resume: with their session tickets).
# --save DIR keeps each run's JSON line (DIR/runs.json) and its latency
# CDF (DIR/cdf-BACKEND-MODE-SESSIONS.txt, see causeway-loadgen --cdf) for
# perf/plots.sh. Defaults: 2000
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
BUILD=$root/build-bench BUILD_IT=1 BULK=() STORM='' RESUME=() CONNECTING=() SAVE='' HS_THREADS=1
while (($#)); do
	case $1 in
	--sessions) SESSIONS=$2; shift 2 ;;
	--seconds) SECONDS_RUN=$2; shift 2 ;;
	--inflight) INFLIGHT=$2; shift 2 ;;
	--rate) RATE=(--rate "$2"); shift 2 ;;
	--body) BODY=(--body "$(realpath -e "$2")" --dict "$root/conf/causeway.dict"); shift 2 ;;
	--bulk-size) BULK=(--bulk-size "$2"); shift 2 ;;
	--storm) STORM=$2; shift 2 ;;
	--storm-resume) RESUME=(--storm-resume); shift ;;
	--connecting) CONNECTING=(--connecting "$2"); shift 2 ;;
	--hs-threads) HS_THREADS=$2; shift 2 ;; # causewayd's [tunnel] handshake_threads
	--save) SAVE=$(mkdir -p "$2" && realpath -e "$2"); shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--backends) BACKENDS=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--no-build) BUILD_IT=0; shift ;; # use DIR's binaries as they are (the test suite)
	*)
		echo "usage: $0 [--sessions N] [--seconds D] [--inflight K] [--rate R] [--body FILE]" \
			"[--bulk-size BYTES] [--storm K] [--storm-resume] [--connecting K] [--hs-threads N]" \
			"[--modes LIST]" \
			"[--backends LIST] [--save DIR] [--build DIR] [--no-build]" >&2
		exit 2
		;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "tunnel-load.sh: run as root" >&2; exit 1; }
STORM=${STORM:-$(((SESSIONS + 3) / 4))}
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
handshake_threads = $HS_THREADS
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

# dut_wait: ns causewayd's worker thread has sat runnable without a CPU;
# dut_cpu: ns it has run.
dut_sched()
{
	local tid

	tid=$(ps -L -o tid=,comm= -p "$DUT_PID" | awk '$2 == "rte-worker-1" {print $1}')
	awk -v f="$1" '{print $f}' "/proc/$DUT_PID/task/$tid/schedstat" 2>/dev/null || echo 0
}
dut_wait() { dut_sched 2; }
dut_cpu() { dut_sched 1; }

# telemetry NAME: a total of causewayd's /causeway/stats.
telemetry()
{
	echo /causeway/stats | dpdk-telemetry.py -f "$PFX-dut" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["/causeway/stats"]["total"][sys.argv[1]])' "$1"
}

# rss_kb: causewayd's resident set, KiB.
rss_kb()
{
	awk '$1 == "VmRSS:" {print $2}' "/proc/$DUT_PID/status"
}

# run BACKEND MODE: one generator run against a fresh causewayd.
run()
{
	local backend=$1 mode=$2 out mem0 mem1 rss lg_rc vdev w0 w1 c0 c1 decoded hs_full hs_resumed left i m
	local extra=()

	start_dut "$backend"
	mem0=$(telemetry tunnel_memory_bytes)
	vdev="virtio_user0,path=$SOCK,queues=1,queue_size=1024"
	[[ $backend == socket ]] && vdev="net_af_packet0,iface=$VETH_H"
	[[ $mode == bulk ]] && extra+=("${BULK[@]}")
	[[ $mode == storm ]] && extra+=(--storm "$STORM" "${RESUME[@]}")
	[[ -n $SAVE ]] && extra+=(--cdf "$SAVE/cdf-$backend-$mode-$SESSIONS.txt")
	"$LG" -l 0 --no-pci --no-huge -m 1024 --single-file-segments --file-prefix "$PFX-lg" \
		--vdev "$vdev" -- --dut-ip "$DUT_IP" --src-ip "$LG_IP" --ca "$WORK/ca.crt" \
		--ca-key "$WORK/ca.key" --sessions "$SESSIONS" --mode "$mode" \
		--seconds "$SECONDS_RUN" --inflight "$INFLIGHT" "${RATE[@]}" "${BODY[@]}" \
		"${CONNECTING[@]}" "${extra[@]}" >"$WORK/lg.out" 2>"$WORK/lg.log" &
	LG_PID=$!
	PIDS+=("$LG_PID")
	mem1='' rss=''
	while kill -0 "$LG_PID" 2>/dev/null && ! grep -q '^causeway-loadgen: all up' "$WORK/lg.out"; do
		sleep 0.1
	done
	w0=$(dut_wait) c0=$(dut_cpu)
	if [[ $mode == idle ]]; then
		# Once every session is up and has been idle for more than a second
		# (sessions give their cipher contexts back after 1 s): until the
		# figure stops falling, 10 s at most (a worker short of CPU is late).
		sleep 1.2
		mem1=$(telemetry tunnel_memory_bytes)
		for ((i = 0; i < 20; i++)); do
			sleep 0.5
			m=$(telemetry tunnel_memory_bytes)
			((m < mem1)) || break
			mem1=$m
		done
		rss=$(rss_kb)
	fi
	while kill -0 "$LG_PID" 2>/dev/null && ! grep -q '^{' "$WORK/lg.out"; do
		sleep 0.1
	done
	w1=$(dut_wait) c1=$(dut_cpu)
	sleep 0.2 # the worker publishes its figures every 100 ms
	decoded=$(telemetry tunnel_body_bytes)
	hs_full=$(telemetry tunnel_handshakes_full)
	hs_resumed=$(telemetry tunnel_handshakes_resumed)
	lg_rc=0
	wait "$LG_PID" || lg_rc=$?
	sleep 0.5 # the gateway's closing periods (3 PTO) end
	left=$(telemetry tunnel_sessions)
	grep '^causeway-loadgen:' "$WORK/lg.out" | tail -n 2 | sed "s/^/$backend: /" >&2 || true
	out=$(grep '^{' "$WORK/lg.out" || true)
	stop_dut
	if [[ -z $out ]] || ((lg_rc)); then
		tail -n 20 "$WORK/lg.log" "$WORK/dut.log" >&2
		echo "tunnel-load.sh: $backend $mode: causeway-loadgen exited with $lg_rc" >&2
		[[ -n $out ]] || return 1 # else its figures still say what failed
	fi
	[[ -n $mem1 ]] &&
		out="${out%?},\"gateway_bytes_per_session\":$(((mem1 - mem0) / SESSIONS)),\"dut_rss_kb\":$rss}"
	out="{\"backend\":\"$backend\",\"dut_wait_ms\":$(((w1 - w0) / 1000000)),\"dut_cpu_ms\":$(((c1 - c0) / 1000000)),\"dut_body_bytes\":$decoded,${out#\{}"
	out="${out%?},\"dut_hs_full\":$hs_full,\"dut_hs_resumed\":$hs_resumed,\"dut_sessions_left\":$left}"
	echo "$out" | tee -a "$WORK/all.json"
	[[ -z $SAVE ]] || echo "$out" >>"$SAVE/runs.json"
	check "$out"
	return $((lg_rc ? 1 : 0))
}

# check JSON: the generator's counts against the gateway's (stderr).
check()
{
	python3 - "$1" <<'EOF' >&2
import json, sys
r = json.loads(sys.argv[1])
def say(what, ok):
    print(f"check {r['backend']} {r['mode']}: {what}: {'ok' if ok else 'MISMATCH'}")
if r["mode"] == "bulk":
    # The worker polls: its CPU time includes idle polls, so per CPU second
    # is a floor of what a worker with a core of its own would carry.
    cpu = r["dut_cpu_ms"] / 1000
    per_cpu = r["dut_body_bytes"] * 8 / cpu / 1e9 if cpu else 0
    print(f"{r['backend']} bulk: {r['payload_gbit_s']:.2f} Gbit/s of request bodies, agent->gateway,"
          f" {r['body_bytes']} B each, one worker lcore; {per_cpu:.2f} Gbit per second of"
          f" worker CPU ({r['dut_cpu_ms']} ms on CPU, {r['dut_wait_ms']} ms waiting for one)")
    say(f"gateway decoded {r['dut_body_bytes']} body bytes, generator had "
        f"{r['bodies_answered_bytes']:.0f} answered .. {r['bodies_sent_bytes']:.0f} sent",
        r["bodies_answered_bytes"] <= r["dut_body_bytes"] <= r["bodies_sent_bytes"])
if r["mode"] == "storm":
    s, p = r["storm"], r["phases"]
    lat = lambda ph: "/".join(str(p[ph]["latency_us"][k]) for k in ("p50", "p99", "p99_9"))
    print(f"{r['backend']} storm: {s['handshakes_per_s']:.0f} reconnects/s of {s['sessions']} sessions;"
          f" requests p50/p99/p99.9 us: idle {lat('idle')}, storm {lat('storm')}")
    # With --storm-resume a ticket the gateway declines means a full one.
    hs = r["dut_hs_full"] + (r["dut_hs_resumed"] if s["resume"] else 0)
    want = r["sessions"] + s["reconnects"]
    say(f"gateway handshakes {hs} ({r['dut_hs_resumed']} resumed) >= {want} (sessions + reconnects)",
        hs >= want)
EOF
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
