#!/usr/bin/env bash
# The hub's seeded property test (issue 5): random upstream changes, link
# cuts and process kills, and at the end every agent's cache holds the
# upstream state of its node's view.
#
#   causeway-fake-apiserver <-- causewayd (cloud hub) <-- 2 agents (edge hubs)
#                                                          ^ a list+watch client each
#
# Each agent's edge hub has a client that keeps its node's pods and all
# configmaps the way client-go's reflector does (kube_reflect.py). A run of
# STEPS steps picked by the seed: pods created, relabelled, deleted on
# edge-1, edge-2 and a node with no agent; configmaps changed; the link cut
# (causewayd stopped, or killed with kill -9) and brought back; an agent
# killed with kill -9 and started again; the upstream's history compacted
# (its watches answer 410 from then on). Changes go on while the link is
# down. At the end, with everything up again, the clients converge on the
# upstream state; then, with the link cut, each edge hub's list of its
# views (from its cache) holds exactly the upstream's objects at their
# resourceVersions, and again after the agents restart offline.
#
# Usage: hub_property.sh CAUSEWAYD CAUSEWAY_AGENT FAKE_APISERVER
# Environment: CW_SEED (default 1, so that CI runs the same steps; any
# other seed, e.g. CW_SEED=$(date +%s), explores further: it is printed,
# so a failure can be rerun), CW_STEPS (default 40).
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
SEED=${CW_SEED:-1}
STEPS=${CW_STEPS:-40}
RANDOM=$SEED
cw_log "seed $SEED, $STEPS steps (rerun: CW_SEED=$SEED)"

base=$(cw_free_ports 5)
TUN_PORT=$base ADMIN_PORT=$((base + 1)) UP_PORT=$((base + 2))
HUB_PORTS=($((base + 3)) $((base + 4)))
up=http://127.0.0.1:$UP_PORT
cw_tmpdir hub-property

"$here/../../scripts/pki.sh" "$tmp" 127.0.0.1 edge-1 edge-2 >/dev/null
"$FAKE" --listen "127.0.0.1:$UP_PORT" --history 1000 >"$tmp/fake.log" 2>&1 &
FAKE_PID=$!
cw_track_pid "$FAKE_PID"
for ((i = 0; i < 50; i++)); do
	grep -q ready "$tmp/fake.log" && break
	sleep 0.1
done

# api METHOD PATH [JSON [CONTENT-TYPE]]: a request upstream; fails on an
# error answer (404 for a DELETE of a pod already gone is the caller's).
api()
{
	curl -sf -o /dev/null -X "$1" -H "Content-Type: ${4:-application/json}" \
		${3:+-d "$3"} "$up$2"
}
pod()
{
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"default\",\"labels\":{\"gen\":\"0\"}},\"spec\":{\"nodeName\":\"$2\",\"containers\":[{\"name\":\"c\",\"image\":\"registry.example/app\"}]}}"
}
nodes=(edge-1 edge-2 edge-3)
live=() # pods that exist upstream
made=0
for ((i = 0; i < 6; i++)); do
	api POST /api/v1/namespaces/default/pods "$(pod "p$made" "${nodes[i % 3]}")"
	live+=("p$made")
	made=$((made + 1))
done
for n in "${nodes[@]}"; do
	api POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$n\"}}"
done
for c in cm0 cm1; do
	api POST /api/v1/namespaces/default/configmaps \
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$c\",\"namespace\":\"default\"},\"data\":{\"k\":\"0\"}}"
done

cat >"$tmp/causeway.conf" <<EOF
$(cw_loopback_conf hubprop)
reset_key = $tmp/reset.key
[ingress]
listen =
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[upstream]
server = $up
[hub]
store = $tmp/store
resources = /api/v1/pods, /api/v1/nodes, /api/v1/configmaps
map_size = 64
history = 1000
[route]
rule = GET ^/api/v1/ hub
default = upstream
[log]
level = info
EOF
for k in 1 2; do
	cat >"$tmp/agent$k.conf" <<EOF
[agent]
node_name = edge-$k
cache_dir = $tmp/cache$k
[gateway]
address = 127.0.0.1:$TUN_PORT
server_name = 127.0.0.1
ca_file = $tmp/ca.crt
[tls]
cert_file = $tmp/edge-$k.crt
key_file = $tmp/edge-$k.key
[admin]
listen =
[hub]
listen = 127.0.0.1:${HUB_PORTS[k - 1]}
[keepalive]
idle_timeout_ms = 10000
EOF
done

daemon_runs=0
link_up()
{
	[[ -n "$CW_DAEMON_PID" ]] && return 0
	daemon_runs=$((daemon_runs + 1))
	cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd-$daemon_runs.log"
}
# link_down: causewayd stopped, or killed (kill -9) when $1 is "kill".
link_down()
{
	[[ -n "$CW_DAEMON_PID" ]] || return 0
	if [[ "$1" == kill ]]; then
		kill -9 "$CW_DAEMON_PID"
		wait "$CW_DAEMON_PID" 2>/dev/null || true
		CW_DAEMON_PID=
	else
		cw_stop_daemon
	fi
}
declare -A agent_pid
agent_runs=0
agent_start()
{
	agent_runs=$((agent_runs + 1))
	"$AGENT" -c "$tmp/agent$1.conf" 2>"$tmp/agent$1-$agent_runs.log" &
	agent_pid[$1]=$!
	cw_track_pid "${agent_pid[$1]}"
}
agent_kill()
{
	kill -9 "${agent_pid[$1]}" 2>/dev/null || true
	wait "${agent_pid[$1]}" 2>/dev/null || true
}

# The views: each agent's node's pods, and agent 1's configmaps.
views=("1 /api/v1/pods fieldSelector=spec.nodeName%3Dedge-1"
	"2 /api/v1/pods fieldSelector=spec.nodeName%3Dedge-2"
	"1 /api/v1/configmaps -")
# upstream_view PATH NODE: the upstream's objects of a view, as
# kube_reflect.py writes them ("NS/NAME": "RV"), node "-" for all.
upstream_view()
{
	curl -sf "$up$1" | python3 -c 'import json, sys
items = json.load(sys.stdin)["items"]
node = sys.argv[1]
print(json.dumps({o["metadata"]["namespace"] + "/" + o["metadata"]["name"]:
                  o["metadata"]["resourceVersion"] for o in items
                  if node == "-" or o["spec"]["nodeName"] == node}, sort_keys=True))' "$2"
}
# edge_view K PATH QUERY: the same from agent K's edge hub ("" on error).
edge_view()
{
	local q=$3

	[[ "$q" == - ]] && q=
	curl -sf -m 5 "http://127.0.0.1:${HUB_PORTS[$1 - 1]}$2${q:+?$q}" | python3 -c 'import json, sys
items = json.load(sys.stdin)["items"] or []
print(json.dumps({o["metadata"]["namespace"] + "/" + o["metadata"]["name"]:
                  o["metadata"]["resourceVersion"] for o in items}, sort_keys=True))' || true
}
client_view()
{
	python3 -c 'import json, sys
print(json.dumps(json.load(open(sys.argv[1]))["objects"], sort_keys=True))' "$1" 2>/dev/null || true
}
node_of()
{
	local q=$1

	[[ "$q" == - ]] && echo - || echo "${q##*%3D}"
}

cw_section "everything up: the hub, two agents, a list+watch client per view"
link_up
agent_start 1
agent_start 2
for v in "${!views[@]}"; do
	read -r k path q <<<"${views[v]}"
	python3 "$here/kube_reflect.py" "http://127.0.0.1:${HUB_PORTS[k - 1]}" "$path" "${q#-}" \
		"$tmp/view$v.json" 2>"$tmp/client$v.log" &
	cw_track_pid "$!"
done
for ((i = 0; i < 100; i++)); do
	[[ -s "$tmp/view0.json" && -s "$tmp/view1.json" && -s "$tmp/view2.json" ]] && break
	sleep 0.1
done
cw_check "the clients listed" test -s "$tmp/view2.json"

cw_section "$STEPS random steps"
declare -A did
for ((s = 0; s < STEPS; s++)); do
	r=$((RANDOM % 100))
	if ((r < 25)); then
		n=${nodes[RANDOM % 3]}
		api POST /api/v1/namespaces/default/pods "$(pod "p$made" "$n")"
		live+=("p$made")
		made=$((made + 1))
		op=create
	elif ((r < 45)) && ((${#live[@]})); then
		p=${live[RANDOM % ${#live[@]}]}
		api PATCH "/api/v1/namespaces/default/pods/$p" \
			"{\"metadata\":{\"labels\":{\"gen\":\"$s\"}}}" application/merge-patch+json
		op=update
	elif ((r < 58)) && ((${#live[@]})); then
		j=$((RANDOM % ${#live[@]}))
		api DELETE "/api/v1/namespaces/default/pods/${live[j]}"
		live=("${live[@]:0:j}" "${live[@]:j+1}")
		op=delete
	elif ((r < 66)); then
		api PATCH "/api/v1/namespaces/default/configmaps/cm$((RANDOM % 2))" \
			"{\"data\":{\"k\":\"$s\"}}" application/merge-patch+json
		op=configmap
	elif ((r < 76)); then
		if ((RANDOM % 2)); then link_down stop; else link_down kill; fi
		op="cut"
	elif ((r < 86)); then
		link_up
		op=restore
	elif ((r < 94)); then
		k=$((RANDOM % 2 + 1))
		agent_kill "$k"
		agent_start "$k"
		op=agent-restart
	else
		curl -sf -o /dev/null -X POST "$up/fake/compact?keep=1"
		op=compact
	fi
	did[$op]=$((${did[$op]:-0} + 1))
	sleep "0.$((RANDOM % 4))"
done
summary=""
for op in "${!did[@]}"; do summary+=" $op=${did[$op]}"; done
cw_log "steps:$summary"

cw_section "the link back: the clients converge on the upstream"
link_up
converged()
{
	local v k path q

	for v in "${!views[@]}"; do
		read -r k path q <<<"${views[v]}"
		[[ "$(client_view "$tmp/view$v.json")" == "$(upstream_view "$path" "$(node_of "$q")")" ]] ||
			return 1
	done
}
for ((i = 0; i < 300; i++)); do
	converged && break
	sleep 0.1
done
cw_check "every client holds the upstream state of its view" converged

# check_edges WHAT: each edge hub's list of each view, from its cache,
# equals the upstream's.
check_edges()
{
	local v k path q want

	for v in "${!views[@]}"; do
		read -r k path q <<<"${views[v]}"
		want=$(upstream_view "$path" "$(node_of "$q")")
		cw_check_eq "$1: agent $k's $path ${q#-}" "$want" "$(edge_view "$k" "$path" "$q")" || :
	done
}
cw_section "the link cut: each edge hub's cache holds the upstream state"
link_down stop
check_edges "link cut"

cw_section "the agents restarted with the link still cut"
for k in 1 2; do
	agent_kill "$k"
	agent_start "$k"
done
for ((i = 0; i < 100; i++)); do
	curl -sf -o /dev/null "http://127.0.0.1:${HUB_PORTS[1]}/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-2" &&
		break
	sleep 0.1
done
check_edges "after a restart offline"
cw_log "seed $SEED"
cw_summary
