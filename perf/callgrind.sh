#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# perf/callgrind.sh: instructions per echoed packet in causewayd's worker,
# next to dpdk-testpmd io forwarding, counted by valgrind --tool=callgrind.
#
#   perf/callgrind.sh [--size N] [--seconds S] [--top N] [--dut causewayd|testpmd|both]
#                     [--udp-csum] [--native] [--keep]
#
# Valgrind cannot follow a vhost-user or memif peer (enqueues fail, memif's
# interrupt thread panics), so the DUT reads its traffic from a pcap file
# instead: net_pcap with infinite_rx=1 replays one ARP request from
# loadgen's address followed by 1023 UDP datagrams of --size bytes (FCS
# included, as in loadgen) to the echo port, UDP checksum 0 unless
# --udp-csum, and drops what is transmitted.
# The worker lcore is therefore always busy, as under a flood. The DUT's
# worker thread gets its own profile (--separate-threads); instructions
# per packet = that thread's total / packets received. The difference
# between causewayd and testpmd is what causewayd's own code costs per
# packet; both include the pcap PMD's copy into a fresh mbuf on RX and the
# free on TX.
#
# --native runs the same replay without valgrind and reports the worker's
# packets per second instead (median of the 1-second counter reports):
# the DUT's rate on one core with no link and no sender involved (run in a
# session of its own at nice -15, see bench.sh on autogroups).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${CW_BUILD_DIR:-$ROOT/build}
SIZE=64
SECS=20
TOP=25
DUTS=both
KEEP=0
UDP_CSUM=0
NATIVE=0
PCAP_MAC=02:70:63:61:70:00 # net_pcap's MAC for ethdev 0

die()
{
	printf 'callgrind: error: %s\n' "$*" >&2
	exit 1
}

while (($#)); do
	case $1 in
	--size)
		if ! [[ ${2-} =~ ^[0-9]+$ ]] || ((${2} < 64 || ${2} > 1518)); then die "--size 64..1518"; fi
		SIZE=$2
		shift
		;;
	--seconds) [[ ${2-} =~ ^[1-9][0-9]*$ ]] || die "--seconds: '${2-}'"; SECS=$2; shift ;;
	--top) [[ ${2-} =~ ^[1-9][0-9]*$ ]] || die "--top: '${2-}'"; TOP=$2; shift ;;
	--dut) [[ ${2-} =~ ^(causewayd|testpmd|both)$ ]] || die "--dut: causewayd, testpmd or both"; DUTS=$2; shift ;;
	--udp-csum) UDP_CSUM=1 ;;
	--native) NATIVE=1 ;;
	--keep) KEEP=1 ;;
	-h | --help) sed -n '4,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done

for t in valgrind callgrind_annotate python3 dpdk-testpmd; do
	command -v "$t" >/dev/null || die "$t not found"
done
[[ -x $BUILD/causewayd ]] || die "no $BUILD/causewayd; build first (perf/bench.sh builds)"

WORK=$(mktemp -d /tmp/cwcallgrind.XXXXXX)
PFX=cwcg$$
VG_PID=''

cleanup()
{
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $VG_PID ]] && kill -0 "$VG_PID" 2>/dev/null; then
		kill -TERM "$VG_PID" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$VG_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$VG_PID" 2>/dev/null || true
		wait "$VG_PID" 2>/dev/null || true
	fi
	rm -rf /run/dpdk/"$PFX"-*
	if ((KEEP)); then
		printf 'callgrind: files kept in %s\n' "$WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One ARP request from 198.18.100.2, then 1023 UDP datagrams to :7.
python3 - "$WORK/in.pcap" "$PCAP_MAC" "$SIZE" 1023 "$UDP_CSUM" <<'EOF'
import struct, sys

out, dmac, size, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
udp_csum = sys.argv[5] == "1"

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

smac = bytes.fromhex("020000000002")
dm = bytes.fromhex(dmac.replace(":", ""))
sip, dip = bytes([198, 18, 100, 2]), bytes([198, 18, 100, 1])
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def rec(frame):
        f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)

    arp = (b"\xff" * 6 + smac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
           + smac + sip + bytes(6) + dip)
    rec(arp + bytes(60 - len(arp)))
    plen = size - 4 - 42
    payload = bytes(i & 0xFF for i in range(plen))
    for i in range(n):
        udp = struct.pack("!HHHH", 10000 + i % 64, 7, 8 + plen, 0) + payload
        if udp_csum:
            pseudo = sip + dip + struct.pack("!BBH", 0, 17, len(udp))
            c = csum(pseudo + udp) or 0xFFFF
            udp = udp[:6] + struct.pack("!H", c) + udp[8:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, sip, dip)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        rec(dm + smac + b"\x08\x00" + ip + udp)
EOF

VDEV="net_pcap0,rx_pcap=$WORK/in.pcap,infinite_rx=1"

# run_dut NAME READY_PATTERN CMD...: profile CMD for SECS seconds of traffic.
run_dut()
{
	local name=$1 ready=$2 i
	shift 2
	LOG=$WORK/$name.log
	if ((NATIVE)); then
		# Own session, autogroup nice -15: ahead of other jobs on the box.
		setsid nice -n -15 "$@" </dev/null >"$LOG" 2>&1 &
		VG_PID=$!
		for ((i = 0; i < 100; i++)); do
			if [[ $(awk '{ print $6 }' "/proc/$VG_PID/stat" 2>/dev/null) == "$VG_PID" ]]; then
				echo -15 >"/proc/$VG_PID/autogroup" 2>/dev/null || true
				break
			fi
			sleep 0.01
		done
	else
		valgrind --tool=callgrind --separate-threads=yes \
			--callgrind-out-file="$WORK/$name.cg" "$@" </dev/null >"$LOG" 2>&1 &
	fi
	VG_PID=$!
	for ((i = 0; i < 1200; i++)); do
		grep -q "$ready" "$LOG" && break
		kill -0 "$VG_PID" 2>/dev/null || die "$name exited under valgrind, see $LOG"
		sleep 0.1
	done
	((i < 1200)) || die "$name not ready after 120 s under valgrind"
	sleep "$SECS"
	kill -TERM "$VG_PID"
	for ((i = 0; i < 600; i++)); do kill -0 "$VG_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$VG_PID" 2>/dev/null || true
	VG_PID=''
	((NATIVE == 0)) || return 0
	# The worker lcore's thread is the one that executed the most.
	PROFILE=$(grep -H '^summary:' "$WORK/$name".cg-* | sort -t' ' -k2 -n | tail -n 1 | cut -d: -f1)
	[[ -n $PROFILE ]] || die "no callgrind profile for $name"
	TOTAL=$(sed -n 's/^summary: //p' "$PROFILE")
}

report()
{
	local name=$1 pkts=$2
	((pkts > 0)) || die "$name: no packets counted, see $LOG"
	awk -v n="$name" -v s="$SIZE" -v t="$TOTAL" -v p="$pkts" 'BEGIN {
		printf "%s, %d-byte frames: %.0f packets, %.0f instructions in the worker thread: %.1f instructions/packet\n", n, s, p, t, t / p }'
	echo "  top functions by own (exclusive) instructions per packet:"
	callgrind_annotate --auto=no --threshold=100 "$PROFILE" 2>/dev/null |
		awk -v p="$pkts" -v top="$TOP" '
		/^-+$/ { sep++; next }
		sep >= 6 && /^ *[0-9,]+ +\( *[0-9.]+%\)/ && shown < top {
			line = $0
			n = $1; gsub(",", "", n)
			if (n / p < 0.05) { shown = top; next }
			sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", line)
			obj = line; sub(/^.*\[/, "", obj); sub(/\]$/, "", obj); sub(/^.*\//, "", obj)
			sub(/ \[.*\]$/, "", line)
			sub(/^.*\.\.\//, "", line)
			if (line ~ /^\?\?\?/) line = obj " " line
			printf "  %8.1f  %s\n", n / p, line; shown++ }'
	echo
}

# native_report NAME RATES: the median of the per-second rates after the first two.
native_report()
{
	local med
	med=$(printf '%s\n' "$2" | awk 'NF && $1 > 0' | tail -n +3 | sort -n |
		awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }')
	((med > 0)) || die "$1: no rate reported, see $LOG"
	printf '%s, %d-byte frames, pcap replay without valgrind: %s packets/s on one worker lcore\n' \
		"$1" "$SIZE" "$med"
}

if [[ $DUTS != testpmd ]]; then
	cat >"$WORK/causeway.conf" <<EOF
[eal]
lcores = 0-1
hugepages = no
memory = 256
file_prefix = $PFX-cw
[port bench]
device = $VDEV
address = 198.18.100.1/24
[dataplane]
workers = 1
echo_port = 7
stats_interval = $((NATIVE ? 1 : 0))
EOF
	run_dut causewayd "worker 0 running" "$BUILD/causewayd" -c "$WORK/causeway.conf"
	grep -q "MAC ${PCAP_MAC^^}" "$LOG" || die "causewayd's pcap port has another MAC; see $LOG"
	UDP_OUT=$(grep -A4 '^final statistics' "$LOG" | sed -n 's/.*udp in [0-9]* out \([0-9]*\).*/\1/p')
	echo "causewayd echoed ${UDP_OUT:-0} datagrams (final statistics)"
	if ((NATIVE)); then
		native_report causewayd "$(sed -n 's/^total .* bytes *\([0-9]*\) pps | tx.*/\1/p' "$LOG")"
	else
		# Packets = frames received, from causewayd's own final counters.
		PKTS=$(grep -A3 '^final statistics' "$LOG" | sed -n 's/^total *rx *\([0-9]*\) pkts.*/\1/p')
		report causewayd "${PKTS:-0}"
	fi
fi
if [[ $DUTS != causewayd ]]; then
	run_dut testpmd "forwards packets on" dpdk-testpmd -l 0,1 --no-huge -m 256 \
		--file-prefix "$PFX-tp" --no-pci --vdev "$VDEV" -- --forward-mode=io --nb-cores=1 \
		--port-topology=loop --total-num-mbufs=16384 --stats-period $((NATIVE ? 1 : 3600))
	if ((NATIVE)); then
		native_report "testpmd io" "$(sed -n 's/.*Rx-pps: *\([0-9]*\).*/\1/p' "$LOG")"
	else
		PKTS=$(grep -A1 'Accumulated forward statistics' "$LOG" |
			sed -n 's/.*RX-packets: *\([0-9]*\).*/\1/p')
		report "testpmd io" "${PKTS:-0}"
	fi
fi
