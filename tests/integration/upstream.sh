#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The upstream route end to end (control/upstream.c):
#
#   cw-api-client (edge-1, edge-2: agent sessions sending API requests)
#     --UDP 127.0.0.1--> causewayd: the worker routes them "upstream" and
#     hands them to the control thread over the rings
#     --HTTP 127.0.0.1--> nginx standing in for the Kubernetes API server,
#     serving a 260 KB PodList as a file
#
# Checks: every answer arrives whole, byte for byte as nginx sent it, in
# several ApiResponse parts (larger than the channel's ring: the transfer
# pauses for the agent's stream); a 404 is relayed as an answer; watches are
# refused (UNSUPPORTED: the hub's to serve); with the server down every
# request is answered UPSTREAM_UNAVAILABLE; the metrics agree. Then the
# same through causeway-agent's edge hub ([hub] listen, plain HTTP, as
# kubelet uses it): curl gets the PodList byte for byte, the 404, 501 for a
# watch; with the server down and then without a session the agent's cache
# gives the same PodList, and a request never answered before gets 503.
#
# Usage: upstream.sh CAUSEWAYD API_CLIENT CAUSEWAY_AGENT
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[[ $# -eq 3 ]] || {
	echo "usage: $0 CAUSEWAYD API_CLIENT CAUSEWAY_AGENT" >&2
	exit 2
}
[[ $EUID -eq 0 ]] || {
	echo "SKIP: needs root"
	exit 77
}
DAEMON=$(realpath -e "$1")
CLIENT=$(realpath -e "$2")
AGENT=$(realpath -e "$3")
for t in nginx curl openssl python3; do
	command -v "$t" >/dev/null || cw_fail "$t not found (run scripts/deps.sh)"
done
CW_KEEP_GOING=1
base=$(cw_free_ports 4)
TUN_PORT=$base ADMIN_PORT=$((base + 1)) UP_PORT=$((base + 2)) HUB_PORT=$((base + 3))
PODS=/api/v1/namespaces/default/pods

cw_tmpdir upstream

cw_section "certificates and the stand-in API server"
"$here/../../scripts/pki.sh" "$tmp" 127.0.0.1 edge-1 edge-2
mkdir -p "$tmp/www$(dirname "$PODS")"
python3 - "$tmp/www$PODS" <<'EOF'
import json, sys
items = [{"metadata": {"name": "p%d" % i, "namespace": "default", "resourceVersion": str(i)},
          "spec": {"nodeName": "edge-%d" % (i % 2 + 1),
                   "containers": [{"name": "c", "image": "registry.example/app:%d" % i,
                                   "args": ["--x"] * 40}]}}
         for i in range(800)]
json.dump({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "800"},
           "items": items}, open(sys.argv[1], "w"))
EOF
cat >"$tmp/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx.log;
events { worker_connections 64; }
http {
	access_log off;
	default_type application/json;
	server { listen 127.0.0.1:$UP_PORT; root $tmp/www; }
}
EOF
nginx -c "$tmp/nginx.conf" &
NGINX_PID=$!
cw_track_pid "$NGINX_PID"
for ((i = 0; i < 50; i++)); do
	curl -sf -o /dev/null "http://127.0.0.1:$UP_PORT$PODS" && break
	sleep 0.1
done
size=$(stat -c %s "$tmp/www$PODS")
size404=$(curl -s "http://127.0.0.1:$UP_PORT/api/v1/nodes" | wc -c)
cw_check "nginx serves the PodList ($size B)" test "$size" -gt $((200 << 10))

cat >"$tmp/causeway.conf" <<EOF
$(cw_loopback_conf upstream)
[ingress]
listen =
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[upstream]
server = http://127.0.0.1:$UP_PORT
timeout = 5000
[route]
default = upstream
[log]
level = info
EOF
cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd.log"

# client SECONDS REQUEST...: two agent sessions; the JSON line in $out.
client()
{
	local secs=$1 args=() r

	shift
	for r in "$@"; do args+=(--request "$r"); done
	out=$("$CLIENT" --gateway "127.0.0.1:$TUN_PORT" --server-name 127.0.0.1 --ca "$tmp/ca.crt" \
		--certs "$tmp" --node edge-1 --node edge-2 --inflight 2 --timeout-ms 5000 \
		--seconds "$secs" "${args[@]}" 2>>"$tmp/client.log") ||
		cw_fail "cw-api-client failed: $out"
	cw_log "client: $out"
}

cw_section "answers relayed whole"
client 2 "GET $PODS" "GET /api/v1/nodes" "GET $PODS?watch=true&resourceVersion=800"
ok=$(cw_json "$out" status.200)
nf=$(cw_json "$out" status.404)
watches=$(cw_json "$out" errors.10)
cw_check_eq "every request answered" "$(cw_json "$out" sent)" "$(cw_json "$out" answered)"
cw_check "PodLists came back ($ok)" test "$ok" -gt 0
cw_check_eq "each answered as its kind: 200, 404, refused watch" "$(cw_json "$out" sent)" \
	$((ok + nf + watches))
# The requests are taken in turn.
cw_check "as many 404s and refused watches as PodLists, give or take one" \
	test $(((ok - nf) * (ok - nf) + (ok - watches) * (ok - watches))) -le 2
cw_check_eq "body bytes: each PodList and 404 page whole" $((ok * size + nf * size404)) \
	"$(cw_json "$out" body_bytes)"
cw_check "PodLists in several parts" test "$(cw_json "$out" parts)" -gt $((3 * ok))
cw_check_eq "upstream requests (watches stay with the hub)" $((ok + nf)) \
	"$(cw_metric causeway_upstream_requests_total)"
cw_check_eq "2xx and 4xx answers counted" "$ok $nf" \
	"$(cw_metric 'causeway_upstream_answers_total{class="2xx"}') $(cw_metric 'causeway_upstream_answers_total{class="4xx"}')"
cw_check_eq "watches refused" "$watches" "$(cw_metric causeway_upstream_watches_refused_total)"
cw_check_eq "relayed body bytes" "$(cw_json "$out" body_bytes)" \
	"$(cw_metric causeway_upstream_body_bytes_total)"

cw_section "through the agent's edge hub"
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
EOF
"$AGENT" -c "$tmp/agent.conf" 2>"$tmp/agent.log" &
AGENT_PID=$!
cw_track_pid "$AGENT_PID"
hub=http://127.0.0.1:$HUB_PORT
# hubget PATH: "STATUS SHA256" of GET PATH through the edge hub.
hubget()
{
	local code

	code=$(curl -s -o "$tmp/got" -w '%{http_code}' "$hub$1") || true
	echo "$code $(sha256sum <"$tmp/got" | cut -d' ' -f1)"
}
for ((i = 0; i < 100; i++)); do
	[[ $(hubget "$PODS") == 200* ]] && break
	sleep 0.1
done
want=$(sha256sum <"$tmp/www$PODS" | cut -d' ' -f1)
cw_check_eq "PodList through the edge hub, byte for byte" "200 $want" "$(hubget "$PODS")"
cw_check_eq "404 relayed" 404 "$(hubget /api/v1/nodes | cut -d' ' -f1)"
cw_check_eq "a watch: 501 (the hub serves watches)" 501 \
	"$(hubget "$PODS?watch=true" | cut -d' ' -f1)"

cw_section "the server down"
cw_kill_pid "$NGINX_PID"
client 1 "GET $PODS"
cw_check_eq "every request answered UPSTREAM_UNAVAILABLE" "$(cw_json "$out" sent)" \
	"$(cw_json "$out" errors.11)"
cw_check_eq "each counted as a failure" "$(cw_json "$out" sent)" \
	"$(cw_metric causeway_upstream_failures_total)"
cw_check_eq "edge hub: the gateway cannot serve it, so the kept PodList, byte for byte" \
	"200 $want" "$(hubget "$PODS")"
cw_check_eq "edge hub: a request never answered before: 503 from the gateway's Error" 503 \
	"$(hubget "$PODS?limit=1" | cut -d' ' -f1)"
cw_check "... as a Kubernetes Status" grep -q '"reason":"ServiceUnavailable"' "$tmp/got"
cw_stop_daemon
cw_check_eq "edge hub without a session: the kept PodList" "200 $want" "$(hubget "$PODS")"
cw_check_eq "edge hub without a session, never seen: 503" 503 \
	"$(hubget "$PODS?limit=2" | cut -d' ' -f1)"
cw_check "... the gateway not reachable" grep -q 'gateway is not reachable' "$tmp/got"
cw_kill_pid "$AGENT_PID"
cw_summary
