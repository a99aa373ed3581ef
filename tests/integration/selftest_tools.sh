#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Self-test of the test tools (udpcheck, rawsend) and lib.sh, without
# causewayd. Needs root. Usage:
#
#   tests/integration/selftest_tools.sh [BUILD_DIR]
#
# Tools are taken from BUILD_DIR/tests/tools (default: ./build), or from
# $CW_UDPCHECK and $CW_RAWSEND when set.
#
# 1. udpcheck, from the host through a veth pair, against python3 UDP
#    servers in a namespace: a correct echo (must pass), a dead port, a
#    server that corrupts, truncates, answers from another port (must fail),
#    one that answers twice (must pass).
# 2. rawsend, from the namespace toward the host-side veth, where a python3
#    AF_PACKET capture checks every header field of each KIND's frames, and
#    a UDP socket on the host shows whether the kernel accepts them.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
	echo "skipped: needs root (network namespaces, AF_PACKET)"
	exit 77 # meson: SKIP
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

build=${1:-${MESON_BUILD_ROOT:-$here/../../build}}
UDPCHECK=${CW_UDPCHECK:-$build/tests/tools/udpcheck}
RAWSEND=${CW_RAWSEND:-$build/tests/tools/rawsend}
CW_KEEP_GOING=1
PORT=7001 # echo; +1 corrupt, +2 truncate, +3 other source port, +4 double
DEAD_PORT=7100
RAW_PORT=7200

[[ -x "$UDPCHECK" ]] || cw_fail "no udpcheck at $UDPCHECK (build first or set CW_UDPCHECK)"
[[ -x "$RAWSEND" ]] || cw_fail "no rawsend at $RAWSEND (build first or set CW_RAWSEND)"

tmp=$(mktemp -d /tmp/cw-selftest.XXXXXX)
cw_on_exit "rm -rf '$tmp'"

cat >"$tmp/servers.py" <<'EOF'
# UDP servers: echo, corrupt byte 50, drop the last byte, answer from
# another port, answer twice. Prints "ready" once all are bound.
import select, socket, sys

ip, base = sys.argv[1], int(sys.argv[2])
modes = ["echo", "corrupt", "truncate", "other-port", "double"]
socks = {}
for i, mode in enumerate(modes):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((ip, base + i))
    socks[s] = mode
other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
other.bind((ip, 0))
print("ready", flush=True)
while True:
    for s in select.select(list(socks), [], [])[0]:
        data, peer = s.recvfrom(65535)
        mode = socks[s]
        if mode == "corrupt" and len(data) > 50:
            data = data[:50] + bytes([data[50] ^ 0x40]) + data[51:]
        elif mode == "truncate":
            data = data[:-1]
        if mode == "other-port":
            other.sendto(data, peer)
            continue
        s.sendto(data, peer)
        if mode == "double":
            s.sendto(data, peer)
EOF

cat >"$tmp/rawcheck.py" <<'EOF'
# rawcheck.py HOST_IF NS NS_IF RAWSEND NS_MAC NS_IP HOST_MAC DUT_IP PORT KIND COUNT ACCEPT
# Capture on HOST_IF while rawsend runs in NS, check each frame of KIND
# field by field, and count what a UDP socket on DUT_IP:PORT receives
# (ACCEPT: yes = all COUNT, no = none, info = just report).
import os, select, socket, struct, subprocess, sys, time

(host_if, ns, ns_if, rawsend, ns_mac, ns_ip, host_mac, dut_ip, port, kind, count,
 accept) = sys.argv[1:]
port, count = int(port), int(count)
ETH_P_ALL, SOL_PACKET, PACKET_AUXDATA, PACKET_ADD_MEMBERSHIP = 3, 263, 8, 1
PACKET_MR_PROMISC, PACKET_OUTGOING = 1, 4
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
WRONG_MAC = "02:00:00:00:00:99"

def mac(b):
    return ":".join("%02x" % x for x in b)

def csum_ok(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF

cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
cap.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
cap.bind((host_if, ETH_P_ALL))
ifindex = socket.if_nametoindex(host_if)
cap.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP,
               struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b""))
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((dut_ip, port))

rc = subprocess.run(["ip", "netns", "exec", ns, rawsend, ns_if, host_mac, dut_ip,
                     str(port), kind, str(count)]).returncode
if rc != 0:
    print("FAIL: rawsend %s exited with %d" % (kind, rc))
    sys.exit(1)

frames, accepted = [], 0
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:
    ready = select.select([cap, udp], [], [], max(0.0, deadline - time.monotonic()))[0]
    if udp in ready:
        udp.recvfrom(65535)
        accepted += 1
    if cap in ready:
        data, anc, _, addr = cap.recvmsg(65535, socket.CMSG_SPACE(20))
        # only what the namespace sent over IPv4 (its kernel may send ARP)
        if addr[2] == PACKET_OUTGOING or data[6:12] != bytes.fromhex(ns_mac.replace(":", "")):
            continue
        if data[12:14] not in (b"\x08\x00", b"\x81\x00"):
            continue
        aux = None
        for level, typ, val in anc:
            if level == SOL_PACKET and typ == PACKET_AUXDATA:
                aux = struct.unpack("IIIHHHH", val[:20])
        frames.append((data, aux))

def check(data, aux):
    """Return (problems, facts) for one captured frame."""
    bad, f = [], {}
    f["dst_mac"], f["src_mac"] = mac(data[0:6]), mac(data[6:12])
    etype, l3 = struct.unpack("!H", data[12:14])[0], 14
    f["vlan"] = None
    if aux and aux[0] & TP_STATUS_VLAN_VALID:  # tag moved to metadata by the kernel
        tpid = aux[6] if aux[0] & TP_STATUS_VLAN_TPID_VALID else 0x8100
        f["vlan"] = (tpid, aux[5])
    elif etype == 0x8100:
        f["vlan"] = (0x8100, struct.unpack("!H", data[14:16])[0])
        etype, l3 = struct.unpack("!H", data[16:18])[0], 18
    if etype != 0x0800:
        return ["ethertype 0x%04x, not IPv4" % etype], f
    ip = data[l3:]
    if len(ip) < 28:
        return ["frame too short: %d bytes of IPv4" % len(ip)], f
    f["ttl"], proto = ip[8], ip[9]
    f["ip_len"] = struct.unpack("!H", ip[2:4])[0]
    f["ip_csum_ok"] = csum_ok(ip[:20])
    if ip[0] != 0x45:
        bad.append("version/IHL 0x%02x" % ip[0])
    if proto != 17:
        bad.append("protocol %d" % proto)
    if socket.inet_ntoa(ip[12:16]) != ns_ip or socket.inet_ntoa(ip[16:20]) != dut_ip:
        bad.append("addresses %s -> %s" % (socket.inet_ntoa(ip[12:16]),
                                           socket.inet_ntoa(ip[16:20])))
    l4 = ip[20:]
    f["l4_present"] = len(l4)
    sport, dport, ulen, ucsum = struct.unpack("!HHHH", l4[:8])
    f["udp_len"], f["udp_csum"] = ulen, ucsum
    if (sport, dport) != (40000, port):
        bad.append("ports %d -> %d" % (sport, dport))
    if ucsum and ulen <= len(l4):
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, ulen)
        f["udp_csum_ok"] = csum_ok(pseudo + l4[:ulen])
    else:
        f["udp_csum_ok"] = None
    text = ("rawsend " + kind).encode()
    if not l4[8:].startswith(text[:len(l4) - 8]):
        bad.append("payload %r" % l4[8:40])
    return bad, f

def expect(f):
    """What KIND promises, as (fact, expected value) pairs."""
    good = {"dst_mac": host_mac, "vlan": None, "ttl": 64, "ip_csum_ok": True,
            "ip_len": 60, "udp_len": 40, "l4_present": 40, "udp_csum_ok": True}
    changes = {
        "good": {},
        "bad-ip-csum": {"ip_csum_ok": False},
        "trunc-udp": {"ip_len": 40, "udp_len": 100, "l4_present": 20, "udp_csum": 0,
                      "udp_csum_ok": None},
        "wrong-mac": {"dst_mac": WRONG_MAC},
        "ttl0": {"ttl": 0},
        "bad-udp-csum": {"udp_csum_ok": False},
        "vlan-good": {"vlan": (0x8100, 0)},
    }[kind]
    good.update(changes)
    return good

problems = []
if len(frames) != count:
    problems.append("captured %d frames, expected %d" % (len(frames), count))
for n, (data, aux) in enumerate(frames):
    bad, facts = check(data, aux)
    for key, want in expect(facts).items():
        if key in facts and facts[key] != want:
            bad.append("%s = %r, expected %r" % (key, facts[key], want))
        elif key not in facts:
            bad.append("%s missing" % key)
    if kind == "bad-udp-csum" and not facts.get("udp_csum"):
        bad.append("UDP checksum is zero (means none), expected a wrong one")
    problems += ["frame %d: %s" % (n + 1, b) for b in bad]
if accept == "yes" and accepted != count:
    problems.append("kernel delivered %d of %d datagrams, expected all" % (accepted, count))
if accept == "no" and accepted != 0:
    problems.append("kernel delivered %d of %d datagrams, expected none" % (accepted, count))
for p in problems:
    print("FAIL: rawsend %s: %s" % (kind, p))
if problems:
    sys.exit(1)
print("ok: rawsend %s: %d frames with the intended fields (kernel delivered %d)"
      % (kind, count, accepted))
EOF

# run_expect WHAT RC_WANT GREP_WANT CMD...: run CMD; check exit status and
# (when GREP_WANT is not empty) that its output matches the regex.
run_expect()
{
	local what=$1 want=$2 pattern=$3 out rc=0

	shift 3
	out=$("$@" 2>&1) || rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	if [[ "$want" == nonzero && $rc -eq 0 ]] || [[ "$want" != nonzero && $rc -ne "$want" ]]; then
		cw_failed "$what: exit status $rc, expected $want"
		return 0
	fi
	if [[ -n "$pattern" ]] && ! grep -qE -- "$pattern" <<<"$out"; then
		cw_failed "$what: output does not match /$pattern/"
		return 0
	fi
	cw_pass "$what (exit $rc)"
}

cw_setup_netns tools
cw_check_eq "interface name length <= 15" 1 $(( ${#CW_IF_HOST} <= 15 && ${#CW_IF_NS} <= 15 ))
cw_check_eq "host side has no IPv4 address" "" "$(ip -4 -o addr show dev "$CW_IF_HOST")"
cw_check_eq "IPv6 off on host side" 1 "$(cat "/proc/sys/net/ipv6/conf/$CW_IF_HOST/disable_ipv6")"
cw_check_eq "IPv6 off in namespace" 1 "$(cw_ns cat "/proc/sys/net/ipv6/conf/$CW_IF_NS/disable_ipv6")"

# The host side plays the DUT for this test only.
ip addr add "$CW_DUT_IP/$CW_PREFIX_LEN" dev "$CW_IF_HOST"

cw_ns_spawn python3 -u "$tmp/servers.py" "$CW_NS_IP" "$PORT" >"$tmp/servers.log" 2>&1
server_pid=$CW_SPAWN_PID
for ((i = 0; i < 50; i++)); do
	grep -q ready "$tmp/servers.log" && break
	cw_alive "$server_pid" || cw_fail "echo servers died: $(cat "$tmp/servers.log")"
	sleep 0.1
done
grep -q ready "$tmp/servers.log" || cw_fail "echo servers not ready"

echo "== udpcheck"
run_expect "udpcheck echo 1 100 1400 8000" 0 \
	'size 8000: 1/1 echoed exactly' "$UDPCHECK" "$CW_NS_IP" "$PORT" 1 100 1400 8000
run_expect "udpcheck -n 20, sizes 1..65507" 0 'size 65507: 20/20 echoed exactly' \
	"$UDPCHECK" -n 20 "$CW_NS_IP" "$PORT" 1 2 3 4 1472 1473 65507
run_expect "udpcheck fails on a dead port" nonzero 'timeout' \
	"$UDPCHECK" -t 200 "$CW_NS_IP" "$DEAD_PORT" 100
run_expect "udpcheck catches a corrupted byte" nonzero 'byte mismatch at offset 50' \
	"$UDPCHECK" -t 300 "$CW_NS_IP" $((PORT + 1)) 100 1400
run_expect "udpcheck catches a short reply" nonzero 'wrong length: got 99 bytes, expected 100' \
	"$UDPCHECK" -t 300 "$CW_NS_IP" $((PORT + 2)) 100
run_expect "udpcheck catches a reply from another port" nonzero 'came from' \
	"$UDPCHECK" -t 300 "$CW_NS_IP" $((PORT + 3)) 100
run_expect "udpcheck skips duplicate echoes" 0 'duplicate echoes ignored' \
	"$UDPCHECK" -n 10 "$CW_NS_IP" $((PORT + 4)) 1 100 8000
run_expect "udpcheck rejects size 0" 2 '' "$UDPCHECK" "$CW_NS_IP" "$PORT" 0
run_expect "udpcheck rejects size 65508" 2 '' "$UDPCHECK" "$CW_NS_IP" "$PORT" 65508

cw_kill_pid "$server_pid"

echo "== rawsend"
run_expect "rawsend rejects an unknown KIND" 2 'unknown KIND' \
	"$RAWSEND" "$CW_IF_HOST" "$CW_MAC_HOST" "$CW_DUT_IP" 9 bogus
run_expect "rawsend rejects a bad MAC" 2 'bad MAC' \
	"$RAWSEND" "$CW_IF_HOST" 02:00:00:00:00 "$CW_DUT_IP" 9 good
# Linux drops these in its own stack (L4 checksums on veth may be trusted
# without checking, and TTL is not checked for local delivery: info only).
declare -A accept=([good]=yes [vlan-good]=yes [bad-ip-csum]=no [trunc-udp]=no
	[wrong-mac]=no [bad-udp-csum]=info [ttl0]=info)
for kind in good bad-ip-csum trunc-udp wrong-mac ttl0 bad-udp-csum vlan-good; do
	run_expect "rawsend $kind" 0 "^ok: rawsend $kind" \
		python3 "$tmp/rawcheck.py" "$CW_IF_HOST" "$CW_NS" "$CW_IF_NS" "$RAWSEND" \
		"$CW_MAC_NS" "$CW_NS_IP" "$CW_MAC_HOST" "$CW_DUT_IP" "$RAW_PORT" "$kind" 3 \
		"${accept[$kind]}"
done

cw_summary
