#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# perf/bench.sh: causewayd's UDP echo rate against the ceiling of the setup
# and against the kernel-socket backend, in one run.
#
#   perf/bench.sh [--runs N] [--seconds D] [--link vhost|memif]
#                 [--mem auto|huge|nohuge] [--nice N] [--max-noise PCT]
#                 [--tries N] [--window N] [--sizes "64 1400"] [--udp-csum]
#                 [--out FILE] [--keep]
#
# For every run and frame size:
#   ceiling  dpdk-testpmd --forward-mode=io in causewayd's place, fed by
#            perf/loadgen over a DPDK virtual link; loadgen counts every
#            UDP frame that comes back;
#   dpdk     causewayd, backend dpdk, on the same virtual link, echo
#            handler on UDP port 7, fed by the same loadgen (ARP first);
#   socket   causewayd, backend socket on 127.0.0.1, same echo handler, fed
#            by perf/udpflood (sendmmsg/recvmmsg, bounded window).
# Each figure is the median of --runs runs of --seconds (after 1 s warm-up).
# The senders run on core 0, the DUT's one worker (testpmd's forwarding
# core) on core 1; the DUTs' main lcores share core 0 and sleep.
#
# Link: vhost (default) = the DUT owns net_vhost (vhost-user server), loadgen
# drives virtio_user (needs --single-file-segments); memif = the DUT is the
# memif server, loadgen the client. memif's surviving peer can crash when
# the other side disconnects (DESIGN.md section 9; testpmd does segfault in
# librte_net_memif here), so with memif every DUT serves a single sender run.
#
# Noise: this is a 2-core machine that other jobs share. Both senders and
# the DUT's worker thread report how long they sat runnable but waiting for
# a CPU (schedstat); a run where that exceeds --max-noise percent of the
# time is repeated, up to --tries attempts, keeping the quietest. --nice N
# (default -15, 0 = off) runs our processes at that nice level; as the
# kernel schedules sessions against each other first (autogroup), each
# process also gets a session of its own whose autogroup gets nice N.
#
# Hugepages: --mem auto (default) uses 2 MiB hugepages (--in-memory: no
# files left) when enough are free or can be reserved for the run (the
# reservation is given back on exit), otherwise --no-huge.
#
# Everything lives in a temporary directory; an EXIT trap stops every
# process this script started (by PID, sender first, then the DUT), removes
# the sockets and DPDK runtime directories of our file prefixes and returns
# any hugepages it reserved, on success or failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMMAND="perf/bench.sh${*:+ $*}"
BUILD=${CW_BUILD_DIR:-$ROOT/build}
RUNS=3
SECS=5
WARMUP=1
LINK=vhost
MEM=auto
NICE=-15
MAX_NOISE=5
TRIES=5
WINDOW=256
SIZES="64 1400"
OUT=''
KEEP=0
UDP_CSUM=()
DUT_IP=198.18.100.1
LG_IP=198.18.100.2
ECHO_PORT=7
TESTPMD=${CW_TESTPMD:-dpdk-testpmd}
TELEMETRY=${CW_TELEMETRY:-dpdk-telemetry.py}
HUGE_SYSFS=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
HUGE_PAGES_NEEDED=160 # 2 MiB pages: loadgen <= 64 MiB, DUT <= 256 MiB

usage()
{
	sed -n '4,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

log()
{
	printf 'bench: %s\n' "$*" >&2
}

die()
{
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

posint()
{
	[[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive integer, not '$2'"
}

while (($#)); do
	case $1 in
	--runs) posint "$1" "${2-}"; RUNS=$2; shift ;;
	--seconds) [[ ${2-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--seconds: '${2-}'"; SECS=$2; shift ;;
	--link) [[ ${2-} == vhost || ${2-} == memif ]] || die "--link: vhost or memif"; LINK=$2; shift ;;
	--mem) [[ ${2-} =~ ^(auto|huge|nohuge)$ ]] || die "--mem: auto, huge or nohuge"; MEM=$2; shift ;;
	--nice) [[ ${2-} =~ ^-?[0-9]+$ ]] || die "--nice: '${2-}'"; NICE=$2; shift ;;
	--max-noise) [[ ${2-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--max-noise: '${2-}'"; MAX_NOISE=$2; shift ;;
	--tries) posint "$1" "${2-}"; TRIES=$2; shift ;;
	--window) posint "$1" "${2-}"; WINDOW=$2; shift ;;
	--sizes) [[ ${2-} =~ ^[0-9\ ]+$ ]] || die "--sizes: '${2-}'"; SIZES=$2; shift ;;
	--out) [[ -n ${2-} ]] || die "--out needs a file"; OUT=$2; shift ;;
	--udp-csum) UDP_CSUM=(--udp-csum) ;;
	--keep) KEEP=1 ;;
	-h | --help) usage 0 ;;
	*) printf 'bench: unknown argument %s\n' "$1" >&2; usage 2 ;;
	esac
	shift
done

[[ $(id -u) == 0 ]] || die "run as root (DPDK, hugepages, vhost sockets)"
(($(nproc) >= 2)) || die "needs 2 CPUs: sender on core 0, DUT worker on core 1"
for t in "$TESTPMD" "$TELEMETRY" python3 taskset; do
	command -v "$t" >/dev/null || die "$t not found (apt-get install dpdk dpdk-dev libdpdk-dev)"
done

WORK=$(mktemp -d /tmp/cwperf.XXXXXX)
PFX=cwp$$
CUR_DUT=''   # PID of the running DUT
CUR_SEND=''  # PID of the running sender
STARTED=()   # every PID we started
HUGE_ADDED=0 # pages this script reserved
LOG_ALL=$WORK/bench.log

cleanup()
{
	local rc=$? pid
	trap - EXIT INT TERM
	# The sender first, then the DUT (memif: the survivor may crash).
	for pid in $CUR_SEND $CUR_DUT; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	# Safety net: anything still running with one of our file prefixes.
	for pid in "${STARTED[@]}"; do
		if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
			grep -q -- "$PFX-\|$WORK/"; then
			log "stopping leftover process $pid"
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	if ((HUGE_ADDED > 0)); then
		local cur
		cur=$(cat "$HUGE_SYSFS")
		echo $((cur > HUGE_ADDED ? cur - HUGE_ADDED : 0)) >"$HUGE_SYSFS" || true
		log "returned $HUGE_ADDED hugepages (nr_hugepages now $(cat "$HUGE_SYSFS"))"
	fi
	rm -rf /run/dpdk/"$PFX"-* /dev/hugepages/"$PFX"-* 2>/dev/null || true
	if ((rc != 0)); then
		log "failed (status $rc); logs:"
		tail -n 40 "$WORK"/*.log 2>/dev/null | sed 's/^/  /' >&2 || true
	fi
	if ((KEEP)); then
		log "logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A prefix that execs, so that $! is the PID of the program itself.
NICE_CMD=()

# Give process $1's autogroup our nice level, once setsid has made it a
# session of its own (before that it shares ours, which we leave alone).
set_prio()
{
	local i sid
	((NICE != 0)) || return 0
	for ((i = 0; i < 100; i++)); do
		sid=$(awk '{ print $6 }' "/proc/$1/stat" 2>/dev/null) || return 0
		if [[ $sid == "$1" ]]; then
			echo "$NICE" >"/proc/$1/autogroup" 2>/dev/null || true
			return 0
		fi
		sleep 0.01
	done
	log "warning: process $1 has no session of its own; autogroup nice not set"
}

# ---- build ----------------------------------------------------------------

build()
{
	local i
	if [[ ! -f $BUILD/build.ninja ]]; then
		(cd "$ROOT" && meson setup "$BUILD") >"$WORK/build.log" 2>&1 ||
			die "meson setup failed, see $WORK/build.log"
	fi
	# Others may be mid-edit: retry, then fall back to the binary we have.
	for i in 1 2 3; do
		ninja -C "$BUILD" >>"$WORK/build.log" 2>&1 && break
		if ((i == 3)); then
			[[ -x $BUILD/causewayd ]] || die "build failed, see $WORK/build.log"
			log "warning: build failed 3 times; using the existing $BUILD/causewayd"
		else
			log "build failed (someone mid-edit?); retrying in 30 s"
			sleep 30
		fi
	done
	CAUSEWAYD=$BUILD/causewayd
	LOADGEN=$BUILD/perf/loadgen
	UDPFLOOD=$BUILD/perf/udpflood
	[[ -x $LOADGEN && -x $UDPFLOOD ]] || die "no $LOADGEN or $UDPFLOOD: see $WORK/build.log"
}

# ---- memory ---------------------------------------------------------------

huge_free()
{
	awk '/^HugePages_Free:/ {print $2}' /proc/meminfo
}

setup_memory()
{
	local free want cur
	MEM_USED=nohuge
	if [[ $MEM != nohuge && -w $HUGE_SYSFS ]]; then
		free=$(huge_free)
		if ((free < HUGE_PAGES_NEEDED)); then
			want=$((HUGE_PAGES_NEEDED - free))
			cur=$(cat "$HUGE_SYSFS")
			echo $((cur + want)) >"$HUGE_SYSFS" 2>/dev/null || true
			HUGE_ADDED=$(($(cat "$HUGE_SYSFS") - cur))
			((HUGE_ADDED > 0)) || HUGE_ADDED=0
			log "reserved $HUGE_ADDED hugepages for the run"
		fi
		(($(huge_free) >= HUGE_PAGES_NEEDED)) && MEM_USED=huge
	fi
	[[ $MEM == huge && $MEM_USED != huge ]] && die "not enough free 2 MiB hugepages"
	if [[ $MEM_USED == huge ]]; then
		EAL_MEM=(--in-memory)
	else
		EAL_MEM=(--no-huge -m 256)
	fi
}

# ---- DUTs -----------------------------------------------------------------

dut_vdev()
{
	if [[ $LINK == vhost ]]; then
		echo "net_vhost0,iface=$SOCK,queues=1"
	else
		echo "net_memif0,role=server,socket=$SOCK,socket-abstract=no"
	fi
}

lg_vdev()
{
	if [[ $LINK == vhost ]]; then
		echo "virtio_user0,path=$SOCK,queues=1,queue_size=1024"
	else
		echo "net_memif0,role=client,socket=$SOCK,socket-abstract=no"
	fi
}

# wait_for PID FILE PATTERN SECONDS: until FILE matches and the link socket exists.
wait_for()
{
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || die "DUT exited during start-up, see $2"
		if grep -q "$3" "$2" 2>/dev/null && { [[ $KIND == socket ]] || [[ -S $SOCK ]]; }; then
			return 0
		fi
		sleep 0.1
	done
	die "DUT not ready after $4 s, see $2"
}

start_dut()
{
	KIND=$1
	DUT_LOG=$WORK/dut-$KIND-$((++DUT_SEQ)).log
	SOCK=$WORK/link.sock
	rm -f "$SOCK"
	case $KIND in
	ceiling)
		DUT_PREFIX=$PFX-tp
		"${NICE_CMD[@]}" "$TESTPMD" -l 0,1 --main-lcore 0 "${EAL_MEM[@]}" --file-prefix "$DUT_PREFIX" \
			--no-pci --vdev "$(dut_vdev)" -- --forward-mode=io --nb-cores=1 \
			--port-topology=loop --total-num-mbufs=16384 --stats-period 3600 \
			</dev/null >"$DUT_LOG" 2>&1 &
		CUR_DUT=$!
		STARTED+=("$CUR_DUT")
		set_prio "$CUR_DUT"
		wait_for "$CUR_DUT" "$DUT_LOG" "forwards packets on" 20
		;;
	dpdk | socket)
		DUT_PREFIX=$PFX-cw
		local conf=$WORK/causeway-$KIND.conf
		{
			echo "[eal]"
			echo "lcores = 0-1"
			echo "file_prefix = $DUT_PREFIX"
			if [[ $KIND == dpdk && $MEM_USED == huge ]]; then
				echo "hugepages = yes"
				echo "memory = 0"
			else
				echo "hugepages = no"
			fi
			if [[ $KIND == dpdk ]]; then
				echo "[port bench]"
				echo "device = $(dut_vdev)"
				echo "address = $DUT_IP/24"
			fi
			echo "[dataplane]"
			echo "workers = 1"
			echo "echo_port = $ECHO_PORT"
			echo "stats_interval = 0"
			if [[ $KIND == socket ]]; then
				echo "backend = socket"
				echo "socket_address = 127.0.0.1"
			fi
		} >"$conf"
		"${NICE_CMD[@]}" "$CAUSEWAYD" -c "$conf" </dev/null >"$DUT_LOG" 2>&1 &
		CUR_DUT=$!
		STARTED+=("$CUR_DUT")
		set_prio "$CUR_DUT"
		wait_for "$CUR_DUT" "$DUT_LOG" "causewayd: ready" 20
		;;
	esac
	DUT_WORKER_TID=$(worker_tid "$CUR_DUT")
}

stop_dut()
{
	local pid=$CUR_DUT
	[[ -n $pid ]] || return 0
	CUR_DUT=''
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	rm -rf /run/dpdk/"$DUT_PREFIX" "$SOCK"
}

# The DUT's busy thread: the EAL worker lcore thread (named rte-worker-N).
worker_tid()
{
	local t
	for t in /proc/"$1"/task/*; do
		if [[ $(cat "$t/comm" 2>/dev/null) == rte-worker-* ]]; then
			basename "$t"
			return
		fi
	done
	echo ''
}

# Nanoseconds thread $1 has waited for a CPU (schedstat field 2).
sched_wait()
{
	local a
	[[ -n $1 && -r /proc/$1/schedstat ]] || { echo 0; return; }
	read -r _ a _ </proc/"$1"/schedstat
	echo "$a"
}

# Causewayd counters from telemetry: prints "udp_out drops".
cw_counters()
{
	echo /causeway/stats | timeout 10 "$TELEMETRY" -f "$DUT_PREFIX" 2>/dev/null |
		python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        t = json.loads(line)["/causeway/stats"]["total"]
        print(t["udp_out"], t["drops"])
        break
else:
    print("0 0")'
}

# ---- one measurement ---------------------------------------------------------

# sender SIZE: runs the sender against the current DUT; sets PPS and NOISE.
sender()
{
	local size=$1 out=$WORK/send.out err w0 w1 t0 t1 swait dwait
	err=$WORK/send-$KIND-$size.log
	w0=$(sched_wait "$DUT_WORKER_TID")
	t0=$(date +%s%N)
	case $KIND in
	ceiling | dpdk)
		local extra=()
		[[ $KIND == ceiling ]] && extra=(--dut-mac 02:00:00:00:00:01 --count-all)
		"${NICE_CMD[@]}" taskset -c 0 "$LOADGEN" -l 0 "${EAL_MEM[@]}" --single-file-segments \
			--file-prefix "$PFX-lg" --no-pci --no-telemetry --vdev "$(lg_vdev)" -- \
			--dut-ip "$DUT_IP" --src-ip "$LG_IP" --port "$ECHO_PORT" --size "$size" \
			--seconds "$SECS" --warmup "$WARMUP" "${UDP_CSUM[@]}" "${extra[@]}" \
			>"$out" 2>>"$err" &
		;;
	socket)
		"${NICE_CMD[@]}" taskset -c 0 "$UDPFLOOD" --host 127.0.0.1 --port "$ECHO_PORT" \
			--size "$size" --seconds "$SECS" --warmup "$WARMUP" --window "$WINDOW" \
			>"$out" 2>>"$err" &
		;;
	esac
	CUR_SEND=$!
	STARTED+=("$CUR_SEND")
	set_prio "$CUR_SEND"
	if ! wait "$CUR_SEND"; then
		CUR_SEND=''
		die "sender failed against $KIND, size $size; see $err and $DUT_LOG"
	fi
	CUR_SEND=''
	rm -rf /run/dpdk/"$PFX"-lg
	t1=$(date +%s%N)
	w1=$(sched_wait "$DUT_WORKER_TID")
	cat "$out" >>"$LOG_ALL"
	PPS=$(sed -n 's/.* rx_pps=\([0-9]*\) .*/\1/p' "$out")
	[[ -n $PPS ]] || die "no result from the sender ($KIND, size $size); see $err"
	swait=$(sed -n 's/.*sched_wait=\([0-9.]*\)%.*/\1/p' "$err" | tail -n 1)
	dwait=$(awk -v a="$w0" -v b="$w1" -v s="$t0" -v e="$t1" \
		'BEGIN { printf "%.2f", (e > s ? 100 * (b - a) / (e - s) : 0) }')
	NOISE=$(awk -v a="${swait:-0}" -v b="$dwait" 'BEGIN { printf "%.2f", (a > b ? a : b) }')
}

# measure SIZE: the quietest of up to TRIES sender runs; appends to RES_*.
measure()
{
	local size=$1 try best_pps='' best_noise='' before after
	for ((try = 1; try <= TRIES; try++)); do
		[[ $KIND == dpdk ]] && before=$(cw_counters)
		sender "$size"
		if [[ $KIND == dpdk ]]; then
			after=$(cw_counters)
			log "  causewayd counters: udp_out +$((${after% *} - ${before% *})), drops +$((${after#* } - ${before#* }))"
		fi
		log "  $KIND size $size try $try: $PPS pps, noise $NOISE %"
		if [[ -z $best_noise ]] || awk -v a="$NOISE" -v b="$best_noise" 'BEGIN { exit !(a < b) }'; then
			best_pps=$PPS
			best_noise=$NOISE
		fi
		awk -v a="$NOISE" -v m="$MAX_NOISE" 'BEGIN { exit !(a <= m) }' && break
		if [[ $LINK == memif && $KIND != socket ]]; then
			stop_dut
			start_dut "$KIND"
		fi
	done
	eval "RES_${KIND}_${size}+=(\"$best_pps\")"
	eval "NOISE_${KIND}_${size}+=(\"$best_noise\")"
}

median()
{
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---- main -------------------------------------------------------------------

((NICE == 0)) || NICE_CMD=(setsid nice -n "$NICE")
build
setup_memory
DUT_SEQ=0
for size in $SIZES; do
	((size >= 64 && size <= 1518)) || die "frame sizes are 64..1518"
	for kind in ceiling dpdk socket; do
		eval "RES_${kind}_${size}=()"
		eval "NOISE_${kind}_${size}=()"
	done
done

START_DATE=$(date)
SRC_SUM=$(cat "$ROOT"/dataplane/*.[ch] "$ROOT"/control/*.[ch] 2>/dev/null | sha256sum | cut -c1-12)
log "causewayd $CAUSEWAYD, loadgen $LOADGEN, udpflood $UDPFLOOD"
log "link $LINK, memory $MEM_USED, $RUNS runs x $SECS s, nice $NICE, max noise $MAX_NOISE %"
for ((run = 1; run <= RUNS; run++)); do
	for kind in ceiling dpdk socket; do
		log "run $run: $kind"
		if [[ $LINK == memif && $kind != socket ]]; then
			for size in $SIZES; do
				start_dut "$kind"
				measure "$size"
				stop_dut
			done
		else
			start_dut "$kind"
			for size in $SIZES; do
				measure "$size"
			done
			stop_dut
		fi
	done
done

report()
{
	local size c d s ceil dp so nmax
	echo "causewayd UDP echo, $RUNS runs x $SECS s each (median), 1 worker lcore per DUT"
	echo "command: $COMMAND"
	echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, kernel $(uname -r)"
	echo "causewayd: $CAUSEWAYD built $(date -r "$CAUSEWAYD" '+%F %T'), sources (dataplane/ control/) sha256 $SRC_SUM"
	echo "link $LINK, memory $MEM_USED, nice $NICE; started $START_DATE"
	echo
	echo "| frame | ceiling: testpmd io (pps/lcore) | causewayd dpdk (pps/lcore) | % of ceiling | causewayd socket (pps/lcore) | DPDK/socket | max noise % |"
	echo "|------:|-------------------------------:|---------------------------:|-------------:|----------------------------:|------------:|------------:|"
	for size in $SIZES; do
		eval "c=(\"\${RES_ceiling_${size}[@]}\")"
		eval "d=(\"\${RES_dpdk_${size}[@]}\")"
		eval "s=(\"\${RES_socket_${size}[@]}\")"
		ceil=$(median "${c[@]}")
		dp=$(median "${d[@]}")
		so=$(median "${s[@]}")
		eval "nmax=\$(printf '%s\n' \"\${NOISE_ceiling_${size}[@]}\" \"\${NOISE_dpdk_${size}[@]}\" \"\${NOISE_socket_${size}[@]}\" | sort -n | tail -n 1)"
		awk -v z="$size" -v c="$ceil" -v d="$dp" -v s="$so" -v n="$nmax" 'BEGIN {
			printf "| %5d | %30.0f | %26.0f | %11.1f%% | %27.0f | %11.1f | %11s |\n",
				z, c, d, c ? 100 * d / c : 0, s, s ? d / s : 0, n }'
		GOAL_PCT[$size]=$(awk -v c="$ceil" -v d="$dp" 'BEGIN { printf "%.1f", c ? 100 * d / c : 0 }')
		GOAL_RATIO[$size]=$(awk -v s="$so" -v d="$dp" 'BEGIN { printf "%.1f", s ? d / s : 0 }')
	done
	echo
	echo "Runs (pps, in run order; noise % in brackets):"
	for size in $SIZES; do
		for kind in ceiling dpdk socket; do
			local r n i line=''
			eval "r=(\"\${RES_${kind}_${size}[@]}\")"
			eval "n=(\"\${NOISE_${kind}_${size}[@]}\")"
			for i in "${!r[@]}"; do line+=" ${r[$i]} [${n[$i]}]"; done
			printf '  %4s B %-8s%s\n' "$size" "$kind" "$line"
		done
	done
	echo
	echo "Paired by run (ceiling, dpdk and socket of one run are measured within a minute):"
	for size in $SIZES; do
		eval "c=(\"\${RES_ceiling_${size}[@]}\")"
		eval "d=(\"\${RES_dpdk_${size}[@]}\")"
		eval "s=(\"\${RES_socket_${size}[@]}\")"
		printf '%s\n' "${c[@]}" >"$WORK/c"
		printf '%s\n' "${d[@]}" >"$WORK/d"
		printf '%s\n' "${s[@]}" >"$WORK/s"
		paste "$WORK/c" "$WORK/d" "$WORK/s" | awk -v z="$size" '
			{ p[NR] = $1 ? 100 * $2 / $1 : 0; r[NR] = $3 ? $2 / $3 : 0
			  lp = lp sprintf(" %.1f%%", p[NR]); lr = lr sprintf(" %.1f", r[NR]) }
			function med(a, n,   i, j, t) {
				for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
					if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
				return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
			END { printf "  %4s B %% of ceiling:%s (median %.1f%%); DPDK/socket:%s (median %.1f)\n",
				z, lp, med(p, NR), lr, med(r, NR) }'
	done
	echo
	if [[ -n ${GOAL_PCT[64]-} ]]; then
		awk -v p="${GOAL_PCT[64]}" 'BEGIN {
			printf "Goal: 64 B causewayd >= 80%% of the ceiling: %s (%.1f%%)\n", (p >= 80 ? "MET" : "MISSED"), p }'
	fi
	for size in $SIZES; do
		awk -v z="$size" -v r="${GOAL_RATIO[$size]}" 'BEGIN {
			printf "Goal: %d B DPDK/socket >= 10: %s (%.1f)\n", z, (r >= 10 ? "MET" : "MISSED"), r }'
	done
}

declare -A GOAL_PCT GOAL_RATIO
if [[ -n $OUT ]]; then
	report | tee "$OUT"
else
	report
fi
