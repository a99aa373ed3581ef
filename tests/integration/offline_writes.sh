#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The edge hub's offline write queue end to end, on loopback:
#
#   curl --HTTP--> causeway-agent's edge hub ([hub] listen)
#     --tunnel--> causewayd, route "upstream"
#     --HTTP--> causeway-fake-apiserver (the Kubernetes API)
#
# Checks: a write that causewayd cannot pass on (its API server is not
# reachable: Error UPSTREAM_UNAVAILABLE) is queued by the edge hub; with
# the link cut (causewayd stopped) a pod status patch with a stale
# resourceVersion, two lease renewals (the second replaces the first), a
# second status patch of the same field and two events (one whose name
# exists upstream) are queued and answered at once, a pod creation is
# refused (503), and so is a write past queue_max_entries; meanwhile the lease and the pod change upstream. The
# agent killed with SIGKILL and restarted still offline keeps the queue.
# When the link returns every write is applied upstream in the order it
# was made (the fake's resourceVersions and its watch history show it),
# the three conflicts (status precondition, lease, existing event) are
# settled by the policy and counted, and the queue drains to 0.
#
# Usage: offline_writes.sh CAUSEWAYD CAUSEWAY_AGENT FAKE_APISERVER
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
for t in curl openssl python3; do
	command -v "$t" >/dev/null || cw_fail "$t not found (run scripts/deps.sh)"
done
CW_KEEP_GOING=1
base=$(cw_free_ports 6)
TUN_PORT=$base ADMIN_PORT=$((base + 1)) UP_PORT=$((base + 2)) HUB_PORT=$((base + 3))
AGENT_ADMIN=$((base + 4)) DEAD_PORT=$((base + 5))
up=http://127.0.0.1:$UP_PORT
hub=http://127.0.0.1:$HUB_PORT
lease_path=/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases
status_path=/api/v1/namespaces/default/pods/p1/status

cw_tmpdir offline-writes

cw_section "the API server: a pod on edge-1, its node, its lease, an event"
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
# field URL EXPR: a value of the object at URL upstream (python3 on "o").
field()
{
	curl -s "$up$1" | python3 -c 'import json, sys
o = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$2"
}
lease()
{
	echo "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"edge-1\",\"namespace\":\"kube-node-lease\",\"resourceVersion\":\"$1\"},\"spec\":{\"holderIdentity\":\"$2\",\"leaseDurationSeconds\":40,\"renewTime\":\"$3\"}}"
}
event()
{
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"default\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p1\",\"namespace\":\"default\"},\"reason\":\"Test\",\"message\":\"$2\"}"
}
post /api/v1/namespaces/default/pods \
	'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","namespace":"default"},"spec":{"nodeName":"edge-1","containers":[{"name":"c","image":"registry.example/app"}]},"status":{"phase":"Running","message":"seeded"}}'
post /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-1"}}'
post "$lease_path" "$(lease "" edge-1 2026-01-01T00:00:00.000000Z | sed 's/,"resourceVersion":""//')"
post /api/v1/namespaces/default/events "$(event ev-exists "made upstream")"
cw_check "seeded" curl -sf -o /dev/null "$up$lease_path/edge-1"

cw_loopback_conf offline-writes >"$tmp/head.conf"
for which in dead live; do
	server=$up
	[[ $which == dead ]] && server=http://127.0.0.1:$DEAD_PORT
	cat "$tmp/head.conf" - >"$tmp/causeway-$which.conf" <<EOF
[ingress]
listen =
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[upstream]
server = $server
timeout = 5000
[route]
default = upstream
[log]
level = info
EOF
done
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
ticket_file =
[admin]
listen = 127.0.0.1:$AGENT_ADMIN
[hub]
listen = 127.0.0.1:$HUB_PORT
queue_max_entries = 7
queue_max_mb = 1
[keepalive]
idle_timeout_ms = 10000
[reconnect]
initial_ms = 100
max_ms = 1000
[log]
level = info
EOF
# wq NAME: the agent's causeway_agent_write_queue_NAME.
wq()
{
	curl -sf "http://127.0.0.1:$AGENT_ADMIN/metrics" |
		awk -v m="causeway_agent_write_queue_$1" '$1 == m {print $2}'
}
# healthz: the agent's /healthz status code (200: a session is up).
healthz()
{
	curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AGENT_ADMIN/healthz"
}
# wait_for CMD EXPECTED: until CMD prints EXPECTED (30 s at most).
wait_for()
{
	local i

	for ((i = 0; i < 300; i++)); do
		[[ "$($1)" == "$2" ]] && return 0
		sleep 0.1
	done
	return 1
}
# write VERB PATH CTYPE BODY: "CODE SEQ" of a write through the edge hub
# (SEQ: its X-Causeway-Queued header, "-" when not queued).
write()
{
	local h code seq

	h=$(curl -s -D - -o /dev/null -X "$1" -H "Content-Type: $3" -d "$4" "$hub$2" | tr -d '\r')
	code=$(awk 'NR == 1 {print $2}' <<<"$h")
	seq=$(awk -F': ' 'tolower($1) == "x-causeway-queued" {print $2}' <<<"$h")
	echo "$code ${seq:--}"
}
start_agent()
{
	"$AGENT" -c "$tmp/agent.conf" 2>>"$tmp/agent.log" &
	AGENT_PID=$!
	cw_track_pid "$AGENT_PID"
	wait_for "curl -s -o /dev/null -w %{http_code} http://127.0.0.1:$AGENT_ADMIN/metrics" 200
}

cw_section "the gateway cannot reach the API server: a write is queued"
cw_start_daemon "$DAEMON" "$tmp/causeway-dead.conf" "$tmp/causewayd-dead.log"
start_agent
cw_check "the agent's session is up" wait_for healthz 200
out=$(write POST /api/v1/namespaces/default/events application/json "$(event ev-early early)")
cw_check_eq "an event, answered UPSTREAM_UNAVAILABLE behind the gateway: queued (201)" 201 \
	"${out% *}" || true
seq_early=${out#* }
cw_check "... with X-Causeway-Queued ($seq_early)" test "$seq_early" != -
cw_check_eq "queue depth" 1 "$(wq depth)" || true
cw_check_eq "not upstream" 404 "$(curl -s -o /dev/null -w '%{http_code}' \
	"$up/api/v1/namespaces/default/events/ev-early")" || true

cw_section "the link cut: writes queued, answered at once"
cw_stop_daemon
cw_check "the agent saw its session end" wait_for healthz 503
pod_rv=$(field /api/v1/namespaces/default/pods/p1 'o["metadata"]["resourceVersion"]')
lease_rv=$(field "$lease_path/edge-1" 'o["metadata"]["resourceVersion"]')
res=()
res+=("$(write PATCH "$status_path" application/merge-patch+json \
	"{\"metadata\":{\"resourceVersion\":\"$pod_rv\"},\"status\":{\"message\":\"first\"}}")")
res+=("$(write PUT "$lease_path/edge-1" application/json \
	"$(lease "$lease_rv" edge-1 2026-01-01T00:00:10.000000Z)")")
res+=("$(write PATCH "$status_path" application/strategic-merge-patch+json \
	'{"status":{"message":"second"}}')")
res+=("$(write PUT "$lease_path/edge-1" application/json \
	"$(lease "$lease_rv" edge-1 2026-01-01T00:00:20.000000Z)")")
res+=("$(write POST /api/v1/namespaces/default/events application/json "$(event ev-new offline)")")
res+=("$(write POST /api/v1/namespaces/default/events application/json \
	"$(event ev-exists "made offline")")")
codes=''
seqs=("$seq_early")
for r in "${res[@]}"; do
	codes+="${r% *} "
	seqs+=("${r#* }")
done
cw_check_eq "answers: status patches 202, lease PUTs 200, event POSTs 201" \
	"202 200 202 200 201 201 " "$codes" || true
cw_check "each with a growing X-Causeway-Queued (${seqs[*]})" \
	python3 -c 'import sys; s = [int(x) for x in sys.argv[1:]]; sys.exit(s != sorted(set(s)))' \
	"${seqs[@]}"
cw_check_eq "queue depth: the second lease PUT replaced the first" 6 "$(wq depth)" || true
cw_check_eq "a pod creation is not queued: 503" "503 -" \
	"$(write POST /api/v1/namespaces/default/pods application/json \
		'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p9"}}')" || true
out=$(write POST /api/v1/namespaces/default/events application/json "$(event ev-fill fill)")
cw_check_eq "the seventh write fills the queue (queue_max_entries = 7)" "201 7" \
	"${out% *} $(wq depth)" || true
cw_check_eq "the eighth: 503, not queued" "503 -" \
	"$(write POST /api/v1/namespaces/default/events application/json "$(event ev-over over)")" ||
	true
cw_check_eq "counted as full" 1 "$(wq full_total)" || true

cw_section "meanwhile upstream: the lease and the pod change"
curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' \
	-d "$(lease "$lease_rv" edge-1 2026-01-01T00:00:15.000000Z)" "$up$lease_path/edge-1"
curl -sf -o /dev/null -X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"metadata":{"labels":{"changed":"upstream"}}}' "$up/api/v1/namespaces/default/pods/p1"
cw_check "the lease's resourceVersion moved" \
	test "$(field "$lease_path/edge-1" 'o["metadata"]["resourceVersion"]')" != "$lease_rv"
cw_check "the pod's resourceVersion moved" \
	test "$(field /api/v1/namespaces/default/pods/p1 'o["metadata"]["resourceVersion"]')" != "$pod_rv"

cw_section "the agent killed (SIGKILL) and restarted, still offline"
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
start_agent
cw_check_eq "the queue survived: depth" 7 "$(wq depth)" || true
cw_check_eq "... still offline" 503 "$(healthz)" || true

cw_section "the link back: replayed in order"
rv0=$(cw_json "$(curl -s "$up/fake/stats")" resource_version)
cw_start_daemon "$DAEMON" "$tmp/causeway-live.conf" "$tmp/causewayd-live.log"
cw_check "the queue drained" wait_for "wq depth" 0
cw_check_eq "pod status: the last patch wins" second \
	"$(field /api/v1/namespaces/default/pods/p1 'o["status"]["message"]')" || true
cw_check_eq "pod: the upstream label kept" upstream \
	"$(field /api/v1/namespaces/default/pods/p1 'o["metadata"]["labels"]["changed"]')" || true
msgs=$(curl -s "$up/api/v1/namespaces/default/pods?watch=true&resourceVersion=$rv0&timeoutSeconds=1" |
	python3 -c 'import json, sys
print(" ".join(json.loads(l)["object"]["status"]["message"] for l in sys.stdin
               if json.loads(l)["type"] == "MODIFIED"))')
cw_check_eq "the pod's history: both patches, in order" "first second" "$msgs" || true
cw_check_eq "lease: our last renewal, held by edge-1" "2026-01-01T00:00:20.000000Z edge-1" \
	"$(field "$lease_path/edge-1" 'o["spec"]["renewTime"] + " " + o["spec"]["holderIdentity"]')" ||
	true
cw_check_eq "the event that existed is left as it was" "made upstream" \
	"$(field /api/v1/namespaces/default/events/ev-exists 'o["message"]')" || true
rvs=$(for p in /api/v1/namespaces/default/events/ev-early /api/v1/namespaces/default/pods/p1 \
	"$lease_path/edge-1" /api/v1/namespaces/default/events/ev-new; do
	field "$p" 'o["metadata"]["resourceVersion"]'
done | tr '\n' ' ')
# shellcheck disable=SC2086 # a list of numbers
cw_check "applied in order: event, pod, lease, event (resourceVersions $rvs)" \
	python3 -c 'import sys; s = [int(x) for x in sys.argv[1:]]; sys.exit(s != sorted(s) or len(s) != 4)' \
	$rvs
cw_check_eq "replayed: early event, 2 patches, lease, 2 new events" 6 "$(wq replayed_total)" ||
	true
cw_check_eq "the write refused as the queue was full is not upstream" 404 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$up/api/v1/namespaces/default/events/ev-over")" ||
	true
cw_check_eq "conflicts settled: status precondition, lease, existing event" 3 \
	"$(wq conflicts_resolved_total)" || true
cw_check_eq "nothing dropped" 0 "$(wq dropped_total)" || true
cw_check_eq "a write with the link up passes through, not queued" "200 -" \
	"$(write PATCH "$status_path" application/merge-patch+json '{"status":{"message":"live"}}')" ||
	true
cw_kill_pid "$AGENT_PID"
cw_summary
