#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Datagrams on the wrong worker (tunnel/PROTOCOL.md §4.2), loopback only:
#
#   cw-api-client (4 agent sessions) --UDP--> relay (a NAT: new source port
#     on SIGUSR1) --UDP--> causewayd, socket backend, 2 workers, one
#     SO_REUSEPORT socket each
#
# The kernel picks a worker's socket by a hash of the 4-tuple, so every
# rebinding of the relay's NAT sends each session's datagrams to one of the
# two workers at random, half the time the one that does not own it. That
# worker hands them to the owner over a redirect ring. Checks: across 20
# rebindings every request is answered and none is lost, no session is
# replaced (4 full handshakes, no more), the redirect counters moved and
# what one worker handed over the other took.
#
# Usage: redirect.sh CAUSEWAYD API_CLIENT RELAY
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[[ $# -eq 3 ]] || {
	echo "usage: $0 CAUSEWAYD API_CLIENT RELAY" >&2
	exit 2
}
[[ $EUID -eq 0 ]] || {
	echo "SKIP: needs root"
	exit 77
}
DAEMON=$(realpath -e "$1")
CLIENT=$(realpath -e "$2")
RELAY=$(realpath -e "$3")
CW_KEEP_GOING=1
base=$(cw_free_ports 3)
TUN_PORT=$base ADMIN_PORT=$((base + 1)) RELAY_PORT=$((base + 2))
NODES=(edge-1 edge-2 edge-3 edge-4)

cw_tmpdir redirect

cw_section "certificates"
"$here/../../scripts/pki.sh" "$tmp" 127.0.0.1 "${NODES[@]}"
cw_check "certificates made" test -s "$tmp/edge-4.crt"

cw_section "causewayd with two workers, and the relay"
# Two workers and the main lcore on however few CPUs there are.
cat >"$tmp/causeway.conf" <<EOF
[eal]
lcores = 0-2
cpus = 0-$(($(nproc) - 1))
memory = 128
hugepages = no
file_prefix = cwt-redirect-$$
[dataplane]
workers = 1-2
backend = socket
socket_address = 127.0.0.1
stats_interval = 0
mbuf_pool_size = 4095
[tunnel]
port = $TUN_PORT
cert = $tmp/gateway.crt
key = $tmp/gateway.key
ca = $tmp/ca.crt
retry = never
[ingress]
listen =
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[route]
rule = * ^/api/v1/(namespaces/[^/]+/)?secrets(/|$) deny
[log]
level = info
EOF
CW_FILE_PREFIX=cwt-redirect-$$
cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd.log"
"$RELAY" -l "127.0.0.1:$RELAY_PORT" -u "127.0.0.1:$TUN_PORT" --seed 3 \
	--stats-file "$tmp/relay.json" 2>"$tmp/relay.log" &
RELAY_PID=$!
cw_track_pid "$RELAY_PID"

cw_section "requests across 20 NAT rebindings"
args=()
for n in "${NODES[@]}"; do args+=(--node "$n"); done
"$CLIENT" --gateway "127.0.0.1:$RELAY_PORT" --server-name 127.0.0.1 --ca "$tmp/ca.crt" \
	--certs "$tmp" "${args[@]}" --inflight 2 --timeout-ms 3000 --seconds 7 \
	--request "GET /api/v1/namespaces/kube-system/secrets/token" >"$tmp/client.json" \
	2>"$tmp/client.log" &
CLIENT_PID=$!
cw_track_pid "$CLIENT_PID"
# Rebind only once all four sessions carry requests.
for ((i = 0; i < 100; i++)); do
	(($(cw_metric 'causeway_api_requests_total{action="deny"}') > 0)) &&
		(($(cw_metric causeway_sessions) == 4)) && break
	sleep 0.1
done
for ((i = 0; i < 20; i++)); do
	kill -USR1 "$RELAY_PID"
	sleep 0.2
done
rc=0
wait "$CLIENT_PID" || rc=$?
out=$(cat "$tmp/client.json")
cw_log "client: $out"
cw_check_eq "client exit status (0: nothing lost)" 0 "$rc"
cw_check_eq "all sessions up" 4 "$(cw_json "$out" up)"
cw_check_eq "no request lost" 0 "$(cw_json "$out" lost)"
cw_check_eq "every request answered (403)" "$(cw_json "$out" sent)" "$(cw_json "$out" status.403)"
cw_check_eq "no session replaced: 4 full handshakes" 4 "$(cw_metric causeway_handshakes_full_total)"
cw_check "the gateway followed the rebindings" test "$(cw_metric causeway_address_changes_total)" -ge 20
out_n=$(($(cw_metric 'causeway_redirects_total{worker="0",dir="out"}') +
	$(cw_metric 'causeway_redirects_total{worker="1",dir="out"}')))
in_n=$(($(cw_metric 'causeway_redirects_total{worker="0",dir="in"}') +
	$(cw_metric 'causeway_redirects_total{worker="1",dir="in"}')))
cw_log "redirects: out $out_n, in $in_n"
cw_check "datagrams reached the wrong worker and were redirected" test "$out_n" -gt 0
cw_check_eq "what was handed over was taken" "$out_n" "$in_n"
cw_check_eq "no redirect dropped" 0 "$(cw_metric_sum causeway_redirect_drops_total)"
sleep 0.3 # the workers publish their figures every 100 ms
cw_check_eq "telemetry: redirects out" "$out_n" "$(cw_stat tunnel_redirects_out)"
cw_check_eq "telemetry: requests denied by route" "$(cw_json "$out" sent)" \
	"$(cw_stat tunnel_route_deny)"
cw_stop_daemon
cw_check "the stats line on exit has the tunnel's figures" \
	grep -Eq "^total +tunnel sessions [0-9]+ \| handshakes full 4 .* redirects out $out_n in $in_n ring-full 0" \
	"$tmp/causewayd.log"
cw_summary
