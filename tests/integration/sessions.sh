#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# 5,000 sessions at once, loopback only:
#
#   cw-api-client (5,000 agent sessions, certificates minted in memory)
#     --UDP 127.0.0.1--> causewayd, socket backend, one worker
#
# Twice: all 5,000 sessions come up (full handshakes, Hello), are held,
# then close cleanly (Close, CONNECTION_CLOSE). Checks: the gateway counts
# 5,000 live sessions at the peak and 0 after each wave; the client saw
# every session up and every close complete; no handshake failed; the
# gateway's memory is back at its baseline after each wave, and while the
# sessions were held idle it was at most 4 KiB per session.
#
# Usage: sessions.sh CAUSEWAYD API_CLIENT
# Environment: CW_SESSIONS (default 5000).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[[ $# -eq 2 ]] || {
	echo "usage: $0 CAUSEWAYD API_CLIENT" >&2
	exit 2
}
[[ $EUID -eq 0 ]] || {
	echo "SKIP: needs root"
	exit 77
}
DAEMON=$(realpath -e "$1")
CLIENT=$(realpath -e "$2")
CW_KEEP_GOING=1
N=${CW_SESSIONS:-5000}
base=$(cw_free_ports 2)
TUN_PORT=$base ADMIN_PORT=$((base + 1))
cw_tmpdir sessions

cw_section "a CA, and causewayd"
"$here/../../scripts/pki.sh" "$tmp" 127.0.0.1 unused
cat >"$tmp/causeway.conf" <<EOF
[eal]
lcores = 0-1
memory = 256
hugepages = no
file_prefix = cwt-sessions-$$
[dataplane]
backend = socket
socket_address = 127.0.0.1
stats_interval = 0
mbuf_pool_size = 8191
[tunnel]
port = $TUN_PORT
cert = $tmp/gateway.crt
key = $tmp/gateway.key
ca = $tmp/ca.crt
[ingress]
listen =
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[log]
level = warning
EOF
CW_FILE_PREFIX=cwt-sessions-$$
cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd.log"
# memory: what the gateway's worker holds (published every 100 ms).
memory()
{
	sleep 0.3
	cw_stat tunnel_memory_bytes
}
base_mem=$(memory)
cw_log "gateway memory before any session: $base_mem B"

# wave K: N sessions up, held until the gateway counts them, closed.
wave()
{
	local k=$1 peak=0 i out rc=0

	cw_section "wave $k: $N sessions"
	"$CLIENT" --gateway "127.0.0.1:$TUN_PORT" --server-name 127.0.0.1 --ca "$tmp/ca.crt" \
		--ca-key "$tmp/ca.key" --mint "$N" --prefix "w$k-" --connecting 64 --seconds 3 \
		>"$tmp/client$k.json" 2>"$tmp/client$k.log" &
	CLIENT_PID=$!
	cw_track_pid "$CLIENT_PID"
	for ((i = 0; i < 1200; i++)); do
		peak=$(cw_metric causeway_sessions)
		((peak >= N)) && break
		sleep 0.1
	done
	cw_check_eq "wave $k: the gateway counts every session" "$N" "$peak"
	sleep 1.2 # idle sessions give their cipher contexts back after 1 s
	peak_mem=$(memory)
	wait "$CLIENT_PID" || rc=$?
	out=$(cat "$tmp/client$k.json")
	cw_log "client: $out"
	cw_check_eq "wave $k: client exit status" 0 "$rc"
	cw_check_eq "wave $k: every session up" "$N" "$(cw_json "$out" up)"
	cw_check_eq "wave $k: every session closed cleanly" "$N" "$(cw_json "$out" closed)"
	for ((i = 0; i < 300; i++)); do
		(($(cw_metric causeway_sessions) == 0)) && break
		sleep 0.1
	done
	cw_check_eq "wave $k: no session left on the gateway" 0 "$(cw_metric causeway_sessions)"
	after_mem=$(memory)
	cw_log "wave $k: memory at the peak $peak_mem B, after $after_mem B"
	cw_check_eq "wave $k: gateway memory back to the baseline" "$base_mem" "$after_mem"
}

wave 1
per=$(((peak_mem - base_mem) / N))
cw_log "wave 1: $per B per idle session"
cw_check "at most 4 KiB per idle session ($per B)" test "$per" -le 4096
wave 2
cw_check_eq "every handshake a full one, none failed" "$((2 * N)) 0" \
	"$(cw_metric causeway_handshakes_full_total) $(cw_metric causeway_handshakes_failed_total)"
# handshake_threads = 1 (the default): none ran on the worker.
cw_check_eq "every handshake ran on the handshake thread, none refused" "$((2 * N)) 0" \
	"$(cw_metric causeway_handshakes_offloaded_total) $(cw_metric causeway_handshakes_refused_total)"
cw_stop_daemon
cw_summary
