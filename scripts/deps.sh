#!/usr/bin/env bash
# Install what building, running and testing Causeway needs on Debian 12.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

PACKAGES=(
	build-essential meson ninja-build pkg-config
	libdpdk-dev dpdk dpdk-dev
	libprotobuf-c-dev protobuf-c-compiler libssl-dev libzstd-dev
	libhyperscan-dev liburcu-dev liblmdb-dev libjansson-dev libcmocka-dev libevent-dev
	libcurl4-openssl-dev
	iproute2 iputils-ping ethtool python3
	nginx-light curl openssl gnuplot-nox
	clang libclang-rt-14-dev
)
# kubectl for the tests against the fake apiserver and the edge hub:
# Debian's kubernetes-client, unless a kubectl is there already (another
# package's /usr/bin/kubectl would clash with it).
command -v kubectl >/dev/null || PACKAGES+=(kubernetes-client)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: need root to install: ${missing[*]}" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The tests start their own nginx inside namespaces; keep the package's
# service from starting on the host (the usual Debian container guard).
guard=''
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	guard=1
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" || { [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
[ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
