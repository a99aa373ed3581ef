#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The edge hub's cold start (issue 5: ready in 1 s with 5,000 cached
# objects), from the agent's outside only (cache_dir, [hub] listen, HTTP):
#
#   1. causeway-fake-apiserver seeded with --objects pods (perf/k8s-seed.py)
#      and causewayd (socket backend on loopback, [hub] reflecting pods,
#      every GET routed to it); causeway-agent online with an empty
#      cache_dir reads --path through its edge hub (so it keeps the
#      answer, whatever its cache keeps it as);
#   2. causewayd and the fake apiserver stopped: no gateway any more;
#   3. --starts times: the agent started again on that cache_dir, and
#      GET --path polled on its [hub] listen from the moment of exec (a
#      refused connection is tried again after 1 ms; so is an answer other
#      than 200): the time to the first 200's status line and to the whole
#      list read, whose items are counted (they must be --objects).
#
#   perf/edge-coldstart.sh [--objects 5000] [--starts 5] [--path /api/v1/pods]
#                          [--build DIR] [--no-build]
#
# Prints one JSON line per start and a summary line with the medians
# (ready_ms: to the 200; list_ms: to the last byte). Exit status 1 when a
# start never served the list or served another number of items. Run as
# root (causewayd's EAL); release build in build-bench unless --build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
OBJECTS=5000 STARTS=5 API_PATH=/api/v1/pods BUILD=$root/build-bench BUILD_IT=1
while (($#)); do
	case $1 in
	--objects) OBJECTS=$2; shift 2 ;;
	--starts) STARTS=$2; shift 2 ;;
	--path) API_PATH=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--no-build) BUILD_IT=0; shift ;;
	*)
		echo "usage: $0 [--objects N] [--starts N] [--path PATH] [--build DIR] [--no-build]" >&2
		exit 2
		;;
	esac
done
if ((BUILD_IT)); then
	[[ -d $BUILD ]] || meson setup "$BUILD" "$root" --buildtype=release >/dev/null
	ninja -C "$BUILD" causewayd causeway-agent tests/tools/causeway-fake-apiserver >/dev/null
fi
DAEMON=$BUILD/causewayd AGENT=$BUILD/causeway-agent FAKE=$BUILD/tests/tools/causeway-fake-apiserver

WORK=$(mktemp -d /tmp/cw-coldstart.XXXXXX)
PIDS=()
cleanup()
{
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

# Four free TCP/UDP ports in a row: tunnel, upstream, edge hub, agent admin.
base=$((20000 + $$ % 20000))
while [[ -n "$(ss -Hltnu "sport >= :$base and sport <= :$((base + 3))")" ]]; do
	base=$((20000 + (base + 7) % 20000))
done
TUN_PORT=$base UP_PORT=$((base + 1)) HUB_PORT=$((base + 2))
UP=http://127.0.0.1:$UP_PORT HUB=http://127.0.0.1:$HUB_PORT

"$root/scripts/pki.sh" "$WORK" 127.0.0.1 edge-1 >/dev/null
mkdir -p "$WORK/seed"
python3 "$here/k8s-seed.py" --pods "$OBJECTS" --nodes 1 --node-prefix edge- --services 0 \
	"$WORK/seed"
"$FAKE" --listen "127.0.0.1:$UP_PORT" --seed-dir "$WORK/seed" >"$WORK/fake.log" 2>&1 &
FAKE_PID=$!
PIDS+=("$FAKE_PID")

cat >"$WORK/causeway.conf" <<EOF
[eal]
lcores = 0-1
memory = 128
hugepages = no
file_prefix = cwcs-$$
[dataplane]
backend = socket
socket_address = 127.0.0.1
stats_interval = 0
mbuf_pool_size = 4095
[tunnel]
port = $TUN_PORT
cert = $WORK/gateway.crt
key = $WORK/gateway.key
ca = $WORK/ca.crt
retry = never
[ingress]
listen =
[admin]
listen =
[upstream]
server = $UP
[hub]
store = $WORK/store
resources = /api/v1/pods, /api/v1/nodes
[route]
rule = GET ^/api/ hub
default = upstream
[log]
level = warning
EOF
cat >"$WORK/agent.conf" <<EOF
[agent]
node_name = edge-1
cache_dir = $WORK/cache
[gateway]
address = 127.0.0.1:$TUN_PORT
server_name = 127.0.0.1
ca_file = $WORK/ca.crt
[tls]
cert_file = $WORK/edge-1.crt
key_file = $WORK/edge-1.key
[admin]
listen =
[hub]
listen = 127.0.0.1:$HUB_PORT
EOF

# items URL: the number of items of the list at URL (0 on any failure).
items()
{
	curl -sf "$1" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]))' 2>/dev/null ||
		echo 0
}

for ((i = 0; i < 600; i++)); do
	grep -qs ready "$WORK/fake.log" && break
	sleep 0.1
done
"$DAEMON" -c "$WORK/causeway.conf" >"$WORK/causewayd.log" 2>&1 &
DUT_PID=$!
PIDS+=("$DUT_PID")
"$AGENT" -c "$WORK/agent.conf" 2>"$WORK/agent.log" &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
n=0
for ((i = 0; i < 600 && n != OBJECTS; i++)); do
	n=$(items "$HUB$API_PATH")
	((n == OBJECTS)) || sleep 0.1
done
if ((n != OBJECTS)); then
	tail -n 20 "$WORK/fake.log" "$WORK/causewayd.log" "$WORK/agent.log" >&2
	echo "edge-coldstart.sh: the edge hub never listed $OBJECTS objects online ($n)" >&2
	exit 1
fi
sleep 1 # whatever the agent writes behind the answer
kill -TERM "$AGENT_PID" "$DUT_PID" "$FAKE_PID"
wait "$AGENT_PID" "$DUT_PID" "$FAKE_PID" 2>/dev/null || true
PIDS=()
echo "edge-coldstart.sh: $(date -u '+%F %T') UTC, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)," \
	"commit $(git -C "$root" rev-parse --short HEAD); cache_dir $(du -sk "$WORK/cache" | cut -f1) KiB" \
	"after listing $OBJECTS objects online; gateway and upstream stopped"

python3 - "$AGENT" "$WORK/agent.conf" "$HUB_PORT" "$API_PATH" "$OBJECTS" "$STARTS" "$WORK" <<'EOF'
import http.client, json, os, statistics, subprocess, sys, time
agent, conf, port, path, objects, starts, work = sys.argv[1:8]
port, objects, starts = int(port), int(objects), int(starts)
ready, full, ok = [], [], True
for k in range(starts):
    log = open(f"{work}/agent-start{k}.log", "w")
    t0 = time.monotonic()
    p = subprocess.Popen([agent, "-c", conf], stderr=log, stdout=log)
    first = last = None
    n = -1
    cache = ""
    while time.monotonic() - t0 < 10 and p.poll() is None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path)
            r = c.getresponse()
            t1 = time.monotonic()
            body = r.read()
            t2 = time.monotonic()
            c.close()
        except (ConnectionError, OSError):
            time.sleep(0.001)
            continue
        if r.status != 200:
            time.sleep(0.001)
            continue
        first, last = t1 - t0, t2 - t0
        cache = r.getheader("x-causeway-cache", "")
        n = len(json.loads(body)["items"])
        break
    p.terminate()
    p.wait()
    log.close()
    rec = {"start": k + 1, "ready_ms": round(first * 1000, 1) if first else None,
           "list_ms": round(last * 1000, 1) if last else None, "items": n,
           "bytes": len(body) if first else 0, "x_causeway_cache": cache}
    print(json.dumps(rec))
    if first is None or n != objects:
        ok = False
        continue
    ready.append(first * 1000)
    full.append(last * 1000)
if ready:
    print(f"edge-coldstart: {len(ready)} of {starts} starts served {objects} objects from the cache;"
          f" median ready {statistics.median(ready):.1f} ms (min {min(ready):.1f}, max {max(ready):.1f}),"
          f" whole list {statistics.median(full):.1f} ms (min {min(full):.1f}, max {max(full):.1f});"
          f" goal ready <= 1000 ms: {'met' if statistics.median(ready) <= 1000 else 'MISSED'}")
sys.exit(0 if ok else 1)
EOF
