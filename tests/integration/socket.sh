#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# causewayd with [dataplane] backend = socket: the echo service on kernel UDP
# sockets, no DPDK port, no hugepages. The daemon runs in a network
# namespace of its own, bound to its end of a veth pair; the test talks to it
# from a second namespace on the other end. Needs root. Usage:
#
#   tests/integration/socket.sh CAUSEWAYD UDPCHECK
#
# Checks: causewayd --check accepts the configuration; the daemon's echo
# socket is bound to DUT_IP:7 inside its namespace, and nothing of it in the
# host's; it maps no hugepages; udpcheck 1, 100, 1400, 8000 bytes (8000 is
# fragmented on the veth, reassembled by the kernel) passes, twice;
# telemetry: rx_pkts, udp_in, udp_out, tx_pkts >= 4, then all four rise by
# at least 4 more with the second udpcheck, no drops; SIGTERM: exit status
# 0 and "final statistics:" in the log.
# Prints one line per check and "N passed, N failed"; exit 1 on any failure.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
	echo "skipped: needs root (network namespaces)"
	exit 77 # meson: SKIP
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

usage()
{
	echo "usage: $0 CAUSEWAYD UDPCHECK" >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
CAUSEWAYD=$1
UDPCHECK=$2
for b in "$CAUSEWAYD" "$UDPCHECK"; do
	[[ -x "$b" ]] || cw_fail "$b is not an executable"
done
# absolute, whatever directory meson runs us from
CAUSEWAYD=$(realpath -e "$CAUSEWAYD")
UDPCHECK=$(realpath -e "$UDPCHECK")

CW_KEEP_GOING=1
ECHO_PORT=7

udpcheck_ok()
{
	local out rc=0

	out=$(cw_ns "$UDPCHECK" "$CW_DUT_IP" "$ECHO_PORT" 1 100 1400 8000 2>&1) || rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	if ((rc == 0)); then
		cw_pass "$1: udpcheck 1 100 1400 8000"
	else
		cw_failed "$1: udpcheck 1 100 1400 8000 exited with $rc"
	fi
}

# bound_udp NS: the local address:port of UDP sockets on ECHO_PORT (sorted,
# space-separated) in namespace NS, or in the host's when NS is empty.
bound_udp()
{
	local run=()

	[[ -n "$1" ]] && run=(ip netns exec "$1")
	"${run[@]}" ss -Hnlu "sport = :$ECHO_PORT" | awk '{ print $4 }' | sort |
		awk '{ printf "%s%s", n++ ? " " : "", $0 } END { if (!n) printf "none" }'
}

tmp=$(mktemp -d /tmp/cw-socket.XXXXXX)
cw_on_exit "rm -rf '$tmp'"
conf=$tmp/causeway.conf
log=$tmp/causewayd.log
# shellcheck disable=SC2016 # expanded when the hook runs
cw_on_exit '((CW_FAILED == 0)) || [[ ! -s "$log" ]] || { echo "---- causewayd log ($log)"; cat "$log"; } >&2'

cw_section "setup"
# client namespace CW_NS; the "host" side of its veth goes into the
# daemon's own namespace
cw_setup_netns sock
dut_ns="cwt-sockd-$$"
cw_add_netns "$dut_ns"
ip netns exec "$dut_ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link set "$CW_IF_HOST" netns "$dut_ns"
ip netns exec "$dut_ns" ip addr add "$CW_DUT_IP/$CW_PREFIX_LEN" dev "$CW_IF_HOST"
ip netns exec "$dut_ns" ip link set "$CW_IF_HOST" up
cw_log "socket: daemon namespace $dut_ns: $CW_IF_HOST $CW_DUT_IP/$CW_PREFIX_LEN"

CW_FILE_PREFIX="cwt-socket-$$"
CW_DAEMON_NETNS=$dut_ns
cat >"$conf" <<EOF
[eal]
lcores = 0-1
hugepages = no
memory = 256
file_prefix = $CW_FILE_PREFIX

[dataplane]
backend = socket
socket_address = $CW_DUT_IP
workers = 1
echo_port = $ECHO_PORT
stats_interval = 1

[log]
level = info
EOF

if ! out=$("$CAUSEWAYD" -c "$conf" --check 2>&1); then
	printf '%s\n' "$out" | sed 's/^/    /' >&2
	cw_failed "causewayd --check accepts the configuration"
	cw_summary
	exit 1
fi
cw_pass "causewayd --check accepts the configuration"

cw_section "start causewayd (backend socket, in $dut_ns)"
cw_start_daemon "$CAUSEWAYD" "$conf" "$log"
daemon_pid=$CW_DAEMON_PID
cw_check "log says backend socket" grep -qF 'causewayd: ready (1 worker, backend socket)' "$log"
bound=$(bound_udp "$dut_ns")
cw_check_eq "UDP sockets on port $ECHO_PORT in the daemon's namespace" "$CW_DUT_IP:$ECHO_PORT" "$bound" || true
# (others may use port 7 on the host: only the daemon's own sockets count)
cw_check_eq "the daemon's UDP sockets in the host's namespace" none \
	"$(ss -Hanup | awk -v p="pid=$daemon_pid," 'index($0, p) { printf "%s%s", n++ ? " " : "", $4 }
		END { if (!n) printf "none" }')" || true
huge_kb=$(cw_pid_huge_kb "$daemon_pid" 2>/dev/null) || huge_kb=unknown
cw_check_eq "hugepage memory the daemon maps (kB)" 0 "$huge_kb" || true

cw_section "udpcheck"
udpcheck_ok "UDP echo"

cw_section "counters"
declare -A first=() second=()
if cw_snapshot first; then
	for k in rx_pkts udp_in udp_out tx_pkts; do
		cw_check_ge "$k" 4 "${first[$k]:-}"
	done
	drops=$(cw_nonzero_drops first)
	cw_check_eq "drop counters above zero" none "${drops:-none}" || true
else
	cw_failed "telemetry /causeway/stats readable"
fi

cw_section "again"
udpcheck_ok "UDP echo, second round"
if cw_snapshot second; then
	for k in rx_pkts udp_in udp_out tx_pkts; do
		cw_check_ge "$k rose by" 4 $((second[$k] - ${first[$k]:-0}))
	done
	drops=$(cw_nonzero_drops second)
	cw_check_eq "drop counters above zero" none "${drops:-none}" || true
else
	cw_failed "telemetry /causeway/stats readable"
fi
cw_check "daemon still running" cw_alive "$daemon_pid"

cw_section "stop"
if cw_stop_daemon; then
	cw_pass "daemon exit status after SIGTERM = 0"
else
	cw_failed "daemon exit status after SIGTERM = ${CW_DAEMON_RC:-?}"
fi
cw_check "log has 'final statistics:'" grep -qF 'final statistics:' "$log"
cw_check_eq "UDP sockets on port $ECHO_PORT in the daemon's namespace after exit" none \
	"$(bound_udp "$dut_ns")" || true

cw_summary
