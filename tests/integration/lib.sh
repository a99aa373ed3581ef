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
# with cw_track_pid (or cw_ns_spawn), removes the daemon's DPDK runtime
# directory /var/run/dpdk/$CW_FILE_PREFIX once the daemon is gone, stops
# whatever still runs in the namespaces it created, removes its cgroups,
# deletes the veth pairs and namespaces, and restores hugepage settings.
#
# Functions that record state (cw_setup_netns, cw_add_netns, cw_ns_spawn,
# cw_start_daemon, cw_stop_daemon, cw_track_pid, cw_reserve_huge,
# cw_huge_cgroup) must run
# in the test's own shell, not in a $(...) subshell or a pipeline. cw_fail
# exits the shell it runs in, so inside $(...) it only ends that subshell;
# test the result.
#
# Checks: cw_check_eq, cw_check_ge, cw_check (a command's status) print
# "ok: ..." or "FAIL: ..." and count; cw_summary prints the totals. With
# CW_KEEP_GOING=1 a failed cw_check_eq returns 1 instead of exiting, so
# under set -e write "cw_check_eq ... || true"; cw_check_ge and cw_check
# never stop the test.

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

# Set by the test: the daemon's EAL file prefix, used by cw_stat; its
# runtime directory is removed on exit.
CW_FILE_PREFIX=${CW_FILE_PREFIX:-}
# Set by the test: run the daemon inside this network namespace.
CW_DAEMON_NETNS=${CW_DAEMON_NETNS:-}
# Set by cw_huge_cgroup: the cgroup (v2 directory) to start the daemon in.
CW_DAEMON_CGROUP=''
# 1: cw_check_eq counts a mismatch and goes on (see cw_summary); else exit.
CW_KEEP_GOING=${CW_KEEP_GOING:-0}

CW_PASSED=0
CW_FAILED=0
CW_DAEMON_PID=''
CW_DAEMON_LOG=''
CW_DAEMON_RC=''
CW_SPAWN_PID=''
# where DPDK keeps a root process's runtime directory (--file-prefix)
CW_DPDK_RUNDIR=${CW_DPDK_RUNDIR:-/var/run/dpdk}
cw__namespaces=()
cw__links=()
cw__pids=()
cw__hooks=()
cw__cgroups=()
cw__cg_enabled=''
cw__huge_saved=''
cw__huge_set=''
cw__huge_mounted=''
cw__huge_mkdir=''
cw__setups=0
cw__huge_sysfs=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages

# cw_section TITLE: print "== TITLE [+S.Ss]", seconds since lib.sh was loaded.
cw_section()
{
	printf '== %s [+%ss]\n' "$*" "$(cw__elapsed)"
}

cw__t0=${EPOCHREALTIME:-0}
cw__elapsed()
{
	awk -v a="$cw__t0" -v b="${EPOCHREALTIME:-0}" 'BEGIN { printf "%.1f", b - a }'
}

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

# cw_check WHAT CMD...: a check that passes when CMD succeeds (non-fatal).
cw_check()
{
	local what=$1

	shift
	if "$@"; then
		cw_pass "$what"
	else
		cw_failed "$what"
	fi
}

# cw_check_ge WHAT MIN ACTUAL: pass if ACTUAL is a number >= MIN (non-fatal).
cw_check_ge()
{
	if [[ "$3" =~ ^[0-9]+$ ]] && (($3 >= $2)); then
		cw_pass "$1 = $3 (>= $2)"
	else
		cw_failed "$1: expected >= $2, got '$3'"
	fi
}

# cw_snapshot ARRAY: every total counter (cw_stats) into the associative
# array named ARRAY (declare -A it first). Non-zero if telemetry fails.
cw_snapshot()
{
	local -n cw__snap=$1
	local out k v

	cw__snap=()
	out=$(cw_stats) || return 1
	while read -r k v; do
		# shellcheck disable=SC2004 # an associative array needs the $
		cw__snap[$k]=$v
	done <<<"$out"
}

# cw_nonzero_drops ARRAY: "drop_x=N ..." for the drop_* counters of a
# cw_snapshot ARRAY that are not zero; empty if none.
cw_nonzero_drops()
{
	local -n cw__drops=$1
	local k out=''

	for k in "${!cw__drops[@]}"; do
		[[ $k == drop_* && ${cw__drops[$k]} != 0 ]] && out+=" $k=${cw__drops[$k]}"
	done
	echo "${out# }"
}

# Print "N passed, N failed"; return 1 if anything failed.
cw_summary()
{
	cw_log "lib: done in $(cw__elapsed) s"
	printf '%d passed, %d failed\n' "$CW_PASSED" "$CW_FAILED"
	[[ "$CW_FAILED" -eq 0 ]]
}

# cw_ns CMD...: run CMD in the namespace of the last cw_setup_netns.
cw_ns()
{
	[[ -n "$CW_NS" ]] || cw_fail "cw_ns: no namespace (call cw_setup_netns first)"
	ip netns exec "$CW_NS" "$@"
}

# cw_ns_spawn CMD...: start CMD in the background in the namespace of the
# last cw_setup_netns, kill it on exit; sets CW_SPAWN_PID to CMD's own PID
# (not "cw_ns CMD &", whose $! is a subshell that CMD would outlive).
cw_ns_spawn()
{
	[[ -n "$CW_NS" ]] || cw_fail "cw_ns_spawn: no namespace (call cw_setup_netns first)"
	# ip netns exec execs CMD, so $! is CMD itself
	ip netns exec "$CW_NS" "$@" &
	CW_SPAWN_PID=$!
	cw_track_pid "$CW_SPAWN_PID"
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
# Checksum offload, scatter-gather, TSO and GSO are off on the namespace
# side, so what it sends reaches the host side as complete, final frames.
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
	# Without this the namespace kernel hands the veth peer frames with
	# CHECKSUM_PARTIAL (UDP checksum not filled in) and GSO super-frames,
	# which AF_PACKET and AF_XDP receivers see as they are.
	command -v ethtool >/dev/null || cw_fail "cw_setup_netns: ethtool not found (run scripts/deps.sh)"
	cw_ns ethtool -K "$CW_IF_NS" tx off sg off tso off gso off >/dev/null 2>&1 ||
		cw_fail "cw_setup_netns: cannot turn offloads off on $CW_IF_NS"
	CW_MAC_HOST=$(cat "/sys/class/net/$CW_IF_HOST/address")
	CW_MAC_NS=$(cw_ns cat "/sys/class/net/$CW_IF_NS/address")
	cw_log "lib: namespace $CW_NS: $CW_IF_NS $CW_NS_IP/$CW_PREFIX_LEN <-> host $CW_IF_HOST (DUT $CW_DUT_IP)"
}

# cw_add_netns NAME: create namespace NAME (deleted on exit, with whatever
# interfaces were moved into it) and bring its loopback up.
cw_add_netns()
{
	local name=${1:?cw_add_netns NAME}

	[[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || cw_fail "cw_add_netns: bad NAME '$name'"
	ip netns add "$name" || cw_fail "cannot create namespace $name"
	cw__namespaces+=("$name")
	ip netns exec "$name" ip link set lo up
}

# cw_start_daemon BIN CONF LOG: start BIN -c CONF in the background (inside
# namespace CW_DAEMON_NETNS when set), output to LOG; return once LOG has
# "causewayd: ready" (fail after 30 s or if the daemon dies first). Sets
# CW_DAEMON_PID.
# cw_loopback_conf NAME: the head of a causewayd file for loopback tests:
# one socket worker on 127.0.0.1, and [tunnel] on $TUN_PORT with the
# certificates of scripts/pki.sh in $tmp, no retry. [tunnel] is left open
# for the caller's keys; the other sections follow.
cw_loopback_conf()
{
	cat <<EOF
[eal]
lcores = 0-1
memory = 128
hugepages = no
file_prefix = cwt-$1-$$
[dataplane]
backend = socket
socket_address = 127.0.0.1
stats_interval = 0
mbuf_pool_size = 4095
[tunnel]
port = ${TUN_PORT:?}
cert = $tmp/gateway.crt
key = $tmp/gateway.key
ca = $tmp/ca.crt
retry = never
EOF
}

# cw_free_ports N: the first of N consecutive ports, picked from the PID,
# on which nothing listens (other tests may run causewayd meanwhile).
cw_free_ports()
{
	local n=${1:?cw_free_ports N} base=$((20000 + $$ % 20000))

	while [[ -n "$(ss -Hltnu "sport >= :$base and sport <= :$((base + n - 1))")" ]]; do
		base=$((20000 + (base + 7) % 20000))
	done
	echo "$base"
}

# cw_tmpdir NAME: a fresh directory in $tmp, removed on exit (kept when
# CW_KEEP_TMP is set, to look into after a failure); on failure
# the tail of every *.log in it is printed first.
cw_tmpdir()
{
	tmp=$(mktemp -d "/tmp/cw-${1:?cw_tmpdir NAME}.XXXXXX")
	[[ -n "${CW_KEEP_TMP:-}" ]] || cw_on_exit "rm -rf '$tmp'"
	# shellcheck disable=SC2016 # expanded when the hook runs
	cw_on_exit '((CW_FAILED == 0)) || for f in "$tmp"/*.log; do echo "---- $f"; tail -n 30 "$f"; done >&2'
}

# cw_metric NAME: sample NAME (exact, labels included) of causewayd's
# /metrics on 127.0.0.1:$ADMIN_PORT. cw_metric_sum NAME: the sum of a
# labelled family's samples.
cw_metric()
{
	curl -sf "http://127.0.0.1:${ADMIN_PORT:?}/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
cw_metric_sum()
{
	curl -sf "http://127.0.0.1:${ADMIN_PORT:?}/metrics" |
		awk -v m="$1" 'index($1, m "{") == 1 {s += $2} END {print s + 0}'
}

# cw_json JSON KEY: a value of a JSON object, KEY "a.b" for nested ones
# (0 when absent).
cw_json()
{
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    d = d.get(k, 0) if isinstance(d, dict) else 0
print(d)' "$1" "$2"
}

cw_start_daemon()
{
	local bin=${1:?cw_start_daemon BIN CONF LOG} conf=${2:?} log=${3:?} i rc=0
	local wrap=()

	[[ -z "$CW_DAEMON_PID" ]] || cw_fail "cw_start_daemon: daemon $CW_DAEMON_PID already running"
	[[ -x "$bin" ]] || cw_fail "cw_start_daemon: $bin is not executable"
	# ip netns exec and the cgroup shim exec the command, so $! is the
	# daemon itself
	if [[ -n "$CW_DAEMON_CGROUP" ]]; then
		# shellcheck disable=SC2016 # for the inner shell
		wrap+=(bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' cw-cgroup
			"$CW_DAEMON_CGROUP")
	fi
	[[ -n "$CW_DAEMON_NETNS" ]] && wrap+=(ip netns exec "$CW_DAEMON_NETNS")
	CW_DAEMON_LOG=$log
	CW_DAEMON_RC=''
	"${wrap[@]}" "$bin" -c "$conf" >"$log" 2>&1 &
	CW_DAEMON_PID=$!
	for ((i = 0; i < 300; i++)); do
		if grep -qF 'causewayd: ready' "$log"; then
			cw_log "lib: causewayd ready (PID $CW_DAEMON_PID) [+$(cw__elapsed)s]"
			cw__tele_start
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

# cw_stop_daemon: SIGTERM the daemon, wait up to 20 s (then SIGKILL), reap
# it and set CW_DAEMON_RC to its exit status. A status other than 0 is a
# failure: exit, or with CW_KEEP_GOING=1 log it and return 1.
cw_stop_daemon()
{
	local pid=$CW_DAEMON_PID i rc=0 why=''

	[[ -n "$pid" ]] || cw_fail "cw_stop_daemon: no daemon running"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		cw_alive "$pid" || break
		sleep 0.1
	done
	if cw_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		why="did not exit within 20 s of SIGTERM (killed)"
	fi
	wait "$pid" || rc=$?
	CW_DAEMON_PID=''
	CW_DAEMON_RC=$rc
	[[ -z "$why" && $rc -ne 0 ]] && why="exited with status $rc after SIGTERM"
	if [[ -n "$why" ]]; then
		why="causewayd $why; log tail:
$(tail -n 30 "$CW_DAEMON_LOG")"
		[[ "$CW_KEEP_GOING" == 1 ]] || cw_fail "$why"
		cw_log "$why"
		return 1
	fi
	cw_log "lib: causewayd stopped cleanly [+$(cw__elapsed)s]"
}

# cw_stats: print every total counter from the daemon's telemetry command
# /causeway/stats as "NAME VALUE" lines. cw_stat NAME: print just the
# counter NAME. Non-zero on any error. Both talk to the daemon's DPDK
# telemetry socket CW_DPDK_RUNDIR/CW_FILE_PREFIX/dpdk_telemetry.v2 as
# dpdk-telemetry.py does, through a python3 client that cw_start_daemon
# keeps running (a test polls counters often, and starting python each
# time costs seconds on a busy host); without it, a python3 per call.
cw_stats()
{
	cw__stats ''
}

cw_stat()
{
	cw__stats "${1:?cw_stat NAME}"
}

# The client: reads "SOCKET_PATH<TAB>NAME" lines (NAME empty: all), answers
# each with the counter lines or "!error", then a "." line.
cw__tele_py='
import json, socket, sys
conns = {}  # path: (socket, max reply length)
def query(path):
    if path not in conns:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        try:
            s.connect(path)
            hello = json.loads(s.recv(1024).decode())
        except BaseException:
            s.close()
            raise
        conns[path] = (s, int(hello.get("max_output_len", 16384)))
    s, maxlen = conns[path]
    try:
        s.send(b"/causeway/stats")
        data = s.recv(maxlen)
        if not data:
            raise OSError("connection closed")
        return json.loads(data.decode())
    except BaseException:
        del conns[path]
        s.close()
        raise
def answer(path, name):
    try:
        reply = query(path)
    except Exception as e:
        return ["!telemetry %s: %s" % (path, e)]
    stats = reply.get("/causeway/stats") if isinstance(reply, dict) else None
    total = stats.get("total") if isinstance(stats, dict) else None
    if not isinstance(total, dict):
        return ["!no \"total\" object in the /causeway/stats reply: %r" % (reply,)]
    if not name:
        return ["%s %s" % (k, total[k]) for k in sorted(total)]
    if name in total:
        return [str(total[name])]
    return ["!no counter %r; have: %s" % (name, " ".join(sorted(total)))]
while True:
    line = sys.stdin.readline()
    if not line:
        break
    path, _, name = line.rstrip("\n").partition("\t")
    sys.stdout.write("\n".join(answer(path, name) + ["."]) + "\n")
    sys.stdout.flush()
'
cw__tele_pid=''
cw__tele_w=''
cw__tele_r=''

# Start the telemetry client (in the test's own shell: cw_start_daemon).
cw__tele_start()
{
	[[ -z "$cw__tele_pid" ]] || return 0
	coproc CW__TELE { exec python3 -c "$cw__tele_py"; }
	# shellcheck disable=SC2153 # set by coproc
	cw__tele_pid=$CW__TELE_PID
	# own copies: bash drops the coproc's when it ends
	exec {cw__tele_w}>&"${CW__TELE[1]}" {cw__tele_r}<&"${CW__TELE[0]}"
	cw_track_pid "$cw__tele_pid"
}

cw__stats()
{
	local name=$1 path line out='' err='' rc=1

	[[ -n "$CW_FILE_PREFIX" ]] || {
		cw_log "cw_stat: CW_FILE_PREFIX is not set"
		return 1
	}
	path="$CW_DPDK_RUNDIR/$CW_FILE_PREFIX/dpdk_telemetry.v2"
	if [[ -n "$cw__tele_pid" ]] && cw_alive "$cw__tele_pid"; then
		printf '%s\t%s\n' "$path" "$name" >&"$cw__tele_w" || return 1
		# rc stays 1 unless the answer ends (".") within 30 s
		while IFS= read -r -t 30 line <&"$cw__tele_r"; do
			if [[ "$line" == . ]]; then
				rc=0
				break
			elif [[ "$line" == !* ]]; then
				err+="${line#!}"
			else
				out+="$line"$'\n'
			fi
		done
	else
		out=$(printf '%s\t%s\n' "$path" "$name" | python3 -c "$cw__tele_py") && rc=0
		out=${out%.}
		if [[ "$out" == !* ]]; then
			err=${out#!}
			err=${err%$'\n'}
			out=''
		fi
	fi
	if [[ -n "$err" || $rc -ne 0 ]]; then
		cw_log "cw_stat: ${err:-no answer from the telemetry client}"
		return 1
	fi
	printf '%s' "$out"
}

# cw_meminfo FIELD: the number in FIELD of /proc/meminfo (HugePages_Free...).
cw_meminfo()
{
	awk -v f="${1:?cw_meminfo FIELD}:" '$1 == f { print $2; found = 1 } END { exit !found }' \
		/proc/meminfo
}

# cw_huge_users: "PID KB" for every live process that maps hugetlb memory,
# sorted; compare two of these to tell whether others changed their use.
cw_huge_users()
{
	# one awk for all of /proc; files of processes gone meanwhile are skipped
	{ awk '$1 ~ /^(Private|Shared)_Hugetlb:$/ && $2 > 0 {
			split(FILENAME, p, "/"); s[p[3]] += $2 }
		END { for (pid in s) print pid, s[pid] }' /proc/[0-9]*/smaps_rollup 2>/dev/null ||
		true; } | sort -n
}

# cw_pid_huge_kb PID: kB of hugetlb memory PID maps.
cw_pid_huge_kb()
{
	awk '$1 ~ /^(Private|Shared)_Hugetlb:$/ { s += $2 } END { printf "%d\n", s }' \
		"/proc/${1:?cw_pid_huge_kb PID}/smaps_rollup"
}

# cw_huge_files [PREFIX]: list hugepage backing files DPDK left in any
# hugetlbfs mount: rtemap_* (the default prefix) and PREFIXmap_*.
cw_huge_files()
{
	local prefix=${1:-rte} mnt

	awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts | while read -r mnt; do
		find "$mnt" -maxdepth 2 \( -name 'rtemap_*' -o -name "${prefix}map_*" \) -print 2>/dev/null
	done
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

# cw_huge_cgroup NAME: create cgroup cwt-NAME-PID with the hugetlb
# controller (cgroup v2) and have cw_start_daemon start the daemon in it:
# its hugetlb charge (cw_huge_cgroup_pages) counts exactly the hugepages the
# daemon took and that are still allocated, whatever else the host runs;
# pages a process frees are uncharged, pages left in hugetlbfs files stay
# charged. The group goes on exit (and the controller is switched off again
# at the root if it was switched on here). Returns 1 without cgroup v2 or
# its hugetlb controller.
cw_huge_cgroup()
{
	local name=${1:?cw_huge_cgroup NAME} root cg

	[[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || cw_fail "cw_huge_cgroup: bad NAME '$name'"
	root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[[ -n "$root" && -r "$root/cgroup.controllers" ]] || return 1
	grep -qw hugetlb "$root/cgroup.controllers" || return 1
	if ! grep -qw hugetlb "$root/cgroup.subtree_control"; then
		echo +hugetlb >"$root/cgroup.subtree_control" 2>/dev/null || return 1
		cw__cg_enabled=$root
	fi
	cg="$root/cwt-$name-$$"
	mkdir "$cg" || return 1
	cw__cgroups+=("$cg")
	[[ -r "$cg/hugetlb.2MB.current" ]] || return 1
	CW_DAEMON_CGROUP=$cg
}

# cw_huge_cgroup_pages: 2 MiB pages charged to the daemon's cgroup now.
cw_huge_cgroup_pages()
{
	local bytes

	[[ -n "$CW_DAEMON_CGROUP" ]] || return 1
	bytes=$(cat "$CW_DAEMON_CGROUP/hugetlb.2MB.current") || return 1
	echo $((bytes / 2097152))
}

cw__remove_cgroups()
{
	local cg

	for cg in "${cw__cgroups[@]}"; do
		rmdir "$cg" 2>/dev/null || cw_log "lib: cannot remove cgroup $cg"
	done
	if [[ -n "$cw__cg_enabled" ]]; then
		echo -hugetlb >"$cw__cg_enabled/cgroup.subtree_control" 2>/dev/null ||
			cw_log "lib: hugetlb controller left on in $cw__cg_enabled (still in use)"
	fi
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

# SIGTERM, then SIGKILL, whatever runs in namespace NS (created here).
cw__kill_netns_pids()
{
	local ns=$1 pids i

	pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
	[[ -n "$pids" ]] || return 0
	cw_log "lib: stopping what still runs in $ns: ${pids//$'\n'/ }"
	# shellcheck disable=SC2086 # a list of PIDs
	kill -TERM $pids 2>/dev/null
	for ((i = 0; i < 30; i++)); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[[ -n "$pids" ]] || return 0
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null
}

cw__cleanup()
{
	local rc=$? i

	set +e
	trap - EXIT INT TERM HUP ERR
	# a command that failed under set -e, outside any check
	if ((rc != 0)) && [[ -n "$cw__last_err" && "$cw__last_err" != *": cw_summary" ]]; then
		cw_log "lib: exit status $rc; last failed command: $cw__last_err"
	fi
	for ((i = ${#cw__hooks[@]} - 1; i >= 0; i--)); do
		eval "${cw__hooks[i]}"
	done
	if [[ -n "$CW_DAEMON_PID" ]]; then
		cw_log "lib: stopping causewayd (PID $CW_DAEMON_PID)"
		cw_kill_pid "$CW_DAEMON_PID" 10
		CW_DAEMON_PID=''
	fi
	# the daemon's runtime directory (telemetry socket, config); only ever
	# one level under CW_DPDK_RUNDIR, and only a name EAL would accept
	if [[ "$CW_FILE_PREFIX" =~ ^[A-Za-z0-9_-]+$ && -d "$CW_DPDK_RUNDIR/$CW_FILE_PREFIX" ]]; then
		rm -rf -- "${CW_DPDK_RUNDIR:?}/$CW_FILE_PREFIX"
	fi
	# the telemetry client ends at EOF
	[[ -n "$cw__tele_w" ]] && exec {cw__tele_w}>&-
	for ((i = ${#cw__pids[@]} - 1; i >= 0; i--)); do
		cw_kill_pid "${cw__pids[i]}" 10
	done
	# anything still running inside our namespaces was started by this test
	for i in "${cw__namespaces[@]}"; do
		cw__kill_netns_pids "$i"
	done
	cw__remove_cgroups
	for i in "${cw__links[@]}"; do
		ip link del "$i" 2>/dev/null
	done
	for i in "${cw__namespaces[@]}"; do
		ip netns del "$i" 2>/dev/null || cw_log "lib: cannot delete namespace $i"
	done
	cw__restore_huge
	exit "$rc"
}

cw__last_err=''
trap cw__cleanup EXIT
trap 'cw__last_err="line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
