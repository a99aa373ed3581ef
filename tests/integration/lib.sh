# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034 # variables here are for the tests
#
# Library for causewayd integration tests. Source it from a bash script that
# runs as root with `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#   cw_setup_netns echo            # veth pair + namespace, see below
#   CW_FILE_PREFIX=cwt-echo-$$      # the daemon's EAL --file-prefix
#   cw_start_daemon "$BIN" "$conf" "$log"
#   cw_ns ping -c1 "$CW_DUT_IP"
#   cw_check_eq "echo requests" 1 "$(cw_stat icmp_echo)"
#   cw_stop_daemon
#
# An EXIT trap undoes everything the library did, on success or failure:
# it runs cw_on_exit hooks, stops the daemon and any process registered
# with cw_track_pid, deletes the veth pairs and namespaces, and restores
# hugepage settings.
#
# Functions that record state (cw_setup_netns, cw_start_daemon,
# cw_stop_daemon, cw_track_pid, cw_reserve_huge) must run in the test's own
# shell, not in a $(...) subshell or a pipeline. cw_fail exits the shell it
# runs in, so inside $(...) it only ends that subshell; test the result.

# Results of the last cw_setup_netns.
CW_NS=''
CW_IF_HOST=''
CW_IF_NS=''
CW_NS_IP=''
CW_DUT_IP=''
CW_SUBNET_PREFIX=''
CW_PREFIX_LEN=24
CW_MAC_HOST=''
CW_MAC_NS=''

# Set by the test: the daemon's EAL file prefix, used by cw_stat.
CW_FILE_PREFIX=${CW_FILE_PREFIX:-}
# Tool overrides.
CW_TELEMETRY=${CW_TELEMETRY:-dpdk-telemetry.py}
# 1: cw_check_eq counts a mismatch and goes on (see cw_summary); else exit.
CW_KEEP_GOING=${CW_KEEP_GOING:-0}

CW_PASSED=0
CW_FAILED=0
CW_DAEMON_PID=''
CW_DAEMON_LOG=''
cw__namespaces=()
cw__links=()
cw__pids=()
cw__hooks=()
cw__huge_saved=''
cw__huge_set=''
cw__huge_mounted=''
cw__huge_mkdir=''
cw__setups=0
cw__huge_sysfs=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages

cw_log()
{
	printf '%s\n' "$*" >&2
}

cw_fail()
{
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# cw_pass MSG / cw_failed MSG: count a check result (non-fatal).
cw_pass()
{
	CW_PASSED=$((CW_PASSED + 1))
	printf 'ok: %s\n' "$*"
}

cw_failed()
{
	CW_FAILED=$((CW_FAILED + 1))
	printf 'FAIL: %s\n' "$*" >&2
}

# cw_check_eq WHAT EXPECTED ACTUAL: pass, or fail (exit unless CW_KEEP_GOING=1).
cw_check_eq()
{
	local what=$1 expected=$2 actual=$3

	if [[ "$expected" == "$actual" ]]; then
		cw_pass "$what = $actual"
		return 0
	fi
	if [[ "$CW_KEEP_GOING" == 1 ]]; then
		cw_failed "$what: expected '$expected', got '$actual'"
		return 1
	fi
	cw_fail "$what: expected '$expected', got '$actual'"
}

# Print "N passed, N failed"; return 1 if anything failed.
cw_summary()
{
	printf '%d passed, %d failed\n' "$CW_PASSED" "$CW_FAILED"
	[[ "$CW_FAILED" -eq 0 ]]
}

# cw_ns CMD...: run CMD in the namespace of the last cw_setup_netns.
cw_ns()
{
	[[ -n "$CW_NS" ]] || cw_fail "cw_ns: no namespace (call cw_setup_netns first)"
	ip netns exec "$CW_NS" "$@"
}

# True if PID is a live process (a zombie waiting to be reaped is not).
cw_alive()
{
	local pid=$1 stat

	[[ -n "$pid" ]] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ "${stat:0:1}" != Z ]]
}

# cw_track_pid PID: kill PID (SIGTERM, then SIGKILL) when the test exits.
cw_track_pid()
{
	cw__pids+=("$1")
}

# cw_on_exit CMD: eval CMD first thing in the EXIT trap (the library owns
# the EXIT trap; do not replace it).
cw_on_exit()
{
	cw__hooks+=("$1")
}

# cw_kill_pid PID [GRACE_S]: SIGTERM, SIGKILL after GRACE_S (10) s, reap.
cw_kill_pid()
{
	local pid=$1 grace=${2:-10} i

	cw_alive "$pid" || {
		wait "$pid" 2>/dev/null || true
		return 0
	}
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		cw_alive "$pid" || break
		sleep 0.1
	done
	if cw_alive "$pid"; then
		cw_log "lib: PID $pid ignored SIGTERM for ${grace}s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# Pick X for 198.18.X.0/24: not used by any address visible on the host.
cw__pick_subnet()
{
	local x used

	used=$(ip -4 -o addr show 2>/dev/null | awk '{print $4}')
	for ((x = $$ % 200 + 20 + cw__setups; ; x++)); do
		((x > 250)) && x=20
		grep -q "^198\.18\.$x\." <<<"$used" || break
	done
	echo "$x"
}

cw__disable_ipv6()
{
	local ns=$1 ifname=$2 run=()

	[[ -d /proc/sys/net/ipv6 ]] || return 0
	[[ -n "$ns" ]] && run=(ip netns exec "$ns")
	"${run[@]}" sysctl -qw "net.ipv6.conf.$ifname.disable_ipv6=1" >/dev/null
}

# cw_setup_netns NAME [X]: create namespace cwt-NAME-PID and a veth pair,
# host side cw<short>h (no address), namespace side cw<short>n with
# 198.18.X.2/24. X (1..254) defaults to a free number derived from the PID.
# Sets CW_NS CW_IF_HOST CW_IF_NS CW_NS_IP CW_DUT_IP (198.18.X.1, for the
# daemon) CW_SUBNET_PREFIX (198.18.X) CW_PREFIX_LEN CW_MAC_HOST CW_MAC_NS.
cw_setup_netns()
{
	local name=${1:?cw_setup_netns NAME [X]} x=${2:-} short

	[[ $EUID -eq 0 ]] || cw_fail "cw_setup_netns: must run as root"
	[[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || cw_fail "cw_setup_netns: bad NAME '$name'"
	[[ -z "$x" ]] && x=$(cw__pick_subnet)
	if ! [[ "$x" =~ ^[0-9]+$ ]] || ((x < 1 || x > 254)); then
		cw_fail "cw_setup_netns: bad X '$x'"
	fi
	cw__setups=$((cw__setups + 1))
	# cw + 3 name chars + PID in hex (<= 7) + setup index + h/n: <= 15
	short=$(printf '%s%x%d' "${name:0:3}" $$ $((cw__setups % 10)))
	CW_NS="cwt-$name-$$"
	((cw__setups > 1)) && CW_NS+="-$cw__setups"
	CW_IF_HOST="cw${short}h"
	CW_IF_NS="cw${short}n"
	CW_SUBNET_PREFIX="198.18.$x"
	CW_NS_IP="$CW_SUBNET_PREFIX.2"
	CW_DUT_IP="$CW_SUBNET_PREFIX.1"
	CW_PREFIX_LEN=24
	ip link show "$CW_IF_HOST" >/dev/null 2>&1 && cw_fail "interface $CW_IF_HOST already exists"

	ip netns add "$CW_NS" || cw_fail "cannot create namespace $CW_NS"
	cw__namespaces+=("$CW_NS")
	ip link add "$CW_IF_HOST" type veth peer name "$CW_IF_NS" netns "$CW_NS" ||
		cw_fail "cannot create veth $CW_IF_HOST/$CW_IF_NS"
	cw__links+=("$CW_IF_HOST")
	# before link up, so not a single router solicitation or MLD report leaves
	cw__disable_ipv6 "" "$CW_IF_HOST"
	cw__disable_ipv6 "$CW_NS" all
	cw__disable_ipv6 "$CW_NS" default
	cw__disable_ipv6 "$CW_NS" "$CW_IF_NS"
	ip addr flush dev "$CW_IF_HOST"
	cw_ns ip addr add "$CW_NS_IP/$CW_PREFIX_LEN" dev "$CW_IF_NS"
	cw_ns ip link set lo up
	cw_ns ip link set "$CW_IF_NS" up
	ip link set "$CW_IF_HOST" up
	CW_MAC_HOST=$(cat "/sys/class/net/$CW_IF_HOST/address")
	CW_MAC_NS=$(cw_ns cat "/sys/class/net/$CW_IF_NS/address")
	cw_log "lib: namespace $CW_NS: $CW_IF_NS $CW_NS_IP/$CW_PREFIX_LEN <-> host $CW_IF_HOST (DUT $CW_DUT_IP)"
}

# cw_start_daemon BIN CONF LOG: start BIN -c CONF in the background, output
# to LOG; return once LOG has "causewayd: ready" (fail after 30 s or if the
# daemon dies first). Sets CW_DAEMON_PID.
cw_start_daemon()
{
	local bin=${1:?cw_start_daemon BIN CONF LOG} conf=${2:?} log=${3:?} i rc=0

	[[ -z "$CW_DAEMON_PID" ]] || cw_fail "cw_start_daemon: daemon $CW_DAEMON_PID already running"
	[[ -x "$bin" ]] || cw_fail "cw_start_daemon: $bin is not executable"
	CW_DAEMON_LOG=$log
	"$bin" -c "$conf" >"$log" 2>&1 &
	CW_DAEMON_PID=$!
	for ((i = 0; i < 300; i++)); do
		if grep -qF 'causewayd: ready' "$log"; then
			cw_log "lib: causewayd ready (PID $CW_DAEMON_PID)"
			return 0
		fi
		if ! cw_alive "$CW_DAEMON_PID"; then
			wait "$CW_DAEMON_PID" || rc=$?
			CW_DAEMON_PID=''
			cw_fail "causewayd exited with status $rc before ready; log tail:
$(tail -n 30 "$log")"
		fi
		sleep 0.1
	done
	cw_fail "causewayd not ready after 30 s; log tail:
$(tail -n 30 "$log")"
}

# cw_stop_daemon: SIGTERM the daemon, wait up to 20 s, require exit status 0.
cw_stop_daemon()
{
	local pid=$CW_DAEMON_PID i rc=0

	[[ -n "$pid" ]] || cw_fail "cw_stop_daemon: no daemon running"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		cw_alive "$pid" || break
		sleep 0.1
	done
	if cw_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		CW_DAEMON_PID=''
		cw_fail "causewayd did not exit within 20 s of SIGTERM (killed); log tail:
$(tail -n 30 "$CW_DAEMON_LOG")"
	fi
	wait "$pid" || rc=$?
	CW_DAEMON_PID=''
	[[ $rc -eq 0 ]] || cw_fail "causewayd exited with status $rc after SIGTERM; log tail:
$(tail -n 30 "$CW_DAEMON_LOG")"
	cw_log "lib: causewayd stopped cleanly"
}

# cw_stat NAME: print the total counter NAME from the daemon's telemetry
# (/causeway/stats, EAL file prefix CW_FILE_PREFIX). Non-zero on any error.
# dpdk-telemetry.py reads commands from stdin when it is not a terminal and
# prints each reply as one line of JSON (an "Error connecting" line and
# status 0 when the socket is missing).
cw_stat()
{
	local name=${1:?cw_stat NAME} out

	[[ -n "$CW_FILE_PREFIX" ]] || {
		cw_log "cw_stat: CW_FILE_PREFIX is not set"
		return 1
	}
	out=$(printf '/causeway/stats\n' | TERM=dumb "$CW_TELEMETRY" -f "$CW_FILE_PREFIX" 2>&1) || {
		cw_log "cw_stat: $CW_TELEMETRY failed: $out"
		return 1
	}
	python3 -c '
import json, sys
name, out = sys.argv[1], sys.argv[2]
for line in out.splitlines():
    line = line.strip()
    if not line.startswith("{"):
        continue
    try:
        reply = json.loads(line)
    except ValueError:
        continue
    stats = reply.get("/causeway/stats") if isinstance(reply, dict) else None
    if stats is None:
        continue
    total = stats.get("total") if isinstance(stats, dict) else None
    if not isinstance(total, dict):
        sys.exit("cw_stat: no \"total\" object in /causeway/stats: " + line)
    if name not in total:
        sys.exit("cw_stat: no counter %r; have: %s" % (name, " ".join(sorted(total))))
    print(total[name])
    sys.exit(0)
sys.exit("cw_stat: no /causeway/stats reply from telemetry: " + out)
' "$name" "$out"
}

# cw_huge_available: true if default-size hugepages are reserved and a
# hugetlbfs is mounted.
cw_huge_available()
{
	local nr

	nr=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null) || return 1
	[[ "$nr" -gt 0 ]] || return 1
	awk '$3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts
}

# cw_reserve_huge N: make sure at least N 2 MiB hugepages are reserved and a
# hugetlbfs is mounted (at /dev/hugepages if none is). The EXIT trap puts
# the old page count back (unless someone changed it meanwhile) and
# unmounts what was mounted here.
cw_reserve_huge()
{
	local n=${1:?cw_reserve_huge N} cur

	[[ "$n" =~ ^[0-9]+$ ]] || cw_fail "cw_reserve_huge: bad count '$n'"
	[[ -w "$cw__huge_sysfs" ]] || cw_fail "cw_reserve_huge: no 2 MiB hugepage support"
	cur=$(cat "$cw__huge_sysfs")
	if ((cur < n)); then
		[[ -n "$cw__huge_saved" ]] || cw__huge_saved=$cur
		echo "$n" >"$cw__huge_sysfs" || cw_fail "cw_reserve_huge: cannot set $n pages"
		cur=$(cat "$cw__huge_sysfs")
		cw__huge_set=$cur
		((cur >= n)) || cw_fail "cw_reserve_huge: asked for $n 2 MiB pages, kernel gave $cur"
	fi
	if ! awk '$3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts; then
		if [[ ! -d /dev/hugepages ]]; then
			mkdir /dev/hugepages
			cw__huge_mkdir=/dev/hugepages
		fi
		mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages ||
			cw_fail "cw_reserve_huge: cannot mount hugetlbfs at /dev/hugepages"
		cw__huge_mounted=/dev/hugepages
	fi
	cw_log "lib: $cur 2 MiB hugepages reserved"
}

cw__restore_huge()
{
	if [[ -n "$cw__huge_mounted" ]]; then
		umount "$cw__huge_mounted" || cw_log "lib: cannot unmount $cw__huge_mounted"
	fi
	if [[ -n "$cw__huge_mkdir" ]]; then
		rmdir "$cw__huge_mkdir" 2>/dev/null
	fi
	if [[ -n "$cw__huge_saved" ]]; then
		# only if nobody else changed the count since we set it
		if [[ "$(cat "$cw__huge_sysfs")" == "$cw__huge_set" ]]; then
			echo "$cw__huge_saved" >"$cw__huge_sysfs" ||
				cw_log "lib: cannot restore nr_hugepages to $cw__huge_saved"
		fi
	fi
}

cw__cleanup()
{
	local rc=$? i

	set +e
	trap - EXIT INT TERM HUP
	for ((i = ${#cw__hooks[@]} - 1; i >= 0; i--)); do
		eval "${cw__hooks[i]}"
	done
	if [[ -n "$CW_DAEMON_PID" ]]; then
		cw_log "lib: stopping causewayd (PID $CW_DAEMON_PID)"
		cw_kill_pid "$CW_DAEMON_PID" 10
		CW_DAEMON_PID=''
	fi
	for ((i = ${#cw__pids[@]} - 1; i >= 0; i--)); do
		cw_kill_pid "${cw__pids[i]}" 10
	done
	for i in "${cw__links[@]}"; do
		ip link del "$i" 2>/dev/null
	done
	for i in "${cw__namespaces[@]}"; do
		ip netns del "$i" 2>/dev/null || cw_log "lib: cannot delete namespace $i"
	done
	cw__restore_huge
	exit "$rc"
}

trap cw__cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
