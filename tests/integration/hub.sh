#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cloud hub end to end, on loopback:
#
#   kubectl / curl --HTTP--> causeway-agent's edge hub ([hub] listen)
#     --tunnel--> causewayd: route "hub" (GETs) or "upstream" (the rest)
#     hub: control/hubserve.c from the LMDB store that control/reflector.c
#     keeps with one list and one watch per resource
#     --HTTP--> causeway-fake-apiserver (the Kubernetes API)
#
# Checks: kubectl get pods,nodes,configmaps through the edge hub answers as
# the API server does; a node's pod list comes from the hub (the upstream
# sees only the reflector's one list); a watch through the hub sees a
# change made upstream; three watchers through the hub are one upstream
# watch per resource, and the change is read from the store and encoded
# once for the three; writes pass through; the upstream restarted without
# its history (410) is listed again and the changes made meanwhile arrive
# (a node's watch from before gets its node's one, not the other's);
# causewayd killed with SIGKILL and restarted serves from its store without
# listing again; a node's view (its pods) listed and then watched through
# the edge hub is followed by the agent's store: with the link cut
# (causewayd stopped: it tells the agent at once, SHUTDOWN), and
# after the agent restarts with it still cut (ready within a second),
# kubectl through the edge hub gets the same answers from the agent's
# cache, the view's list has the changes its watch saw (p10, p11) at the
# view's real resourceVersion, a watch from before them replays them and
# stays open until its timeoutSeconds, or until the link is back.
# The service topology filter: an EndpointSlice whose Service asks for it
# reaches edge-1 with the endpoints of edge-1's pool only, in lists, gets
# and a watch's MODIFIED (filtered once for three watchers); another
# Service's, whole. A watch with a label selector sees an object
# relabelled out of it as DELETED and back into it as ADDED.
#
# Usage: hub.sh CAUSEWAYD CAUSEWAY_AGENT FAKE_APISERVER
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[[ $# -eq 3 ]] || {
	echo "usage: $0 CAUSEWAYD CAUSEWAY_AGENT FAKE_APISERVER" >&2
	exit 2
}
[[ $EUID -eq 0 ]] || {
	echo "SKIP: needs root"
	exit 77
}
DAEMON=$(realpath -e "$1")
AGENT=$(realpath -e "$2")
FAKE=$(realpath -e "$3")
for t in kubectl curl openssl python3; do
	command -v "$t" >/dev/null || cw_fail "$t not found (run scripts/deps.sh)"
done
CW_KEEP_GOING=1
base=$(cw_free_ports 4)
TUN_PORT=$base ADMIN_PORT=$((base + 1)) UP_PORT=$((base + 2)) HUB_PORT=$((base + 3))
up=http://127.0.0.1:$UP_PORT
hub=http://127.0.0.1:$HUB_PORT

cw_tmpdir hub

cw_section "the API server, with pods on two nodes"
"$here/../../scripts/pki.sh" "$tmp" 127.0.0.1 edge-1 >/dev/null
"$FAKE" --listen "127.0.0.1:$UP_PORT" --history 1000 >"$tmp/fake.log" 2>&1 &
FAKE_PID=$!
cw_track_pid "$FAKE_PID"
for ((i = 0; i < 50; i++)); do
	grep -q ready "$tmp/fake.log" && break
	sleep 0.1
done
# post PATH JSON: create an object upstream.
post()
{
	curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -d "$2" "$up$1"
}
pod()
{
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"default\",\"labels\":{\"app\":\"$3\"}},\"spec\":{\"nodeName\":\"$2\",\"containers\":[{\"name\":\"c\",\"image\":\"registry.example/app\"}]}}"
}
for i in 1 2 3 4; do
	post /api/v1/namespaces/default/pods "$(pod "p$i" "edge-$((i % 2 + 1))" "a$((i % 2))")"
done
# Pools: edge-1 by Causeway's label, edge-2 by OpenYurt's.
while read -r n key pool; do
	post /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$n\",\"labels\":{\"$key\":\"$pool\"}}}"
done <<<$'edge-1 causeway.io/pool east\nedge-2 apps.openyurt.io/nodepool west'
post /api/v1/namespaces/default/configmaps \
	'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default"},"data":{"k":"v"}}'
cw_check "seeded" curl -sf -o /dev/null "$up/api/v1/pods"

cat >"$tmp/causeway.conf" <<EOF
$(cw_loopback_conf hub)
# Kept across the restart: the agent learns at once that its session is gone.
reset_key = $tmp/reset.key
[ingress]
listen =
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[upstream]
server = $up
[hub]
store = $tmp/store
resources = /api/v1/pods, /api/v1/nodes, /api/v1/configmaps, /api/v1/services, /apis/discovery.k8s.io/v1/endpointslices
map_size = 64
history = 1000
[route]
rule = GET ^/api/v1/ hub
rule = GET ^/apis/discovery.k8s.io/ hub
default = upstream
[log]
level = info
EOF
cat >"$tmp/agent.conf" <<EOF
[agent]
node_name = edge-1
cache_dir = $tmp/cache
[gateway]
address = 127.0.0.1:$TUN_PORT
server_name = 127.0.0.1
ca_file = $tmp/ca.crt
[tls]
cert_file = $tmp/edge-1.crt
key_file = $tmp/edge-1.key
[admin]
listen =
[hub]
listen = 127.0.0.1:$HUB_PORT
[keepalive]
# The link cut below is found by this timeout (the least allowed).
idle_timeout_ms = 10000
[reconnect]
# Back within a second of the link's return.
initial_ms = 100
max_ms = 1000
EOF
# names: the sorted names of the List on stdin; rvof: its (or an
# object's) resourceVersion; events FILE: a watch's lines as TYPE:NAME.
names()
{
	python3 -c 'import json,sys; print(" ".join(sorted(i["metadata"]["name"] for i in json.load(sys.stdin)["items"])))'
}
rvof()
{
	python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])'
}
events()
{
	python3 -c 'import json,sys; print(" ".join(e["type"] + ":" + e["object"]["metadata"].get("name", "") for e in map(json.loads, filter(str.strip, sys.stdin))))' <"$1"
}
# stat KEY: a number from the fake apiserver's counters (python3 path a.b).
stat()
{
	cw_json "$(curl -s "$up/fake/stats")" "$1"
}
# hub_up: until the hub has listed the five resources and the agent answers.
hub_up()
{
	local i

	for ((i = 0; i < 100; i++)); do
		(($(cw_metric_sum causeway_hub_lists_total) >= ${1:-5})) &&
			curl -sf -o /dev/null "$hub/api/v1/nodes" && return 0
		sleep 0.1
	done
	return 1
}
cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd.log"
"$AGENT" -c "$tmp/agent.conf" 2>"$tmp/agent.log" &
AGENT_PID=$!
cw_track_pid "$AGENT_PID"
cw_check "the hub listed its resources; the agent is up" hub_up

cw_section "reads through the edge hub"
kget()
{
	kubectl --server "$1" get pods,nodes,configmaps -A -o name 2>&1 | sort
}
want=$(kget "$up")
cw_check_eq "kubectl lists 4 pods, 2 nodes, 1 configmap upstream" 7 "$(wc -l <<<"$want")"
cw_check_eq "kubectl get pods,nodes,configmaps: as the API server answers" "$want" "$(kget "$hub")"
lists=$(stat requests.list.pods)
mine=$(curl -s "$hub/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1" |
	python3 -c 'import json,sys; print(" ".join(sorted(i["metadata"]["name"] for i in json.load(sys.stdin)["items"])))')
cw_check_eq "edge-1's pods, from the hub" "p2 p4" "$mine"
sel=$(curl -s "$hub/api/v1/namespaces/default/pods?labelSelector=app%3Da1" |
	python3 -c 'import json,sys; print(" ".join(sorted(i["metadata"]["name"] for i in json.load(sys.stdin)["items"])))')
cw_check_eq "a label selector, from the hub" "p1 p3" "$sel"
cw_check_eq "the upstream saw no list of pods for them" "$lists" "$(stat requests.list.pods)"
cw_check "served by the hub" test "$(cw_metric 'causeway_hub_requests_total{served="list"}')" -ge 2

cw_section "watches through the hub"
rv=$(curl -s "$hub/api/v1/pods" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
for k in 1 2 3; do
	curl -sN "$hub/api/v1/pods?watch=true&resourceVersion=$rv&timeoutSeconds=4" >"$tmp/watch$k" &
done
for ((i = 0; i < 30; i++)); do
	(($(cw_metric causeway_hub_watchers) >= 3)) && break
	sleep 0.1
done
cw_check_eq "three watchers, one upstream watch of pods" 1 "$(stat watches_open.pods)"
encodes=$(cw_metric causeway_hub_watch_encodes_total)
fanouts=$(cw_metric causeway_hub_fanouts_total)
post /api/v1/namespaces/default/pods "$(pod p5 edge-1 a1)"
sleep 3.5
for k in 1 2 3; do
	cw_check "watcher $k saw p5 ADDED" grep -q '"type":"ADDED","object":{.*"name":"p5"' "$tmp/watch$k"
done
# All three were caught up: one read of the store, one encoding for all.
cw_check "p5's event read from the store once for the three" \
	test "$(($(cw_metric causeway_hub_fanouts_total) - fanouts))" -ge 1
cw_check_eq "... and encoded once" 1 "$(($(cw_metric causeway_hub_watch_encodes_total) - encodes))"
cw_check_eq "writes pass through (POST from the edge)" 201 \
	"$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-d "$(pod p6 edge-1 a1)" "$hub/api/v1/namespaces/default/pods")"

cw_section "the upstream restarted without its history (410)"
# causewayd held still meanwhile, and the history compacted once p7 and
# p8 are made: its pods watch resumes from a version the upstream no
# longer has (410) whatever the timing (even after a bookmark with the
# version of the restart), and the list finds them.
rv=$(curl -s "$hub/api/v1/pods" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
kill -STOP "$CW_DAEMON_PID"
curl -sf -o /dev/null -X POST "$up/fake/restart"
post /api/v1/namespaces/default/pods "$(pod p7 edge-2 a1)"
post /api/v1/namespaces/default/pods "$(pod p8 edge-1 a1)"
curl -sf -o /dev/null -X POST "$up/fake/compact?keep=0"
kill -CONT "$CW_DAEMON_PID"
for ((i = 0; i < 100; i++)); do
	curl -sf -o /dev/null "$hub/api/v1/namespaces/default/pods/p8" && break
	sleep 0.1
done
cw_check "pods listed again" test "$(cw_metric 'causeway_hub_relists_total{resource="pods"}')" -ge 1
cw_check_eq "p7, made meanwhile, is served" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$hub/api/v1/namespaces/default/pods/p7")"
# The list's differences are events at one resourceVersion: each is
# matched as itself (p8 is edge-1's, p7 is not).
cw_check_eq "edge-1's watch from before sees p8 ADDED, not p7" "ADDED p8" \
	"$(curl -s -m 8 "$hub/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dedge-1&resourceVersion=$rv&timeoutSeconds=1" |
		python3 -c 'import json,sys; [print(e["type"], e["object"]["metadata"]["name"]) for e in map(json.loads, sys.stdin)]')"

cw_section "kill -9 and a warm restart"
kill -9 "$CW_DAEMON_PID"
wait "$CW_DAEMON_PID" 2>/dev/null || true
CW_DAEMON_PID=
before=$(stat requests.list.pods)
cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd-2.log"
for ((i = 0; i < 100; i++)); do
	curl -sf -m 2 -o /dev/null "$hub/api/v1/namespaces/default/pods/p7" && break
	sleep 0.1
done
cw_check_eq "served from the store at once: p7" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$hub/api/v1/namespaces/default/pods/p7")"
cw_check_eq "no list after the restart: watches resumed" "0 $before" \
	"$(cw_metric_sum causeway_hub_lists_total) $(stat requests.list.pods)"

cw_section "the service topology filter"
# svc NAME ANNOTATIONS, ep IP NODE, slice NAME SERVICE ENDPOINTS: JSON.
svc()
{
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"default\",\"annotations\":{$2}},\"spec\":{\"ports\":[{\"port\":80}]}}"
}
ep()
{
	echo "{\"addresses\":[\"$1\"],\"nodeName\":\"$2\",\"conditions\":{\"ready\":true}}"
}
slice()
{
	echo "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"default\",\"labels\":{\"kubernetes.io/service-name\":\"$2\"}},\"addressType\":\"IPv4\",\"endpoints\":[$3],\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}"
}
# addrs: each slice of a list or get on stdin, its name and addresses.
addrs()
{
	python3 -c 'import json,sys
d = json.load(sys.stdin)
for i in d.get("items", [d]):
    print(i["metadata"]["name"], *[a for e in i.get("endpoints") or [] for a in e["addresses"]])' |
		sort
}
# wevents: a watch's events on stdin, type, name and what @1 picks.
wevents()
{
	python3 -c 'import json,sys
for l in sys.stdin:
    e = json.loads(l); o = e["object"]
    print(e["type"], o["metadata"]["name"], *eval(sys.argv[1]))' "$1"
}
post /api/v1/namespaces/default/services "$(svc web '"causeway.io/topology":"pool"')"
post /api/v1/namespaces/default/services \
	"$(svc yurt '"openyurt.io/topologyKeys":"openyurt.io/nodepool"')"
post /api/v1/namespaces/default/services "$(svc db '')"
eps="$(ep 10.0.0.1 edge-1),$(ep 10.0.0.2 edge-2)"
slices=/apis/discovery.k8s.io/v1/namespaces/default/endpointslices
for s in web yurt db; do
	post "$slices" "$(slice "$s-1" "$s" "$eps")"
done
for ((i = 0; i < 50; i++)); do
	[[ $(curl -s "$hub$slices" | addrs | wc -l) -eq 3 ]] && break
	sleep 0.1
done
cw_check_eq "upstream: every slice has both endpoints" \
	$'db-1 10.0.0.1 10.0.0.2\nweb-1 10.0.0.1 10.0.0.2\nyurt-1 10.0.0.1 10.0.0.2' \
	"$(curl -s "$up$slices" | addrs)"
cw_check_eq "edge-1 (pool east) lists only east's endpoints of web and yurt, all of db" \
	$'db-1 10.0.0.1 10.0.0.2\nweb-1 10.0.0.1\nyurt-1 10.0.0.1' "$(curl -s "$hub$slices" | addrs)"
cw_check_eq "... and gets web-1 so" "web-1 10.0.0.1" "$(curl -s "$hub$slices/web-1" | addrs)"
cw_check_eq "db-1 unfiltered: the bytes the upstream sent" "$(curl -s "$up$slices/db-1")" \
	"$(curl -s "$hub$slices/db-1")"
rv=$(curl -s "$hub$slices" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
# From $rv: the events after it come whenever the watches start. They
# end by their timeout: a client is not cut off mid-stream.
filtered=$(cw_metric causeway_hub_topology_filtered_total)
runs=$(cw_metric causeway_hub_topology_runs_total)
watchers=()
for k in 1 2 3; do
	curl -sN -m 8 "$hub$slices?watch=true&resourceVersion=$rv&timeoutSeconds=2" \
		>"$tmp/watch-slices$k" &
	watchers+=($!)
done
curl -sf -o /dev/null -X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d "{\"endpoints\":[$eps,$(ep 10.0.0.3 edge-1)]}" "$up$slices/web-1"
wait "${watchers[@]}" || true
for k in 1 2 3; do
	cw_check_eq "watcher $k sees web-1 MODIFIED with east's endpoints only" \
		"MODIFIED web-1 10.0.0.1 10.0.0.3" \
		"$(wevents '[a for e in o["endpoints"] for a in e["addresses"]]' <"$tmp/watch-slices$k")"
done
cw_check_eq "three sent filtered, the filter run once" "3 1" \
	"$(($(cw_metric causeway_hub_topology_filtered_total) - filtered)) $(($(cw_metric causeway_hub_topology_runs_total) - runs))"

cw_section "a watch with a label selector: objects leave it and enter it"
rv=$(curl -s "$hub/api/v1/pods" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
curl -sN -m 8 "$hub/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Da1&resourceVersion=$rv&timeoutSeconds=2" \
	>"$tmp/watch-sel" &
watcher=$!
# patch POD LABELS: a merge patch of the pod's labels upstream.
patch()
{
	curl -sf -o /dev/null -X PATCH -H 'Content-Type: application/merge-patch+json' \
		-d "{\"metadata\":{\"labels\":$2}}" "$up/api/v1/namespaces/default/pods/$1"
}
patch p1 '{"app":"b"}'
patch p2 '{"x":"y"}' # app=a0: neither before nor after
patch p1 '{"app":"a1"}'
patch p3 '{"x":"y"}'
wait "$watcher" || true
cw_check_eq "p1 relabelled app=b: DELETED; back: ADDED; p3 changed: MODIFIED" \
	$'DELETED p1 b\nADDED p1 a1\nMODIFIED p3 a1' \
	"$(wevents '[o["metadata"]["labels"]["app"]]' <"$tmp/watch-sel")"

cw_section "a node's view, listed, then followed through its watch"
view="$hub/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1"
vrv=$(curl -s "$view" | rvof)
curl -sN "$view&watch=true&resourceVersion=$vrv&allowWatchBookmarks=true&timeoutSeconds=60" \
	>"$tmp/vwatch" &
cw_track_pid $!
post /api/v1/namespaces/default/pods "$(pod p10 edge-1 a1)"
post /api/v1/namespaces/default/pods "$(pod p11 edge-1 a1)"
for ((i = 0; i < 50; i++)); do
	grep -q '"name":"p11"' "$tmp/vwatch" && break
	sleep 0.1
done
cw_check_eq "the watch through the edge hub saw p10 and p11" "ADDED:p10 ADDED:p11" \
	"$(events "$tmp/vwatch")"
p11rv=$(curl -s "$up/api/v1/namespaces/default/pods/p11" | rvof)
vwant=$(curl -s "$up/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1" | names)
cw_check "upstream, the view has p10 and p11 (after the list at $vrv)" \
	grep -q 'p10 p11' <<<"$vwant"
# offline_view WHEN: the view's list from the agent's store.
offline_view()
{
	local got

	got=$(curl -s -D "$tmp/head" "$view")
	cw_check_eq "$1: the view's list has the watch's p10 and p11" "$vwant" "$(names <<<"$got")"
	cw_check_eq "$1: ... at the view's resourceVersion, p11's, not the list's ($vrv)" "$p11rv" \
		"$(rvof <<<"$got")"
	cw_check_eq "$1: ... from the cache" "hit" \
		"$(tr -d '\r' <"$tmp/head" | awk -F': ' 'tolower($1) == "x-causeway-cache" {print $2}')"
}

cw_section "the link cut: the edge hub serves from its cache"
want=$(kget "$hub") # through the hub, so the agent keeps these answers
cw_stop_daemon
# told_shutdown: the agent logged the gateway's SHUTDOWN close (0x1000).
told_shutdown()
{
	local i

	for ((i = 0; i < 20; i++)); do
		grep -q "closed by the gateway (code 4096)" "$tmp/agent.log" && return 0
		sleep 0.1
	done
	return 1
}
cw_check "the stopping gateway told the agent at once (SHUTDOWN, agent log)" told_shutdown
cw_check_eq "kubectl get pods,nodes,configmaps with the link cut: same answers" "$want" \
	"$(kget "$hub")"
cw_check_eq "... from the cache" "hit" \
	"$(curl -s -D - -o /dev/null "$hub/api/v1/namespaces/default/pods/p7" |
		tr -d '\r' | awk -F': ' 'tolower($1) == "x-causeway-cache" {print $2}')"
cw_check_eq "a request never made before: 503" 503 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$hub/api/v1/namespaces/default/pods/nope")"
offline_view "link cut"
curl -sN "$view&watch=true&resourceVersion=$vrv&timeoutSeconds=3" >"$tmp/owatch" &
ow=$!
cw_track_pid "$ow"
curl -s "$view&watch=true&timeoutSeconds=1" >"$tmp/owatch0" &
cw_track_pid $!
sleep 2
cw_check_eq "a watch from the list's version (before p10) replays p10 and p11" "ADDED:p10 ADDED:p11" \
	"$(events "$tmp/owatch")"
cw_check "... and is still open after 2 s" cw_alive "$ow"
for ((i = 0; i < 30; i++)); do
	cw_alive "$ow" || break
	sleep 0.1
done
wait "$ow" && rc=0 || rc=$?
cw_check_eq "... then ends cleanly on its timeoutSeconds (3 s)" 0 "$rc"
cw_check_eq "a watch without a version: the view's objects, each ADDED" \
	"$(sed -E 's/([^ ]+)/ADDED:\1/g' <<<"$vwant")" \
	"$(events "$tmp/owatch0")"
cw_check "a watch from before the view's history: 410, not left hanging" \
	grep -q '"code":410' <(curl -s -m 3 "$view&watch=true&resourceVersion=1")
cw_check "a watch of a view never seen is told to list again (410)" \
	grep -q '"code":410' <(curl -s -m 3 "$hub/api/v1/configmaps?watch=true&labelSelector=x%3Dy")

cw_section "the agent restarted with the link still cut"
cw_kill_pid "$AGENT_PID"
start=$(date +%s%N)
"$AGENT" -c "$tmp/agent.conf" 2>"$tmp/agent-2.log" &
AGENT_PID=$!
cw_track_pid "$AGENT_PID"
for ((i = 0; i < 200; i++)); do
	curl -sf -o /dev/null "$hub/api/v1/namespaces/default/pods/p7" && break
	sleep 0.01
done
ms=$((($(date +%s%N) - start) / 1000000))
cw_log "serving from the cache $ms ms after the agent started"
cw_check "ready within 1 s ($ms ms)" test "$ms" -le 1000
cw_check_eq "kubectl: the same answers again" "$want" "$(kget "$hub")"
offline_view "after the restart"
curl -sN "$view&watch=true&resourceVersion=$vrv&timeoutSeconds=60" >"$tmp/owatch2" &
ow=$!
cw_track_pid "$ow"
for ((i = 0; i < 20; i++)); do
	grep -q '"name":"p11"' "$tmp/owatch2" && break
	sleep 0.1
done
cw_check_eq "after the restart: a watch from before p10 replays p10 and p11" "ADDED:p10 ADDED:p11" \
	"$(events "$tmp/owatch2")"

cw_section "the link back: the watches served from the store end"
cw_check "the watch is open" cw_alive "$ow"
cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd-3.log"
for ((i = 0; i < 100; i++)); do
	cw_alive "$ow" || break
	sleep 0.1
done
wait "$ow" && rc=0 || rc=$?
cw_check_eq "it ended cleanly, long before its timeoutSeconds (60 s)" "0 yes" \
	"$rc $( ((i < 100)) && echo yes)"
cw_check_eq "a list of the view goes through the tunnel again" "" \
	"$(curl -s -D - -o /dev/null "$view" | tr -d '\r' |
		awk -F': ' 'tolower($1) == "x-causeway-cache" {print $2}')"
cw_kill_pid "$AGENT_PID"
cw_summary
