#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# perf/vpn-compare.sh: Causeway's tunnel against OpenVPN 2.6 and
# wireguard-go, in one run, on this machine (issue 3, "The tunnel").
#
#   perf/vpn-compare.sh [--runs N] [--time S] [--only openvpn|wireguard|causeway]
#                       [--build DIR] [--shares N] [--keep]
#
# Two network namespaces, "gw" (198.18.0.1) and "edge" (198.18.0.2), joined
# by a veth pair; iperf3 -s runs in "edge", the iperf3 client in "gw". Each
# system carries one TCP stream for S seconds gw -> edge ("fwd") and, with
# iperf3 -R, edge -> gw ("rev"):
#   openvpn    OpenVPN 2.6, TLS mode (--server / --client, a CA and
#              certificates made here), UDP, tun devices, data channel
#              AES-256-GCM only, no DCO (userspace, like the others);
#              tun-mtu 1420 (as wireguard-go), so that no tunnel packet is
#              IP-fragmented on the 1500-byte veth; 4 MiB UDP socket
#              buffers (what causewayd's socket backend asks for; with the
#              default 208 KiB the receiving openvpn drops thousands of
#              datagrams per second) and --fast-io: OpenVPN at its best
#              makes the 2x goal the harder to meet.
#   wireguard  wireguard-go (userspace) on both sides, configured with wg;
#              it has no such options.
#   causeway   causewayd (backend socket: [tunnel], [ingress], [admin]) in
#              "gw", causeway-agent in "edge" with [dial] allow
#              127.0.0.1:5201; iperf3 reaches the agent's 127.0.0.1:5201
#              through socat -> the ingress's HTTP CONNECT -> the tunnel ->
#              the agent, since iperf3 cannot use a proxy itself. Unlike
#              the two VPNs, which carry iperf3's TCP segments, Causeway
#              carries the byte stream: iperf3's TCP connection ends at
#              socat (gw) and the agent (edge), and the tunnel protocol's
#              own loss recovery and congestion control work in between.
# The figures per measurement: the receiver's goodput (iperf3 --json,
# end.sum_received) and the CPU time (utime + stime from /proc/PID/stat) the
# tunnel processes spent meanwhile, per GB (1e9 bytes) received: both
# openvpn processes, both wireguard-go processes, causewayd + causeway-agent
# (socat apart: it is glue for iperf3, not part of Causeway; its forked
# children are counted through its cutime + cstime). "machine" is the busy
# time of all CPUs (/proc/stat) per GB: the iperf3 endpoints, the kernel's
# TCP/veth work and anything else running on this shared machine.
# "retr" is the iperf3 sender's TCP retransmissions (for causeway: on the
# loopback leg to socat), "wait%" the time the tunnel processes' threads
# sat runnable without a CPU, in % of the run (summed over threads): the
# noise of this shared machine.
# Runs are interleaved (run 1 of every system, then run 2, ...) so slow
# drifts of the machine's load hit every system alike; the table shows the
# medians over --runs. The goal of the issue: causeway's goodput at least
# 2x OpenVPN's, in each direction.
#
# Defaults: --runs 3, --time 8 (18 measurements, under 3 minutes in all),
# --build build-vpn (configured --buildtype=release if missing; causewayd,
# causeway-agent and causewayctl are built with ninja). Needs root. The
# tools (openvpn, wireguard-go, wireguard-tools, iperf3, socat, shellcheck
# for editing this file) are perf dependencies, installed here with apt-get
# when missing. Everything runs in a temporary directory and the two
# namespaces; the EXIT trap of tests/integration/lib.sh stops every process
# started here (by PID), deletes the namespaces (and with them the veth
# pair) and the temporary directory (--keep: keep the directory, with the
# logs, configurations and iperf3 JSON), on success or failure.
# --shares N: every process of the run (this script and all it starts)
# goes into a cgroup of its own (v1 cpu controller, /sys/fs/cgroup/cpu)
# with cpu.shares N (default 10240: ten times a session's autogroup), so
# that the other jobs of this shared machine get in the way less; inside
# the group the processes compete as usual. 0: no cgroup. The group is
# removed on exit.
# Exit status 0 when every system was measured in every run, else 1.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMMAND="perf/vpn-compare.sh${*:+ $*}"
RUNS=3
SECS=8
ONLY=''
BUILD=$ROOT/build-vpn
KEEP=0
SHARES=10240

usage()
{
	sed -n '7,8p' "${BASH_SOURCE[0]}" | sed '1s/^#  */usage: /; 2s/^#/    /' >&2
	exit 2
}

while (($#)); do
	case $1 in
	--runs) RUNS=${2:?}; shift 2 ;;
	--time) SECS=${2:?}; shift 2 ;;
	--only) ONLY=${2:?}; shift 2 ;;
	--build) BUILD=$(realpath -m "${2:?}"); shift 2 ;;
	--keep) KEEP=1; shift ;;
	--shares) SHARES=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) echo "unknown option: $1" >&2; usage ;;
	esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs: a positive number" >&2; exit 2; }
[[ "$SECS" =~ ^[1-9][0-9]*$ ]] || { echo "--time: a positive number of seconds" >&2; exit 2; }
if ! [[ "$SHARES" =~ ^[0-9]+$ ]] || ((SHARES == 1)); then
	echo "--shares: 0 or a number >= 2" >&2
	exit 2
fi
case $ONLY in
'') SYSTEMS=(openvpn wireguard causeway) ;;
openvpn | wireguard | causeway) SYSTEMS=("$ONLY") ;;
*) echo "--only: openvpn, wireguard or causeway" >&2; exit 2 ;;
esac
[[ $EUID -eq 0 ]] || { echo "needs root (namespaces, tun devices)" >&2; exit 1; }

# shellcheck source=../tests/integration/lib.sh disable=SC1091 # shellcheck -x follows it
. "$ROOT/tests/integration/lib.sh"

GW=cwv-gw-$$
EDGE=cwv-edge-$$
GW_IP=198.18.0.1
EDGE_IP=198.18.0.2
# OpenVPN's server takes .1 of its --server network, the client gets .2
OVPN_NET=198.19.1.0
OVPN_EDGE=198.19.1.2
WG_GW=198.19.2.1
WG_EDGE=198.19.2.2
# wireguard-go's control sockets live in /run/wireguard, shared by all
# namespaces: names of our own
WG_IF_GW=wgcw$$g
WG_IF_EDGE=wgcw$$e
TUN_MTU=1420
OVPN_PORT=1194
WG_PORT=51820
CW_TUN_PORT=10262
INGRESS_PORT=10265
ADMIN_PORT=10267
SOCAT_PORT=15201
IPERF_PORT=5201
NODE=edge-1
HZ=$(getconf CLK_TCK)

in_gw() { ip netns exec "$GW" "$@"; }
in_edge() { ip netns exec "$EDGE" "$@"; }

# spawn NS LOG CMD...: start CMD in namespace NS, output to LOG, stopped by
# PID on exit; sets SPAWNED to CMD's PID (ip netns exec execs CMD).
spawn()
{
	local ns=$1 log=$2

	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	SPAWNED=$!
	printf '%.80s\n' "$*" >"$tmp/pid-$SPAWNED"
	cw_track_pid "$SPAWNED"
}

# show_logs SYSTEM: the last lines of SYSTEM's logs, on stderr.
show_logs()
{
	local f

	for f in ${LOGS[$1]}; do
		echo "---- $f" >&2
		tail -n 15 "$tmp/$f" >&2
	done
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds, for
# SECONDS at most.
wait_for()
{
	local end=$((SECONDS + $1))

	shift
	while ((SECONDS < end)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# listening NS PORT: something in namespace NS listens on TCP PORT. Not
# probed with a connection: iperf3 -s would take it for a test, and socat
# would relay it.
listening()
{
	ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .
}

# ---- tools ---------------------------------------------------------------

install_tools()
{
	local -A pkg=([openvpn]=openvpn [wireguard-go]=wireguard-go [wg]=wireguard-tools
		[iperf3]=iperf3 [socat]=socat [openssl]=openssl [python3]=python3 [ping]=iputils-ping
		[ss]=iproute2)
	local missing=() t

	for t in "${!pkg[@]}"; do
		command -v "$t" >/dev/null || missing+=("${pkg[$t]}")
	done
	((${#missing[@]})) || return 0
	cw_log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
		cw_fail "apt-get install ${missing[*]} failed"
}

ensure_tun()
{
	[[ -c /dev/net/tun ]] && return 0
	mkdir -p /dev/net
	mknod -m 0666 /dev/net/tun c 10 200 || cw_fail "cannot create /dev/net/tun"
	cw_on_exit "rm -f /dev/net/tun"
}

# ---- CPU priority -----------------------------------------------------------

CG=''

# boost: move this script into a cpu cgroup with cpu.shares SHARES; all it
# starts from now on inherits it.
boost()
{
	local root=/sys/fs/cgroup/cpu

	((SHARES)) || { echo "priority: as started (--shares 0)"; return 0; }
	if [[ ! -w $root/cpu.shares ]]; then
		echo "priority: as started (no cgroup v1 cpu controller at $root)"
		SHARES=0
		return 0
	fi
	mkdir "$root/cwv-$$" || cw_fail "cannot create cgroup $root/cwv-$$"
	CG=$root/cwv-$$
	cw_on_exit unboost
	echo "$SHARES" >"$CG/cpu.shares"
	echo $$ >"$CG/cgroup.procs"
	echo "priority: cgroup $CG, cpu.shares $SHARES"
}

# unboost: leave the cgroup, stop what is still in it (all of it was started
# here, lib.sh would stop it a moment later anyway) and remove it.
unboost()
{
	local pid pids

	echo $$ >"${CG%/*}/cgroup.procs"
	pids=$(<"$CG/cgroup.procs")
	for pid in $pids; do
		cw_kill_pid "$pid" 5
	done
	rmdir "$CG" 2>/dev/null || cw_log "cannot remove cgroup $CG (still in it: $(xargs <"$CG/cgroup.procs"))"
}

# ---- measuring -------------------------------------------------------------

# cpu_ticks [--children] PID...: utime + stime of the PIDs (with --children
# also cutime + cstime: their waited-for children), in clock ticks.
cpu_ticks()
{
	local kids=0 pid stat total=0 f

	[[ $1 == --children ]] && { kids=1; shift; }
	for pid; do
		stat=$(<"/proc/$pid/stat") || return 1
		# after the command name, which may hold blanks: field 3 is f[0]
		read -r -a f <<<"${stat##*) }"
		total=$((total + f[11] + f[12]))
		((kids)) && total=$((total + f[13] + f[14]))
	done
	echo "$total"
}

# wait_snap PID...: "TID NS" for every thread of the PIDs: nanoseconds it
# has sat runnable, waiting for a CPU (schedstat), i.e. how much the rest
# of the machine got in the way.
wait_snap()
{
	local pid f

	for pid; do
		for f in "/proc/$pid/task/"*/schedstat; do
			f=${f%/schedstat}
			echo "${f##*/} $(cut -d' ' -f2 "$f/schedstat" 2>/dev/null)"
		done
	done
}

# wait_pct BEFORE AFTER SECONDS: the waiting of the threads in both
# snapshots (threads come and go) between them, in % of SECONDS.
wait_pct()
{
	awk -v secs="$3" 'NR == FNR { w0[$1] = $2; next }
		($1 in w0) && $2 != "" { s += $2 - w0[$1] }
		END { printf "%.1f", s / 1e9 / secs * 100 }' <(echo "$1") <(echo "$2")
}

# busy time of all CPUs so far (/proc/stat), in clock ticks
machine_ticks()
{
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# iperf_result JSON_FILE: "BYTES BITS_PER_S RETRANSMITS" of the receiver.
iperf_result()
{
	python3 - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if d.get("error"):
    sys.exit("iperf3: " + d["error"])
r, s = d["end"]["sum_received"], d["end"]["sum_sent"]
print(int(r["bytes"]), int(r["bits_per_second"]), int(s.get("retransmits", 0)))
EOF
}

# per "SYSTEM/DIR": the runs' figures, blank-separated
declare -A R_BPS R_CPU R_GLUE R_MACH R_RETR R_WAIT
# per "SYSTEM/DIR/PROCESS": CPU s/GB of each tunnel process
declare -A R_PROC
# per SYSTEM: tunnel PIDs, their names, socat's PID, iperf3's "HOST PORT",
# why it stopped being measured
declare -A TUNNEL_PIDS TUNNEL_NAMES GLUE_PID TARGET BROKEN
declare -A LOGS=([openvpn]="openvpn-server.log openvpn-client.log"
	[wireguard]="wg-gw.log wg-edge.log"
	[causeway]="causewayd.log agent.log socat.log")

# measure SYSTEM DIR RUN HOST PORT: one iperf3 run from namespace gw to
# HOST:PORT (DIR rev: -R), appending its figures to the R_* lists.
measure()
{
	local sys=$1 dir=$2 round=$3 host=$4 port=$5 json rev=() res bytes bps retr
	local g0=0 g1=0 m0 m1 w0 w1 t0 t1 wait glue=${GLUE_PID[$sys]:-} i sum=0 split=''
	local -a pids names c0 c1

	read -r -a pids <<<"${TUNNEL_PIDS[$sys]}"
	read -r -a names <<<"${TUNNEL_NAMES[$sys]}"
	all_alive "$sys" "${pids[@]}" ${glue:+"$glue"} || return 1
	json=$tmp/iperf-$sys-$dir-$round.json
	[[ $dir == rev ]] && rev=(-R)
	for i in "${!pids[@]}"; do c0[i]=$(cpu_ticks "${pids[i]}"); done
	[[ -n "$glue" ]] && g0=$(cpu_ticks --children "$glue")
	m0=$(machine_ticks)
	w0=$(wait_snap "${pids[@]}")
	t0=$EPOCHREALTIME
	in_gw iperf3 -c "$host" -p "$port" -t "$SECS" "${rev[@]}" --json \
		--connect-timeout 5000 >"$json" 2>"$json.err" || true
	if [[ -n "$glue" ]]; then
		# socat's children (one per connection) must be reaped to count
		for ((i = 0; i < 50; i++)); do
			[[ -z "$(cat "/proc/$glue/task/$glue/children" 2>/dev/null)" ]] && break
			sleep 0.05
		done
		g1=$(cpu_ticks --children "$glue")
	fi
	all_alive "$sys" "${pids[@]}" ${glue:+"$glue"} || return 1
	for i in "${!pids[@]}"; do c1[i]=$(cpu_ticks "${pids[i]}"); done
	t1=$EPOCHREALTIME
	w1=$(wait_snap "${pids[@]}")
	m1=$(machine_ticks)
	res=$(iperf_result "$json" 2>&1) || {
		cw_log "$sys $dir run $round: $res $(head -c 300 "$json.err")"
		return 1
	}
	read -r bytes bps retr <<<"$res"
	((bytes > 0)) || { cw_log "$sys $dir run $round: no bytes received"; return 1; }
	for i in "${!pids[@]}"; do
		sum=$((sum + c1[i] - c0[i]))
		R_PROC[$sys/$dir/${names[i]}]+="$(per_gb $((c1[i] - c0[i])) "$bytes") "
		split+="${split:+ + }${names[i]} $(per_gb $((c1[i] - c0[i])) "$bytes")"
	done
	wait=$(wait_pct "$w0" "$w1" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
	R_BPS[$sys/$dir]+="$bps "
	R_RETR[$sys/$dir]+="$retr "
	R_WAIT[$sys/$dir]+="$wait "
	R_CPU[$sys/$dir]+="$(per_gb "$sum" "$bytes") "
	R_MACH[$sys/$dir]+="$(per_gb $((m1 - m0)) "$bytes") "
	[[ -n "$glue" ]] && R_GLUE[$sys/$dir]+="$(per_gb $((g1 - g0)) "$bytes") "
	printf '  run %d %-9s %s %6.3f Gbit/s  CPU %6.2f s/GB (%s)%s  retr %d  wait %s%%\n' \
		"$round" "$sys" "$dir" "$(awk -v b="$bps" 'BEGIN { print b / 1e9 }')" \
		"$(per_gb "$sum" "$bytes")" "$split" \
		"${glue:+  socat $(per_gb $((g1 - g0)) "$bytes") s/GB}" "$retr" "$wait"
}

# all_alive SYSTEM PID...: true if every PID still runs; else say which
# ended and how, with the system's logs.
all_alive()
{
	local sys=$1 pid rc

	shift
	for pid; do
		cw_alive "$pid" && continue
		rc=0
		wait "$pid" 2>/dev/null || rc=$?
		cw_log "$sys: PID $pid ($(cat "$tmp/pid-$pid")) has exited with status $rc$( ((rc > 128)) && echo " (signal $((rc - 128)))"); log tails:"
		show_logs "$sys"
		return 1
	done
}

# per_gb TICKS BYTES: CPU seconds per 1e9 bytes
per_gb()
{
	awk -v t="$1" -v hz="$HZ" -v b="$2" 'BEGIN { printf "%.3f", t / hz / (b / 1e9) }'
}

# median of the numbers in $1 (blank-separated); empty if none
median()
{
	tr ' ' '\n' <<<"$1" | { grep . || true; } | sort -g |
		awk '{ v[NR] = $1 } END {
			if (!NR) exit
			x = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf (x == int(x)) ? "%.0f\n" : "%.3f\n", x
		}'
}

# ---- the namespaces ----------------------------------------------------------

setup_namespaces()
{
	cw_add_netns "$GW"
	cw_add_netns "$EDGE"
	ip -n "$GW" link add vgw type veth peer name vedge netns "$EDGE" ||
		cw_fail "cannot create the veth pair"
	ip -n "$GW" addr add "$GW_IP/24" dev vgw
	ip -n "$EDGE" addr add "$EDGE_IP/24" dev vedge
	ip -n "$GW" link set vgw up
	ip -n "$EDGE" link set vedge up
	wait_for 5 in_gw ping -c1 -W1 "$EDGE_IP" || cw_fail "no ping over the veth pair"
}

# ---- OpenVPN ---------------------------------------------------------------

make_pki()
{
	# $1: name, $2: subject, $3: extensions
	leaf()
	{
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
			-keyout "$tmp/$1.key" -out "$tmp/$1.csr" 2>/dev/null
		printf '%s\n' "$3" >"$tmp/$1.ext"
		openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" \
			-CAcreateserial -days 1 -extfile "$tmp/$1.ext" -out "$tmp/$1.crt" 2>/dev/null
	}
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=vpn-compare-ca -keyout "$tmp/ca.key" -out "$tmp/ca.crt" 2>/dev/null ||
		cw_fail "openssl: cannot make the CA"
	leaf ovpn-server /CN=ovpn-server \
		$'keyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth'
	leaf ovpn-client /CN=ovpn-client \
		$'keyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=clientAuth'
	leaf gateway /CN=gateway "subjectAltName=IP:$GW_IP"
	leaf agent "/CN=node:$NODE" "extendedKeyUsage=clientAuth"
	[[ -s $tmp/ovpn-client.crt && -s $tmp/agent.crt ]] || cw_fail "openssl: cannot make certificates"
}

start_openvpn()
{
	local common=(--dev ovpn0 --dev-type tun --proto udp --ca "$tmp/ca.crt"
		--data-ciphers AES-256-GCM --disable-dco --tun-mtu "$TUN_MTU"
		--keepalive 10 60 --verb 3
		--rcvbuf 4194304 --sndbuf 4194304 --fast-io)
	local srv cli

	spawn "$GW" "$tmp/openvpn-server.log" openvpn "${common[@]}" \
		--server "$OVPN_NET" 255.255.255.0 --topology subnet --local "$GW_IP" \
		--lport "$OVPN_PORT" --dh none --cert "$tmp/ovpn-server.crt" \
		--key "$tmp/ovpn-server.key" --remote-cert-tls client
	srv=$SPAWNED
	spawn "$EDGE" "$tmp/openvpn-client.log" openvpn "${common[@]}" \
		--client --remote "$GW_IP" "$OVPN_PORT" --nobind \
		--cert "$tmp/ovpn-client.crt" --key "$tmp/ovpn-client.key" --remote-cert-tls server
	cli=$SPAWNED
	wait_for 20 grep -q 'Initialization Sequence Completed' "$tmp/openvpn-client.log" ||
		{ show_logs openvpn; return 1; }
	# the address the server pushed must be the one we measure against
	wait_for 5 in_edge ip -4 addr show dev ovpn0 to "$OVPN_EDGE" ||
		{ in_edge ip addr show dev ovpn0 >&2; return 1; }
	grep -q "Data Channel: cipher 'AES-256-GCM'" "$tmp/openvpn-client.log" ||
		{ cw_log "openvpn: data channel is not AES-256-GCM:"; grep -i 'cipher' "$tmp/openvpn-client.log" >&2; return 1; }
	wait_for 5 in_gw ping -c1 -W1 "$OVPN_EDGE" || { cw_log "openvpn: no ping through the tunnel"; return 1; }
	TUNNEL_PIDS[openvpn]="$srv $cli"
	TUNNEL_NAMES[openvpn]="server client"
	TARGET[openvpn]="$OVPN_EDGE $IPERF_PORT"
}

# ---- wireguard-go ----------------------------------------------------------

start_wireguard()
{
	local a b

	(
		umask 077
		wg genkey >"$tmp/wg-gw.key"
		wg genkey >"$tmp/wg-edge.key"
	)
	spawn "$GW" "$tmp/wg-gw.log" env WG_PROCESS_FOREGROUND=1 wireguard-go "$WG_IF_GW"
	a=$SPAWNED
	spawn "$EDGE" "$tmp/wg-edge.log" env WG_PROCESS_FOREGROUND=1 wireguard-go "$WG_IF_EDGE"
	b=$SPAWNED
	cw_on_exit "rm -f /run/wireguard/$WG_IF_GW.sock /run/wireguard/$WG_IF_EDGE.sock"
	wait_for 10 test -S "/run/wireguard/$WG_IF_GW.sock" -a -S "/run/wireguard/$WG_IF_EDGE.sock" ||
		{ show_logs wireguard; return 1; }
	in_gw wg set "$WG_IF_GW" listen-port "$WG_PORT" private-key "$tmp/wg-gw.key" \
		peer "$(wg pubkey <"$tmp/wg-edge.key")" allowed-ips "$WG_EDGE/32" || return 1
	in_edge wg set "$WG_IF_EDGE" private-key "$tmp/wg-edge.key" \
		peer "$(wg pubkey <"$tmp/wg-gw.key")" allowed-ips "$WG_GW/32" \
		endpoint "$GW_IP:$WG_PORT" || return 1
	in_gw ip addr add "$WG_GW/24" dev "$WG_IF_GW"
	in_edge ip addr add "$WG_EDGE/24" dev "$WG_IF_EDGE"
	in_gw ip link set "$WG_IF_GW" mtu "$TUN_MTU" up
	in_edge ip link set "$WG_IF_EDGE" mtu "$TUN_MTU" up
	# the edge side knows the endpoint: its packet starts the handshake
	wait_for 5 in_edge ping -c1 -W1 "$WG_GW" || { cw_log "wireguard: no ping through the tunnel"; return 1; }
	TUNNEL_PIDS[wireguard]="$a $b"
	TUNNEL_NAMES[wireguard]="gw edge"
	TARGET[wireguard]="$WG_EDGE $IPERF_PORT"
}

# ---- Causeway --------------------------------------------------------------

build_causeway()
{
	local log=$tmp/build.log

	if [[ ! -f $BUILD/build.ninja ]]; then
		meson setup "$BUILD" "$ROOT" --buildtype=release >"$log" 2>&1 ||
			{ tail -n 20 "$log" >&2; return 1; }
	fi
	ninja -C "$BUILD" -j2 causewayd causeway-agent causewayctl >>"$log" 2>&1 ||
		{ grep -E -A3 'error|FAILED' "$log" | head -n 30 >&2; return 1; }
}

node_listed()
{
	in_gw "$BUILD/causewayctl" status --admin "127.0.0.1:$ADMIN_PORT" 2>/dev/null | grep -q "^$NODE "
}

start_causeway()
{
	local daemon agent

	build_causeway || { cw_log "causeway: build in $BUILD failed"; return 1; }
	cat >"$tmp/causeway.conf" <<EOF
[eal]
lcores = 0-1
memory = 128
hugepages = no
file_prefix = cwv-$$
[dataplane]
backend = socket
socket_address = $GW_IP
stats_interval = 0
[tunnel]
port = $CW_TUN_PORT
cert = $tmp/gateway.crt
key = $tmp/gateway.key
ca = $tmp/ca.crt
[ingress]
listen = 127.0.0.1:$INGRESS_PORT
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[log]
level = info
EOF
	cat >"$tmp/agent.conf" <<EOF
[agent]
node_name = $NODE
cache_dir = $tmp/cache
[gateway]
address = $GW_IP:$CW_TUN_PORT
ca_file = $tmp/ca.crt
[tls]
cert_file = $tmp/agent.crt
key_file = $tmp/agent.key
ticket_file =
[dial]
allow = 127.0.0.1:$IPERF_PORT
[log]
level = info
EOF
	# not cw_start_daemon, which ends the script if the daemon fails: the
	# other systems' figures are still worth having. lib.sh's EXIT trap
	# removes the EAL runtime directory of this prefix.
	# shellcheck disable=SC2034 # for lib.sh
	CW_FILE_PREFIX=cwv-$$
	spawn "$GW" "$tmp/causewayd.log" "$BUILD/causewayd" -c "$tmp/causeway.conf"
	daemon=$SPAWNED
	wait_for 30 grep -qF 'causewayd: ready' "$tmp/causewayd.log" || {
		cw_log "causeway: causewayd not ready (alive: $(cw_alive "$daemon" && echo yes || echo no))"
		show_logs causeway
		return 1
	}
	spawn "$EDGE" "$tmp/agent.log" "$BUILD/causeway-agent" -c "$tmp/agent.conf"
	agent=$SPAWNED
	wait_for 15 node_listed || {
		cw_log "causeway: $NODE not listed by causewayctl status after 15 s"
		show_logs causeway
		return 1
	}
	spawn "$GW" "$tmp/socat.log" socat "TCP-LISTEN:$SOCAT_PORT,bind=127.0.0.1,reuseaddr,fork" \
		"PROXY:127.0.0.1:$NODE:$IPERF_PORT,proxyport=$INGRESS_PORT"
	GLUE_PID[causeway]=$SPAWNED
	wait_for 5 listening "$GW" "$SOCAT_PORT" || { cw_log "causeway: socat does not listen"; return 1; }
	TUNNEL_PIDS[causeway]="$daemon $agent"
	TUNNEL_NAMES[causeway]="causewayd agent"
	TARGET[causeway]="127.0.0.1 $SOCAT_PORT"
}

# ---- main ------------------------------------------------------------------

tmp=$(mktemp -d /tmp/cw-vpn.XXXXXX)
chmod 755 "$tmp"
if ((KEEP)); then
	cw_on_exit "echo 'logs, configurations, iperf3 JSON: $tmp' >&2"
else
	cw_on_exit "rm -rf '$tmp'"
fi

# "MODEL NAME (family F, model M)" of the first CPU
CPU_MODEL=$(awk -F'\t*: ' '$1 == "model name" { n = $2 } $1 == "cpu family" { f = $2 }
	$1 == "model" { m = $2 } /^$/ { exit } END { printf "%s (family %s, model %s)", n, f, m }' /proc/cpuinfo)
NCPU=$(grep -c '^processor' /proc/cpuinfo)
cw_section "vpn-compare: $COMMAND"
echo "machine: $CPU_MODEL, $NCPU CPUs; kernel $(uname -r); $(date -u)"
SOURCE="commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(
	git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
echo "source: $SOURCE"

install_tools
ensure_tun
boost
setup_namespaces
make_pki
spawn "$EDGE" "$tmp/iperf3-server.log" iperf3 -s -p "$IPERF_PORT"
wait_for 5 listening "$EDGE" "$IPERF_PORT" || cw_fail "iperf3 -s does not listen"

ACTIVE=()
for sys in "${SYSTEMS[@]}"; do
	cw_section "starting $sys"
	if "start_$sys"; then
		ACTIVE+=("$sys")
	else
		BROKEN[$sys]="did not start (see the log above)"
		cw_log "$sys: did not start; going on without it"
	fi
done
((${#ACTIVE[@]})) || cw_fail "nothing to measure"
echo "versions: $(openvpn --version | head -n 1 | cut -d' ' -f1-2), wireguard-go $(wireguard-go --version 2>&1 | awk '{print $NF; exit}'), $(iperf3 --version | head -n 1 | cut -d' ' -f1-2)"

for ((round = 1; round <= RUNS; round++)); do
	cw_section "run $round of $RUNS (${SECS} s each; load average $(cut -d' ' -f1-3 /proc/loadavg))"
	for sys in "${ACTIVE[@]}"; do
		[[ -n "${BROKEN[$sys]:-}" ]] && continue
		read -r host port <<<"${TARGET[$sys]}"
		for dir in fwd rev; do
			[[ -n "${BROKEN[$sys]:-}" ]] && continue
			measure "$sys" "$dir" "$round" "$host" "$port" ||
				BROKEN[$sys]="run $round $dir failed"
		done
	done
done

cw_section "results"
echo "medians of $RUNS runs, ${SECS} s each, one TCP stream; fwd = gw -> edge, rev = edge -> gw (-R)"
echo "CPU s/GB: CPU seconds of the tunnel processes per 1e9 bytes received; machine: all CPUs;"
echo "retr: TCP retransmits of the iperf3 sender (causeway: on the loopback leg to socat);"
echo "wait%: time the tunnel processes' threads sat runnable without a CPU, % of the run;"
echo "by process: median CPU s/GB of each tunnel process"
printf '%-10s %-4s %8s %9s %10s %12s %7s %6s  %s\n' system dir "Gbit/s" "CPU s/GB" "socat s/GB" \
	"machine s/GB" retr "wait%" "by process"
json_sys=()
for sys in "${SYSTEMS[@]}"; do
	json_dirs=()
	for dir in fwd rev; do
		k=$sys/$dir
		bps=$(median "${R_BPS[$k]:-}")
		if [[ -z "$bps" ]]; then
			printf '%-10s %-4s %12s\n' "$sys" "$dir" "failed"
			continue
		fi
		cpu=$(median "${R_CPU[$k]}")
		glue=$(median "${R_GLUE[$k]:-}")
		mach=$(median "${R_MACH[$k]}")
		retr=$(median "${R_RETR[$k]}")
		wait=$(median "${R_WAIT[$k]}")
		split='' json_split=''
		for name in ${TUNNEL_NAMES[$sys]}; do
			v=$(median "${R_PROC[$k/$name]}")
			split+="${split:+, }$name $v"
			json_split+="${json_split:+,}\"$name\":$v"
		done
		printf '%-10s %-4s %8.3f %9.2f %10s %12.2f %7.0f %6.1f  %s\n' "$sys" "$dir" \
			"$(awk -v b="$bps" 'BEGIN { print b / 1e9 }')" "$cpu" "${glue:--}" "$mach" "$retr" \
			"$wait" "$split"
		json_dirs+=("\"$dir\":{\"bps\":$bps,\"cpu_s_per_gb\":$cpu,\"cpu_s_per_gb_by_process\":{$json_split},\"machine_cpu_s_per_gb\":$mach${glue:+,\"socat_cpu_s_per_gb\":$glue},\"wait_pct\":$wait,\"runs_bps\":[$(echo "${R_BPS[$k]}" | xargs | tr ' ' ',')]}")
	done
	[[ -n "${BROKEN[$sys]:-}" ]] && json_dirs+=("\"error\":\"${BROKEN[$sys]}\"")
	json_sys+=("\"$sys\":{$(IFS=,; echo "${json_dirs[*]}")}")
done

# the issue's goal, per direction, from the medians
goal=''
for dir in fwd rev; do
	c=$(median "${R_BPS[causeway/$dir]:-}")
	o=$(median "${R_BPS[openvpn/$dir]:-}")
	[[ -n "$c" && -n "$o" ]] || continue
	ratio=$(awk -v c="$c" -v o="$o" 'BEGIN { printf "%.2f", c / o }')
	met=$(awk -v r="$ratio" 'BEGIN { print (r >= 2) ? "true" : "false" }')
	echo "goal $dir: causeway / openvpn goodput = $ratio (>= 2: $met)"
	goal+="${goal:+,}\"$dir\":{\"ratio\":$ratio,\"met\":$met}"
done
if [[ -n "${BROKEN[*]}" ]]; then
	for sys in "${!BROKEN[@]}"; do
		echo "$sys: ${BROKEN[$sys]}"
	done
fi
printf '{"command":"%s","source":"%s","machine":"%s, %d CPUs","runs":%d,"time_s":%d,"results":{%s},"goal_causeway_2x_openvpn":{%s}}\n' \
	"$COMMAND" "$SOURCE" "$CPU_MODEL" "$NCPU" "$RUNS" "$SECS" "$(IFS=,; echo "${json_sys[*]}")" "$goal"
# a system that could not be measured fails the run
if [[ -n "${BROKEN[*]}" ]]; then
	exit 1
fi
