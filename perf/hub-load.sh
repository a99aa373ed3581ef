#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The cloud hub under N emulated edge nodes (issue 5):
#
#   causeway-loadgen --mode watch (N agents on DPDK, virtio_user)
#     --tunnel--> causewayd (DPDK backend, vhost-user; [hub] reflecting
#     pods, nodes, services, configmaps, endpointslices; every request
#     routed to the hub)
#     --HTTP--> causeway-fake-apiserver, seeded by perf/k8s-seed.py with
#     --pods pods spread over the nodes lg-0..lg-(M-1) and M Node objects
#     (--node-objects, default 10000: one per agent), ten services with an EndpointSlice
#     each, ten configmaps, and the Service default/lg-marker
#
# For each N of --sessions every agent lists then watches --watch (a
# kubelet's and kube-proxy's resources: its node's pods, its Node, and
# services, endpointslices, configmaps unfiltered); once all are watching
# ("after s": from the generator's start of bring-up; with --listing K at
# most K agents list at a time, default all) they hold the watches --seconds (at
# least 60 for a per-minute figure). The upstream's counters (/fake/stats)
# are read when the hold begins and when it ends: the upstream watches
# open and the requests per minute in between (the marker's PATCH left
# out). A third into the hold the generator PATCHes Service
# default/lg-marker on the fake apiserver and times the event to every
# agent: the fan-out min/p50/p99/max; --markers K (default 3, as many as
# the hold has time for) such changes, each --marker-gap seconds (default
# 2) after the previous one's answer. Each finds the sessions gone cold
# (quiet for a second: cipher contexts and buffers given back; with a gap
# under a second, the sessions are still warm); the first is the first
# time every session wakes at once, a peak of memory the bring-up never
# reached (causewayd's workers keep heap touched ahead for it, and the
# generator grows and locks its own before the first marker, so that its
# page faults are not timed). A table compares
# the upstream's load with YurtHub's model (a hub per node, each with its
# own list and watch per resource: N x R watches, N x R lists at start,
# and each watch renewed every 5-10 min as client-go's reflectors do,
# N x R / 7.5 requests per minute).
#
# A kubelet's list of its own Node (fieldSelector=metadata.name=NODE) is
# matched on the store's keys, so a Node per agent costs no parsing of the
# others; a request that finds causewayd's worker->control event ring
# nearly full is refused (the agent retries) rather than lost there
# (counter api_busy).
#
# Then (unless --no-list) the list of every pod, GET /api/v1/pods, by
# --list-sessions agents for --list-seconds (closed loop, one in flight
# each), once routed to the hub and once to the upstream (a causewayd
# restarted with the other route table): requests/s, latency p50/p99 and
# the bytes of each answer.
#
#   perf/hub-load.sh [--sessions "1000 10000"] [--seconds 60] [--pods 10000]
#                    [--node-objects 10000]
#                    [--watch pods,nodes,services,endpointslices,configmaps]
#                    [--listing K] [--markers K] [--marker-gap S]
#                    [--list-sessions 4] [--list-seconds 20] [--no-list]
#                    [--save DIR] [--build DIR] [--no-build]
#
# Prints every run's JSON line (causeway-loadgen's summary, with "upstream"
# added: the fake apiserver's counters over the hold, and "dut": causewayd's
# datagrams sent again and frames its port refused over the whole run) and
# the tables. Needs
# root (DPDK, vhost sockets); no hugepages. Release build in build-bench
# unless --build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
SESSIONS="1000 10000" HOLD=60 PODS=10000 WATCH=pods,nodes,services,endpointslices,configmaps
NODES=10000 LISTING=() MARKS=3 GAP=2 LIST_SESSIONS=4 LIST_SECONDS=20 LIST=1 SAVE='' BUILD=$root/build-bench BUILD_IT=1
while (($#)); do
	case $1 in
	--sessions) SESSIONS=$2; shift 2 ;;
	--seconds) HOLD=$2; shift 2 ;;
	--pods) PODS=$2; shift 2 ;;
	--node-objects) NODES=$2; shift 2 ;;
	--watch) WATCH=$2; shift 2 ;;
	--listing) LISTING=(--listing "$2"); shift 2 ;;
	--markers) MARKS=$2; shift 2 ;;
	--marker-gap) GAP=$2; shift 2 ;;
	--list-sessions) LIST_SESSIONS=$2; shift 2 ;;
	--list-seconds) LIST_SECONDS=$2; shift 2 ;;
	--no-list) LIST=0; shift ;;
	--save) SAVE=$(mkdir -p "$2" && realpath -e "$2"); shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--no-build) BUILD_IT=0; shift ;;
	*)
		echo "usage: $0 [--sessions LIST] [--seconds D] [--pods P] [--watch LIST] [--markers K]" \
			"[--marker-gap S]" \
			"[--list-sessions N] [--list-seconds D] [--no-list] [--save DIR]" \
			"[--build DIR] [--no-build]" >&2
		exit 2
		;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "hub-load.sh: run as root" >&2; exit 1; }
[[ ,$WATCH, == *,services,* ]] || { echo "hub-load.sh: --watch must have services (the marker)" >&2; exit 2; }
if ((BUILD_IT)); then
	[[ -d $BUILD ]] || meson setup "$BUILD" "$root" --buildtype=release >/dev/null
	ninja -C "$BUILD" causewayd perf/causeway-loadgen tests/tools/causeway-fake-apiserver >/dev/null
fi
DAEMON=$BUILD/causewayd LG=$BUILD/perf/causeway-loadgen FAKE=$BUILD/tests/tools/causeway-fake-apiserver

WORK=$(mktemp -d /tmp/cw-hload.XXXXXX)
PFX=cwhl$$
DUT_IP=198.18.0.1 LG_IP=198.18.0.2
UP_PORT=$((20000 + $$ % 20000))
while [[ -n "$(ss -Hltn "sport = :$UP_PORT")" ]]; do UP_PORT=$((UP_PORT + 1)); done
UP=http://127.0.0.1:$UP_PORT
MARKER=/api/v1/namespaces/default/services/lg-marker
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

# The upstream's objects: --pods pods made from a real one (pod i on node
# lg-(i mod M)), M Node objects lg-0..lg-(M-1) (--node-objects), and a few
# of the rest.
mkdir -p "$WORK/seed"
python3 "$here/k8s-seed.py" --pods "$PODS" --nodes "$NODES" --marker lg-marker "$WORK/seed"

"$FAKE" --listen "127.0.0.1:$UP_PORT" --seed-dir "$WORK/seed" --history 100000 \
	--bookmark-ms 60000 >"$WORK/fake.log" 2>&1 &
PIDS+=($!)
FAKE_PID=$!
for ((i = 0; i < 600; i++)); do
	grep -qs ready "$WORK/fake.log" && break
	kill -0 "$FAKE_PID" 2>/dev/null || { cat "$WORK/fake.log" >&2; exit 1; }
	sleep 0.1
done
grep -qs ready "$WORK/fake.log" || { echo "hub-load.sh: fake apiserver not ready" >&2; exit 1; }

# stats: the fake apiserver's counters (JSON).
stats() { curl -sf "$UP/fake/stats"; }
fstat() { stats | python3 -c 'import json, sys; d = json.load(sys.stdin)
for k in sys.argv[1].split("."): d = d.get(k, 0)
print(d)' "$1"; }

HUB_RES="/api/v1/pods, /api/v1/nodes, /api/v1/services, /api/v1/configmaps, /apis/discovery.k8s.io/v1/endpointslices"
dut_conf()
{
	local route=$1

	cat <<EOF
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
# Its counters (retransmits, tx_full drops) go into the run's JSON.
stats_interval = 2
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
[upstream]
server = $UP
[hub]
store = $WORK/store
resources = $HUB_RES
history = 100000
[route]
default = $route
[log]
level = warning
EOF
}

# start_dut ROUTE: causewayd with every request routed to ROUTE (hub or
# upstream), once its reflectors hold their five upstream watches.
start_dut()
{
	local i

	dut_conf "$1" >"$WORK/causeway.conf"
	rm -f "$SOCK"
	"$DAEMON" -c "$WORK/causeway.conf" >"$WORK/dut.log" 2>&1 &
	DUT_PID=$!
	PIDS+=("$DUT_PID")
	for ((i = 0; i < 1200; i++)); do
		grep -qs "causewayd: ready" "$WORK/dut.log" && [[ -S $SOCK ]] &&
			(($(fstat watches_open_total) >= 5)) && return 0
		kill -0 "$DUT_PID" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 30 "$WORK/dut.log" >&2
	echo "hub-load.sh: causewayd did not start (or its hub did not sync)" >&2
	exit 1
}

stop_dut()
{
	kill -INT "$DUT_PID" 2>/dev/null || true
	wait "$DUT_PID" 2>/dev/null || true
}

rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }

# dut_counters: the DUT's last stats lines: "RETRANSMITS TX_FULL" of the
# whole run (datagrams sent again; frames the port refused).
dut_counters()
{
	awk '/^total +tunnel/ {for (i = 1; i < NF; i++) if ($i == "retransmits") r = $(i + 1)}
	     /^drops:/ {t = 0; for (i = 2; i <= NF; i++) if ($i ~ /^tx_full=/) t = substr($i, 9)}
	     END {print r + 0, t + 0}' "$WORK/dut.log"
}

# lg ARGS...: causeway-loadgen against the DUT in the background (LG_PID).
lg()
{
	"$LG" -l 0 --no-pci --no-huge -m 2048 --single-file-segments --file-prefix "$PFX-lg" \
		--vdev "virtio_user0,path=$SOCK,queues=1,queue_size=1024" -- --dut-ip "$DUT_IP" \
		--src-ip "$LG_IP" --ca "$WORK/ca.crt" --ca-key "$WORK/ca.key" "$@" \
		>"$WORK/lg.out" 2>"$WORK/lg.log" &
	LG_PID=$!
	PIDS+=("$LG_PID")
}

# wait_line RE: until causeway-loadgen prints a line matching RE (1 if it
# exits first).
wait_line()
{
	while ! grep -qs "$1" "$WORK/lg.out"; do
		kill -0 "$LG_PID" 2>/dev/null || return 1
		sleep 0.05
	done
}

# watch_run N: one run of N watching agents; its JSON line to all.json.
watch_run()
{
	local n=$1 s0 s1 t0 t1 rc=0 out rss='' before dut

	start_dut hub
	before=$(stats)
	lg --sessions "$n" --mode watch --watch "$WATCH" --seconds "$HOLD" --marker "$MARKER" \
		--markers "$MARKS" --marker-gap "$GAP" \
		--upstream "127.0.0.1:$UP_PORT" "${LISTING[@]}"
	s0='{}' s1='{}' t0=0 t1=0
	if wait_line '^causeway-loadgen: hold:'; then
		s0=$(stats) t0=$(date +%s.%N) rss=$(rss_kb "$DUT_PID")
		wait_line '^causeway-loadgen: hold over' && { s1=$(stats) t1=$(date +%s.%N); }
	fi
	wait "$LG_PID" || rc=$?
	grep '^causeway-loadgen: \(all\|hold:\|marker\)' "$WORK/lg.out" | sed "s/^/$n: /" >&2 || true
	out=$(grep '^{' "$WORK/lg.out" || true)
	stop_dut
	dut=$(dut_counters)
	if [[ -z $out ]] || ((rc)); then
		tail -n 20 "$WORK/lg.log" "$WORK/lg.out" "$WORK/dut.log" >&2
		echo "hub-load.sh: $n sessions: causeway-loadgen exited with $rc" >&2
		[[ -n $out ]] || return 1
	fi
	out=$(python3 - "$out" "$before" "$s0" "$s1" "$t0" "$t1" "${rss:-0}" $dut <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
b, s0, s1 = (json.loads(a) for a in sys.argv[2:5])
t0, t1, rss = float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
r["dut"] = {"retransmits": int(sys.argv[8]), "tx_full": int(sys.argv[9])}
tot = lambda s, verb: sum(s.get("requests", {}).get(verb, {}).values())
hold = t1 - t0
# The marker's own PATCH is the generator's, not the hub's.
patches = tot(s1, "patch") - tot(s0, "patch")
during = s1.get("requests_total", 0) - s0.get("requests_total", 0) - patches
r["upstream"] = {
    "watches_open": s0.get("watches_open_total", 0),
    "hold_s": round(hold, 3),
    "requests_during_hold": during,
    "requests_per_min": round(during * 60 / hold, 2) if hold > 0 else None,
    "marker_patches": patches,
    "during_hold_by_verb": {v: tot(s1, v) - tot(s0, v) for v in s1.get("requests", {})
                            if tot(s1, v) != tot(s0, v)},
    "requests_during_bring_up": s0.get("requests_total", 0) - b.get("requests_total", 0),
    "lists_during_bring_up": tot(s0, "list") - tot(b, "list"),
    "watches_during_bring_up": tot(s0, "watch") - tot(b, "watch"),
}
r["dut_rss_kb_watching"] = rss
print(json.dumps(r, separators=(",", ":")))
EOF
)
	echo "$out" | tee -a "$WORK/all.json"
	[[ -z $SAVE ]] || echo "$out" >>"$SAVE/runs.json"
	return $((rc ? 1 : 0))
}

# list_run ROUTE: GET /api/v1/pods through ROUTE.
list_run()
{
	local route=$1 rc=0 out

	start_dut "$route"
	lg --sessions "$LIST_SESSIONS" --mode requests --inflight 1 --seconds "$LIST_SECONDS" \
		--request 'GET /api/v1/pods'
	wait "$LG_PID" || rc=$?
	out=$(grep '^{' "$WORK/lg.out" || true)
	stop_dut
	if [[ -z $out ]] || ((rc)); then
		tail -n 20 "$WORK/lg.log" "$WORK/dut.log" >&2
		echo "hub-load.sh: list via $route: causeway-loadgen exited with $rc" >&2
		[[ -n $out ]] || return 1
	fi
	out="{\"route\":\"$route\",${out#\{}"
	echo "$out" | tee -a "$WORK/all.json"
	[[ -z $SAVE ]] || echo "$out" >>"$SAVE/runs.json"
	return $((rc ? 1 : 0))
}

echo "hub-load.sh: $(date -u '+%F %T') UTC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$root" rev-parse --short HEAD)"
echo "hub-load.sh: upstream seeded with $PODS pods in $(fstat requests_total) requests; $(fstat resource_version) changes" >&2
fail=0
for n in $SESSIONS; do
	watch_run "$n" || fail=1
done
if ((LIST)); then
	for route in hub upstream; do
		list_run "$route" || fail=1
	done
fi
python3 - "$WORK/all.json" "$WATCH" "$GAP" <<'EOF'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
nres = len(sys.argv[2].split(","))
w = [r for r in runs if r["mode"] == "watch"]
if w:
    print(f"\nupstream load for N watching agents ({nres} resources each: {sys.argv[2]})")
    print(f"{'N':>6} {'watching':>8} {'after s':>7} {'up watches':>10} {'up req/min':>10} {'YurtHub watches':>15}"
          f" {'YurtHub lists':>13} {'YurtHub req/min':>15} {'fan-out got':>11}"
          f" {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'resent':>8} {'tx_full':>8}")
    for r in w:
        u, m, n = r["upstream"], r["watch"]["marker"], r["sessions"]
        d = m.get("delay_ms", {})
        print(f"{n:>6} {r['watch']['watching']:>8} {r['connect_s'] + r['watch_settle_s']:>7.1f} {u['watches_open']:>10} {u['requests_per_min'] or 0:>10}"
              f" {n * nres:>15} {n * nres:>13} {n * nres / 7.5:>15.0f} {m['sessions']:>11}"
              f" {d.get('p50', 0):>8.1f} {d.get('p99', 0):>8.1f} {d.get('max', 0):>8.1f}"
              f" {r.get('dut', {}).get('retransmits', 0):>8} {r.get('dut', {}).get('tx_full', 0):>8}")
if w:
    print(f"\none upstream change to every agent, each marker in turn ({sys.argv[3]} s after the previous one's answer)")
    print(f"{'N':>6} {'marker':>6} {'got':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for r in w:
        for k, m in enumerate(r["watch"].get("markers", []), 1):
            d = m.get("delay_ms", {})
            print(f"{r['sessions']:>6} {k:>6} {m['sessions']:>6} {d.get('p50', 0):>8.1f}"
                  f" {d.get('p99', 0):>8.1f} {d.get('max', 0):>8.1f}")
l = [r for r in runs if r["mode"] == "requests"]
if l:
    print("\nGET /api/v1/pods (every pod), closed loop, one in flight per agent")
    print(f"{'route':>8} {'agents':>6} {'answered':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'bytes/answer':>13} {'MB/s':>7}")
    for r in l:
        lat = r["latency_us"]
        print(f"{r['route']:>8} {r['sessions']:>6} {r['answered']:>8} {r['requests_per_s']:>7}"
              f" {lat['p50'] / 1000:>8.1f} {lat['p99'] / 1000:>8.1f}"
              f" {r['answer_bytes_min']:>6}..{r['answer_bytes_max']:<6}"
              f" {r['answer_bytes'] / r['run_s'] / 1e6 if r['run_s'] else 0:>7.1f}")
EOF
exit "$fail"
