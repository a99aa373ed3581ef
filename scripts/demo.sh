#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine, as root: install, build, and run
# causewayd (conf/demo.conf) on a veth whose peer is in the namespace cw-demo
# at 198.18.0.2, where an edge node lives: causeway-agent dials the gateway's
# tunnel (UDP 10262) and nginx serves on 127.0.0.1:10250 behind it. Certificates
# for the demo are made in a temporary directory. Try
#   build/causewayctl status                     # the connected edge node
#   curl -x http://127.0.0.1:10265 http://edge-demo:10250/   # via the ingress
#   ip netns exec cw-demo ping 198.18.0.1
#   echo hi | ip netns exec cw-demo nc -u -w1 198.18.0.1 7
# Ctrl-C stops causewayd (final statistics) and removes everything.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/build.sh build

NS=cw-demo
pids=()
tmp=''
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip link del cwdemo0 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
cleanup
tmp=$(mktemp -d /tmp/cw-demo.XXXXXX)
chmod 755 "$tmp"

# A CA, the gateway's certificate for 198.18.0.1 and the node's (CN=node:NAME).
scripts/pki.sh "$tmp" 198.18.0.1 edge-demo
sed -e "s|@DIR@|$tmp|g" -e "s|@REPO@|$PWD|g" conf/demo.conf >"$tmp/causeway.conf"
sed "s|@DIR@|$tmp|g" conf/demo-agent.conf >"$tmp/agent.conf"
printf 'Hello from edge-demo, through the Causeway tunnel.\n' >"$tmp/index.html"
cat >"$tmp/nginx.conf" <<NGINX
daemon off;
user root;
pid $tmp/nginx.pid;
error_log $tmp/nginx.log;
events {}
http { access_log off; server { listen 127.0.0.1:10250; root $tmp; } }
NGINX

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
ip netns exec "$NS" nginx -c "$tmp/nginx.conf" &
pids+=($!)
build/causewayd -c "$tmp/causeway.conf" &
gw=$!
pids+=("$gw")
sleep 2
ip netns exec "$NS" build/causeway-agent -c "$tmp/agent.conf" 2>"$tmp/agent.log" &
pids+=($!)
echo "demo: causewayd pid $gw at 198.18.0.1 (namespace $NS at 198.18.0.2, agent log" \
	"$tmp/agent.log); try: curl -x http://127.0.0.1:10265 http://edge-demo:10250/ ;" \
	"build/causewayctl status; Ctrl-C to stop"
# Ctrl-C reaches causewayd directly (same process group): wait for it to
# print its final statistics and exit.
wait "$gw" || true
