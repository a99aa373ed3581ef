#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine, as root: install, build, and run
# causewayd (conf/demo.conf) on a veth whose peer is in the namespace cw-demo
# at 198.18.0.2. A ping runs from the namespace so the counters move; try
#   ip netns exec cw-demo ping 198.18.0.1
#   echo hi | ip netns exec cw-demo nc -u -w1 198.18.0.1 7
# Ctrl-C stops causewayd (final statistics) and removes the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/build.sh build

NS=cw-demo
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip link del cwdemo0 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
cleanup

ip netns add "$NS"
ip link add cwdemo0 type veth peer name cwdemo1
ip link set cwdemo1 netns "$NS"
sysctl -qw net.ipv6.conf.cwdemo0.disable_ipv6=1
ip link set cwdemo0 up
ip -n "$NS" addr add 198.18.0.2/24 dev cwdemo1
ip -n "$NS" link set cwdemo1 up
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
# The kernel would hand AF_PACKET unchecksummed or oversized (GSO) frames.
ip netns exec "$NS" ethtool -K cwdemo1 tx off sg off tso off gso off >/dev/null

ip netns exec "$NS" ping -q -i 1 198.18.0.1 >/dev/null 2>&1 &
pids+=($!)
build/causewayd -c conf/demo.conf &
pids+=($!)
echo "demo: causewayd pid ${pids[1]} at 198.18.0.1 (namespace $NS at 198.18.0.2); Ctrl-C to stop"
# Ctrl-C reaches causewayd directly (same process group): wait for it to
# print its final statistics and exit.
wait "${pids[1]}" || true
