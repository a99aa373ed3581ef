#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The tunnel end to end with real processes (issue "The tunnel"):
#
#   curl (host) --HTTP proxy--> causewayd ingress (host, socket backend)
#     causewayd tunnel UDP 127.0.0.1:T <-- relay (host, seeded impairment)
#       <-- veth 198.18.x.0/24 -- causeway-agent (namespace "edge")
#         --> nginx 127.0.0.1:10250 (namespace "edge"), a 64 MiB file
#
# Checks: the agent connects and `causewayctl status` lists it; through an
# impairing relay (loss, delay, reordering, duplication, corruption) curl
# gets the file byte-exact (SHA-256) as a forward proxy and with CONNECT,
# the latter across a NAT rebinding (the relay changes its source port);
# an unknown node is 502, a port outside the allow-list 403, a malformed
# request 400, each at once; the agent killed -> requests fail within the
# dial timeout; the agent restarted -> it resumes with its ticket (the
# gateway's resumed-handshake counter moves) and serves again; the gateway
# killed and restarted -> the agent learns it from a stateless reset at once and
# resumes with a ticket from before the restart (keys kept in files); the
# same after the gateway stopped and restarted.
#
# With BACKEND af_packet or af_xdp, causewayd runs its DPDK backend on the
# veth instead (a DPDK port owns the host end, so the relay moves into the
# edge namespace, in front of the agent); everything else is the same.
#
# Usage: tunnel.sh CAUSEWAYD AGENT CAUSEWAYCTL RELAY [BACKEND]
#   BACKEND: socket (default), af_packet or af_xdp
# Environment: CW_TUNNEL_MB (file size, default 64), CW_TUNNEL_IMPAIR (the
# relay's impairment options).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[[ $# -eq 4 || $# -eq 5 ]] || {
	echo "usage: $0 CAUSEWAYD AGENT CAUSEWAYCTL RELAY [socket|af_packet|af_xdp]" >&2
	exit 2
}
[[ $EUID -eq 0 ]] || {
	echo "SKIP: needs root"
	exit 77
}
DAEMON=$(realpath -e "$1")
AGENT=$(realpath -e "$2")
CTL=$(realpath -e "$3")
RELAY=$(realpath -e "$4")
BACKEND=${5:-socket}
case $BACKEND in socket | af_packet | af_xdp) ;; *) cw_fail "unknown backend '$BACKEND'" ;; esac
for t in nginx curl openssl; do
	command -v "$t" >/dev/null || cw_fail "$t not found (run scripts/deps.sh)"
done
CW_KEEP_GOING=1
NODE=edge-1
SIZE_MB=${CW_TUNNEL_MB:-64}
IMPAIR=${CW_TUNNEL_IMPAIR:---loss 0.3 --delay 1 --jitter 0.5 --reorder 0.5 --duplicate 0.5 --corrupt 0.2}
base=$(cw_free_ports 5)
TUN_PORT=$base INGRESS_PORT=$((base + 1)) ADMIN_PORT=$((base + 2))
AGENT_ADMIN=$((base + 3)) RELAY_PORT=$((base + 4))
PROXY="http://127.0.0.1:$INGRESS_PORT"

cw_tmpdir tunnel
chmod 755 "$tmp"

cw_setup_netns edge
if [[ $BACKEND == socket ]]; then
	# The gateway side of the veth stays in this namespace, with the relay on it.
	ip addr add "$CW_DUT_IP/$CW_PREFIX_LEN" dev "$CW_IF_HOST"
fi
cw_section "certificates"
"$here/../../scripts/pki.sh" "$tmp" "$CW_DUT_IP" "$NODE"
cw_check "certificates made" test -s "$tmp/$NODE.crt" -a -s "$tmp/gateway.crt"

cw_section "nginx in the edge namespace"
head -c $((SIZE_MB << 20)) /dev/urandom >"$tmp/big.bin"
head -c $((1 << 20)) /dev/urandom >"$tmp/small.bin"
want=$(sha256sum <"$tmp/big.bin" | cut -d' ' -f1)
want_small=$(sha256sum <"$tmp/small.bin" | cut -d' ' -f1)
cat >"$tmp/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx.log;
events { worker_connections 64; }
http {
	access_log off;
	server {
		listen 127.0.0.1:10250;
		root $tmp;
	}
}
EOF
cw_ns_spawn nginx -c "$tmp/nginx.conf"
sleep 0.3
cw_check "nginx serves in the edge namespace" \
	cw_ns curl -sf -o /dev/null "http://127.0.0.1:10250/big.bin"

cw_section "causewayd ($BACKEND backend) and the relay"
# The backend's part of the configuration; the relay's ends; where the
# gateway sees the agent (the relay's upstream address).
case $BACKEND in
socket)
	backend=$'backend = socket\nsocket_address = 127.0.0.1'
	relay=(-l "$CW_DUT_IP:$TUN_PORT" -u "127.0.0.1:$TUN_PORT")
	agent_dials=$CW_DUT_IP:$TUN_PORT
	seen_from=127.0.0.1
	;;
af_packet | af_xdp)
	device="net_af_xdp0,iface=$CW_IF_HOST"
	backend="backend = dpdk"
	if [[ $BACKEND == af_packet ]]; then
		# The kernel defragments for AF_PACKET: frames and mbufs take 9 KiB.
		device="net_af_packet0,iface=$CW_IF_HOST,framesz=9216,blocksz=36864,framecnt=512"
		backend=$'backend = dpdk\nmbuf_size = 9216'
	fi
	port=$'[port p0]\n'"device = $device"$'\n'"address = $CW_DUT_IP/$CW_PREFIX_LEN"
	relay=(-l "127.0.0.1:$RELAY_PORT" -u "$CW_DUT_IP:$TUN_PORT")
	# Open defect: on af_xdp with the handshake thread, an agent restarted
	# with its ticket is closed with INVALID_TOKEN's code and connects
	# again with a full handshake (issue 4's notes); af_xdp runs its
	# handshakes on the worker until that is fixed.
	[[ $BACKEND == af_xdp ]] && hs_threads='handshake_threads = 0'
	agent_dials=127.0.0.1:$RELAY_PORT
	seen_from=$CW_NS_IP
	;;
esac
cat >"$tmp/causeway.conf" <<EOF
[eal]
lcores = 0-1
memory = 128
hugepages = no
file_prefix = cwt-tunnel-$$
${port:-}
[dataplane]
$backend
stats_interval = 0
mbuf_pool_size = 4095
[tunnel]
port = $TUN_PORT
cert = $tmp/gateway.crt
key = $tmp/gateway.key
ca = $tmp/ca.crt
reset_key = $tmp/reset.key
ticket_keys = $tmp/tickets
retry = always
idle_timeout = 10000
${hs_threads:-}
[ingress]
listen = 127.0.0.1:$INGRESS_PORT
dial_timeout = 3000
head_timeout = 1000
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[log]
level = info
EOF
CW_FILE_PREFIX=cwt-tunnel-$$
cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd.log"
# shellcheck disable=SC2086 # IMPAIR is a list of options
if [[ $BACKEND == socket ]]; then
	"$RELAY" "${relay[@]}" --seed 7 $IMPAIR --stats-file "$tmp/relay.json" 2>"$tmp/relay.log" &
	RELAY_PID=$!
	cw_track_pid "$RELAY_PID"
else
	cw_ns_spawn "$RELAY" "${relay[@]}" --seed 7 $IMPAIR --stats-file "$tmp/relay.json" \
		2>"$tmp/relay.log"
	RELAY_PID=$CW_SPAWN_PID
fi

cat >"$tmp/agent.conf" <<EOF
[agent]
node_name = $NODE
cache_dir = $tmp/cache
[gateway]
address = $agent_dials
server_name = $CW_DUT_IP
ca_file = $tmp/ca.crt
[tls]
cert_file = $tmp/$NODE.crt
key_file = $tmp/$NODE.key
ticket_file = $tmp/ticket
[dial]
allow = 127.0.0.1:10250
connect_timeout_ms = 2000
[admin]
listen = 127.0.0.1:$AGENT_ADMIN
[keepalive]
idle_timeout_ms = 10000
[reconnect]
initial_ms = 200
max_ms = 1000
EOF
start_agent()
{
	cw_ns_spawn "$AGENT" -c "$tmp/agent.conf"
	AGENT_PID=$CW_SPAWN_PID
	cat "$tmp/agent.log" >>"$tmp/agent-all.log" 2>/dev/null || true
}
# wait_node: until causewayctl status lists the node (10 s at most).
wait_node()
{
	local i

	for ((i = 0; i < 100; i++)); do
		"$CTL" status --admin "127.0.0.1:$ADMIN_PORT" 2>/dev/null | grep -q "^$NODE " && return 0
		sleep 0.1
	done
	return 1
}

start_agent 2>"$tmp/agent.log"
cw_check "the agent connects and causewayctl status lists $NODE" wait_node
"$CTL" status --admin "127.0.0.1:$ADMIN_PORT" >"$tmp/status.txt" 2>&1 || true
cw_check "status shows the node's address through the relay" \
	grep -q "^$NODE .*${seen_from//./\\.}:" "$tmp/status.txt"
cw_check "status --json is JSON naming the node" \
	sh -c "'$CTL' status --admin 127.0.0.1:$ADMIN_PORT --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(n[\"name\"]==\"$NODE\" for n in d[\"nodes\"]) else 1)'"

cw_section "$SIZE_MB MiB through the ingress, over an impaired link"
t0=$(date +%s.%N)
got=$(curl -sf --max-time 240 -x "$PROXY" "http://$NODE:10250/big.bin" | sha256sum | cut -d' ' -f1) || true
t1=$(date +%s.%N)
cw_check_eq "forward proxy: SHA-256 of $SIZE_MB MiB" "$want" "$got" || true
cw_log "forward proxy: $SIZE_MB MiB in $(awk "BEGIN {print $t1 - $t0}") s"
# A NAT rebinding in the middle: the relay moves to a new source port.
(sleep 0.5 && kill -USR1 "$RELAY_PID") &
got=$(curl -sf --max-time 240 -p -x "$PROXY" "http://$NODE:10250/big.bin" | sha256sum | cut -d' ' -f1) || true
wait $! || true
cw_check_eq "CONNECT, with a NAT rebinding halfway: SHA-256 of $SIZE_MB MiB" "$want" "$got" || true
moves=$(cw_metric causeway_address_changes_total)
cw_check "the gateway followed the rebinding (address changes: ${moves:-none})" \
	test "${moves:-0}" -ge 1

cw_section "errors answered at once"
code() { curl -s -o "$tmp/body" -w '%{http_code}' --max-time 5 "$@" || true; }
cw_check_eq "unknown node: 502" 502 "$(code -x "$PROXY" http://nosuch-node:10250/)" || true
cw_check "502 body names the node" grep -q "nosuch-node" "$tmp/body"
cw_check_eq "port outside the allow-list: 403" 403 "$(code -x "$PROXY" "http://$NODE:22/")" || true
connect_code=$(curl -s -o /dev/null -w '%{http_connect}' --max-time 5 -p -x "$PROXY" \
	http://nosuch-node:10250/ || true)
cw_check_eq "CONNECT to an unknown node: 502" 502 "$connect_code" || true
bad=$(printf 'GARBAGE\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$INGRESS_PORT; cat >&3; head -c 12 <&3" || true)
cw_check_eq "malformed request: 400" "HTTP/1.1 400" "$bad" || true
t0=$(date +%s%N)
slow=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$INGRESS_PORT; printf 'CONNECT ' >&3; head -c 12 <&3" || true)
t1=$(date +%s%N)
cw_check_eq "a head that never completes: 408" "HTTP/1.1 408" "$slow" || true
cw_check "after head_timeout (1 s), not before ($(((t1 - t0) / 1000000)) ms)" \
	test $(((t1 - t0) / 1000000)) -ge 900 -a $(((t1 - t0) / 1000000)) -le 3000

ans() { cw_metric "causeway_ingress_answers_total{code=\"$1\"}"; }
cw_check_eq "metrics: 502 answers" 2 "$(ans 502)" || true
cw_check_eq "metrics: 403 answers" 1 "$(ans 403)" || true
cw_check_eq "metrics: 400 answers" 1 "$(ans 400)" || true
cw_check_eq "metrics: 408 answers" 1 "$(ans 408)" || true
cw_check_eq "metrics: relayed requests" 2 "$(ans 200)" || true
fails=$(cw_metric causeway_decrypt_failures_total)
cw_check "packets the relay corrupted were refused and counted ($fails)" test "${fails:-0}" -ge 1

cw_section "agent killed, then restarted"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
t0=$(date +%s)
c=$(code -x "$PROXY" "http://$NODE:10250/big.bin")
t1=$(date +%s)
cw_check "with the agent dead the request fails (got $c)" test "$c" = 502 -o "$c" = 000
cw_check "and within the dial timeout ($((t1 - t0)) s)" test $((t1 - t0)) -le 5
resumed0=$(cw_metric causeway_handshakes_resumed_total)
start_agent 2>"$tmp/agent.log"
sleep 0.5
cw_check "the restarted agent connects" wait_node
got=$(curl -sf --max-time 60 -x "$PROXY" "http://$NODE:10250/small.bin" | sha256sum | cut -d' ' -f1) || true
cw_check_eq "after the restart: SHA-256 of 1 MiB" "$want_small" "$got" || true
resumed1=$(cw_metric causeway_handshakes_resumed_total)
cw_check "the restart resumed with its ticket ($resumed0 -> $resumed1)" \
	test "${resumed1:-0}" -gt "${resumed0:-0}"

# The SHUTDOWN close a stopping gateway sends is checked in hub.sh: here
# the relay loses or corrupts it as any other packet, and the agent may
# learn of the restart from a stateless reset instead.
cw_section "gateway stopped, then restarted: the agent resumes"
cw_stop_daemon || true
cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd.log"
cw_check "the agent is back on the restarted gateway" wait_node
resumed=$(cw_metric causeway_handshakes_resumed_total)
cw_check "with a ticket from before the restart (resumed: ${resumed:-none})" \
	test "${resumed:-0}" -ge 1

cw_section "gateway killed: a stateless reset, then a resumed session"
kill -KILL "$CW_DAEMON_PID"
wait "$CW_DAEMON_PID" 2>/dev/null || true
CW_DAEMON_PID=
cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd.log"
cw_check "the agent is back on the restarted gateway" wait_node
resumed=$(cw_metric causeway_handshakes_resumed_total)
cw_check "with a ticket from before the restart (resumed: ${resumed:-none})" \
	test "${resumed:-0}" -ge 1
cw_check "after a stateless reset (agent log)" grep -q "stateless reset" "$tmp/agent.log"
got=$(curl -sf --max-time 60 -x "$PROXY" "http://$NODE:10250/small.bin" | sha256sum | cut -d' ' -f1) || true
cw_check_eq "through the restarted gateway: SHA-256 of 1 MiB" "$want_small" "$got" || true

cw_kill_pid "$AGENT_PID"
cw_stop_daemon || true
cw_summary
