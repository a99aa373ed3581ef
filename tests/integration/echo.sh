#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# causewayd on the host side of a veth pair, driven from a network namespace
# on the other side. Needs root. Usage:
#
#   tests/integration/echo.sh PMD HUGE CAUSEWAYD UDPCHECK RAWSEND
#
# PMD: af_packet (net_af_packet; the kernel reassembles fragments for it, so
# it gets 9216-byte ring frames and mbufs) or af_xdp (net_af_xdp; causewayd
# reassembles). HUGE: huge ([eal] hugepages = yes: 2 MiB pages are reserved
# for it, --in-memory) or nohuge (hugepages = no, --no-huge). CAUSEWAYD,
# UDPCHECK, RAWSEND: the binaries to test and test with (meson passes them).
#
# Checks, in order:
#  1. ping from the namespace: exactly 5 of 5 echo replies;
#  2. udpcheck: UDP echo of 1, 100, 1400 and 8000 bytes (8000 is fragmented);
#  3. counters (telemetry): no drops at startup (af_packet: except frames of
#     other host interfaces that its socket catches before it is bound, see
#     below), icmp_echo >= 5, udp_in and udp_out >= 4, no drop since startup;
#  4. rawsend, N=3 frames of each kind; exactly the matching counter rises by
#     N and no other drop counter moves: bad-ip-csum -> drop_bad_ip_csum,
#     trunc-udp -> drop_bad_udp, wrong-mac -> drop_not_for_us,
#     ttl0 -> drop_ttl, bad-udp-csum -> drop_bad_l4_csum; vlan-good (priority
#     tag) -> udp_in and udp_out +N, its N echo replies reach the namespace;
#  5. udpcheck again: the daemon keeps answering;
#  6. SIGTERM: exit status 0 and "final statistics:" in the log;
#  7. huge: the daemon mapped hugepages while running; afterwards none is
#     charged to the cgroup it ran in (cgroup v2 hugetlb controller: exact
#     however busy the host is), HugePages_Free is back where it was (unless
#     other processes changed their hugepage use meanwhile: then that is
#     only noted), and no hugepage file is left in any hugetlbfs mount.
#     nohuge: the daemon mapped no hugepages.
# Prints one line per check and "N passed, N failed"; exit 1 on any failure.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
	echo "skipped: needs root (network namespaces, AF_PACKET/AF_XDP)"
	exit 77 # meson: SKIP
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

usage()
{
	echo "usage: $0 af_packet|af_xdp huge|nohuge CAUSEWAYD UDPCHECK RAWSEND" >&2
	exit 2
}

[[ $# -eq 5 ]] || usage
PMD=$1
HUGE=$2
CAUSEWAYD=$3
UDPCHECK=$4
RAWSEND=$5
case "$PMD" in af_packet | af_xdp) ;; *) usage ;; esac
case "$HUGE" in huge | nohuge) ;; *) usage ;; esac
for b in "$CAUSEWAYD" "$UDPCHECK" "$RAWSEND"; do
	[[ -x "$b" ]] || cw_fail "$b is not an executable"
done
# absolute, whatever directory meson runs us from
CAUSEWAYD=$(realpath -e "$CAUSEWAYD")
UDPCHECK=$(realpath -e "$UDPCHECK")
RAWSEND=$(realpath -e "$RAWSEND")

CW_KEEP_GOING=1
ECHO_PORT=7
N=3                # frames of each rawsend kind
RAW_SRC_PORT=40000 # rawsend's source port: where vlan-good's echoes go
HUGE_PAGES_MIN=256 # 2 MiB pages to have reserved for the huge variant
HUGE_PAGES_DAEMON=128 # what [eal] memory = 256 takes
POLL_S=3           # how long a counter may take to show a frame's effect

# wait_stat NAME MIN: poll until counter NAME >= MIN (up to POLL_S s).
wait_stat()
{
	local v i

	for ((i = 0; i < POLL_S * 10; i++)); do
		v=$(cw_stat "$1" 2>/dev/null) || v=-1
		((v >= $2)) && return 0
		sleep 0.1
	done
	return 1
}

# udpcheck_ok WHAT: UDP echo of 1, 100, 1400 and 8000 bytes from the namespace.
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

tmp=$(mktemp -d "/tmp/cw-echo-$PMD-$HUGE.XXXXXX")
cw_on_exit "rm -rf '$tmp'"
conf=$tmp/causeway.conf
log=$tmp/causewayd.log
# print the daemon's log when anything failed, before the directory goes
# shellcheck disable=SC2016 # expanded when the hook runs
cw_on_exit '((CW_FAILED == 0)) || [[ ! -s "$log" ]] || { echo "---- causewayd log ($log)"; cat "$log"; } >&2'

cw_section "setup: $PMD, $HUGE"
cw_setup_netns "echo-${PMD#af_}"
CW_FILE_PREFIX="cwt-echo-$PMD-$HUGE-$$"

case "$PMD" in
af_packet)
	# The af_packet PMD's fanout group defragments: an 8000-byte datagram
	# arrives as one 8042-byte frame, so frames and mbufs must hold it.
	device="net_af_packet0,iface=$CW_IF_HOST,framesz=9216,blocksz=36864,framecnt=512"
	mbuf_line="mbuf_size = 9216"
	;;
af_xdp)
	device="net_af_xdp0,iface=$CW_IF_HOST"
	mbuf_line=""
	;;
esac
hugepages=no
[[ "$HUGE" == huge ]] && hugepages=yes

cat >"$conf" <<EOF
[eal]
lcores = 0-1
hugepages = $hugepages
memory = 256
file_prefix = $CW_FILE_PREFIX

[port p0]
device = $device
address = $CW_DUT_IP/$CW_PREFIX_LEN

[dataplane]
workers = 1
echo_port = $ECHO_PORT
stats_interval = 1
$mbuf_line

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

if [[ "$HUGE" == huge ]]; then
	# Others on this host may hold hugepages: reserve enough on top of theirs.
	in_use=$(($(cw_meminfo HugePages_Total) - $(cw_meminfo HugePages_Free)))
	want=$((in_use + HUGE_PAGES_DAEMON + 32))
	((want >= HUGE_PAGES_MIN)) || want=$HUGE_PAGES_MIN
	cw_reserve_huge "$want"
	# The daemon runs in a cgroup of its own whose hugetlb charge counts
	# exactly its pages, however busy the host is with others'.
	have_cgroup=0
	if cw_huge_cgroup "echo-$PMD"; then
		have_cgroup=1
	else
		cw_log "note: no cgroup v2 hugetlb controller: the daemon's own hugepages are not tracked"
	fi
	users_before=$(cw_huge_users)
	free_before=$(cw_meminfo HugePages_Free)
	used_before=$(($(cw_meminfo HugePages_Total) - free_before))
	cw_log "hugepages: $free_before free before the daemon starts"
fi

cw_section "start causewayd"
cw_start_daemon "$CAUSEWAYD" "$conf" "$log"
daemon_pid=$CW_DAEMON_PID

# The port's MAC as the daemon reports it: af_packet and af_xdp keep the
# kernel interface's MAC.
dut_mac=$(sed -n 's/.*port p0: .*MAC \([0-9A-Fa-f:]\{17\}\).*/\1/p' "$log" | head -n 1)
dut_mac=${dut_mac,,}
cw_check_eq "daemon's port MAC is the host-side veth's" "$CW_MAC_HOST" "$dut_mac" || true
[[ -n "$dut_mac" ]] || dut_mac=$CW_MAC_HOST

huge_kb=$(cw_pid_huge_kb "$daemon_pid" 2>/dev/null) || huge_kb=unknown
if [[ "$HUGE" == huge ]]; then
	cw_check_ge "hugepage memory the daemon maps (kB)" 2048 "$huge_kb"
	if ((have_cgroup)); then
		cw_check_ge "2 MiB pages charged to the daemon's cgroup" 1 "$(cw_huge_cgroup_pages)"
	fi
else
	cw_check_eq "hugepage memory the daemon maps (kB)" 0 "$huge_kb" || true
fi

# Counters right after start. net_af_packet opens its socket for every
# interface of the namespace and binds it to iface= only after setting up
# its ring, so frames that other host interfaces carry in between reach the
# daemon and are (rightly) dropped; with traffic on the host (other tests,
# benchmarks) that happens now and then. Those are the only drops allowed,
# and only at startup; everything later is checked against this baseline.
declare -A start=() before=() after=()
sleep 0.3 # let the worker drain what the ring caught before "ready"
if cw_snapshot start; then
	drops=$(cw_nonzero_drops start)
	if [[ "$PMD" == af_packet ]]; then
		stray=$(tr ' ' '\n' <<<"$drops" | grep -Ev '^(drop_not_for_us|drop_unsupported|drop_bad_arp|drop_bad_eth)=|^$' | tr '\n' ' ') || true
		cw_check_eq "drops at startup, other than frames of other interfaces" none "${stray:-none}" || true
		[[ -z "$drops" ]] || cw_log "note: af_packet caught ${start[rx_pkts]} frame(s) before binding to $CW_IF_HOST: $drops"
	else
		cw_check_eq "drops at startup" none "${drops:-none}" || true
	fi
else
	cw_failed "telemetry /causeway/stats readable"
	for k in rx_pkts drops; do start[$k]=0; done
fi

cw_section "ping"
out=$(cw_ns ping -c 5 -i 0.2 -W 2 "$CW_DUT_IP" 2>&1) || true
printf '%s\n' "$out" | sed 's/^/    /'
received=$(sed -n 's/.* \([0-9]\+\) received.*/\1/p' <<<"$out")
cw_check_eq "ping: replies to 5 echo requests" 5 "${received:-none}" || true

cw_section "udpcheck"
udpcheck_ok "UDP echo"

cw_section "counters"
if cw_snapshot before; then
	cw_check_ge "icmp_echo" 5 "${before[icmp_echo]:-}"
	cw_check_ge "udp_in" 4 "${before[udp_in]:-}"
	cw_check_ge "udp_out" 4 "${before[udp_out]:-}"
	drops=''
	for k in "${!before[@]}"; do
		[[ $k == drop_* ]] || continue
		d=$((before[$k] - ${start[$k]:-0}))
		((d == 0)) || drops+=" $k+$d"
	done
	drops=${drops# }
	cw_check_eq "drop counters that rose since startup" none "${drops:-none}" || true
else
	cw_failed "telemetry /causeway/stats readable"
fi

cw_section "malformed frames, $N of each kind"
# vlan-good's echo replies go to rawsend's source port: listen there, or the
# namespace kernel would answer them with ICMP port unreachable.
cat >"$tmp/sink.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(65535)
    print("from %s:%d %d bytes %r" % (peer[0], peer[1], len(data), data[:24]), flush=True)
EOF
cw_ns_spawn python3 -u "$tmp/sink.py" "$CW_NS_IP" "$RAW_SRC_PORT" >"$tmp/sink.log" 2>&1
sink_pid=$CW_SPAWN_PID
for ((i = 0; i < 50; i++)); do
	grep -q ready "$tmp/sink.log" && break
	sleep 0.1
done
grep -q ready "$tmp/sink.log" || cw_fail "UDP sink in the namespace not ready: $(cat "$tmp/sink.log")"

declare -A counter_of=([bad-ip-csum]=drop_bad_ip_csum [trunc-udp]=drop_bad_udp
	[wrong-mac]=drop_not_for_us [ttl0]=drop_ttl [bad-udp-csum]=drop_bad_l4_csum
	[vlan-good]=udp_in)
for kind in bad-ip-csum trunc-udp wrong-mac ttl0 bad-udp-csum vlan-good; do
	ctr=${counter_of[$kind]}
	if ! cw_snapshot before; then
		cw_failed "$kind: telemetry readable"
		continue
	fi
	if ! out=$(cw_ns "$RAWSEND" "$CW_IF_NS" "$dut_mac" "$CW_DUT_IP" "$ECHO_PORT" "$kind" "$N" 2>&1); then
		cw_failed "$kind: rawsend: $out"
		continue
	fi
	wait_stat "$ctr" $((before[$ctr] + N)) || true
	if [[ "$kind" == vlan-good ]]; then
		wait_stat udp_out $((before[udp_out] + N)) || true
	fi
	sleep 0.2 # anything else these frames might (wrongly) cause
	if ! cw_snapshot after; then
		cw_failed "$kind: telemetry readable"
		continue
	fi
	# every counter that moved, except traffic totals and ARP (the
	# namespace kernel may refresh its neighbour entry at any time)
	moved=''
	for k in "${!after[@]}"; do
		case "$k" in rx_* | tx_* | arp_* | drops) continue ;; esac
		d=$((after[$k] - ${before[$k]:-0}))
		((d == 0)) || moved+=" $k+$d"
	done
	moved=${moved# }
	if [[ "$kind" == vlan-good ]]; then
		want="udp_in+$N udp_out+$N"
	else
		want="$ctr+$N"
	fi
	moved=$(tr ' ' '\n' <<<"$moved" | sort | tr '\n' ' ')
	cw_check_eq "$kind x$N: counters that moved" "$want" "${moved% }" || true
	rx=$((after[rx_pkts] - before[rx_pkts]))
	cw_check_ge "$kind x$N: rx_pkts rose by" "$N" "$rx"
done

for ((i = 0; i < 20; i++)); do
	(($(grep -c '^from ' "$tmp/sink.log") >= N)) && break
	sleep 0.1
done
cw_check_eq "vlan-good: echo replies received in the namespace" "$N" \
	"$(grep -c "^from $CW_DUT_IP:$ECHO_PORT " "$tmp/sink.log")" || true
cw_kill_pid "$sink_pid"

cw_section "the daemon keeps answering"
udpcheck_ok "UDP echo after malformed frames"
cw_check "daemon still running" cw_alive "$daemon_pid"

cw_section "stop"
if cw_stop_daemon; then
	cw_pass "daemon exit status after SIGTERM = 0"
else
	cw_failed "daemon exit status after SIGTERM = ${CW_DAEMON_RC:-?}"
fi
cw_check "log has 'final statistics:'" grep -qF 'final statistics:' "$log"

if [[ "$HUGE" == huge ]]; then
	cw_section "hugepages"
	if ((have_cgroup)); then
		for ((i = 0; i < 50; i++)); do
			held=$(cw_huge_cgroup_pages) || held=unknown
			[[ "$held" == 0 ]] && break
			sleep 0.1
		done
		cw_check_eq "2 MiB pages still charged to the daemon's cgroup" 0 "$held" || true
	fi
	# HugePages_Free is host-wide: it must be back where it was unless
	# other processes (benchmarks, other DPDK programs) changed their own
	# use meanwhile, in which case it says nothing about the daemon. Pages
	# in use (Total - Free) are compared too, in case someone changed
	# nr_hugepages meanwhile.
	for ((i = 0; i < 50; i++)); do
		free_after=$(cw_meminfo HugePages_Free)
		used_after=$(($(cw_meminfo HugePages_Total) - free_after))
		[[ "$free_after" == "$free_before" || "$used_after" == "$used_before" ]] && break
		sleep 0.1
	done
	users_after=$(cw_huge_users)
	if [[ "$free_after" == "$free_before" ]]; then
		cw_pass "HugePages_Free back to $free_before"
	elif [[ "$used_after" == "$used_before" ]]; then
		cw_pass "hugepages in use back to $used_before (HugePages_Free $free_before -> $free_after: nr_hugepages changed meanwhile)"
	elif [[ "$users_after" != "$users_before" ]]; then
		cw_log "note: HugePages_Free $free_before -> $free_after not compared: other processes changed their hugepage use meanwhile (PID kB before: ${users_before//$'\n'/, }; after: ${users_after//$'\n'/, })"
	else
		cw_failed "HugePages_Free back to $free_before: it is $free_after (in use $used_before -> $used_after), and no other process changed its hugepage use"
	fi
	left=$(cw_huge_files "$CW_FILE_PREFIX" | tr '\n' ' ')
	cw_check_eq "hugepage files left in hugetlbfs mounts" none "${left:-none}" || true
fi

cw_summary
