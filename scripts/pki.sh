#!/usr/bin/env bash
# A throwaway PKI for demos and tests (not for production): a CA, the
# gateway's certificate and one certificate per edge node, all ECDSA P-256.
#
#   scripts/pki.sh DIR GATEWAY NODE...
#
# GATEWAY is the address or DNS name agents dial (it becomes the gateway
# certificate's IP or DNS SAN). Writes DIR/ca.{crt,key},
# DIR/gateway.{crt,key} and DIR/NODE.{crt,key} with CN=node:NODE, the
# subject causewayd takes the node name from (tunnel/PROTOCOL.md §7.1).
set -euo pipefail

[ $# -ge 3 ] || {
	echo "usage: $0 DIR GATEWAY NODE..." >&2
	exit 2
}
dir=$1 gw=$2
shift 2
mkdir -p "$dir"

# leaf NAME SUBJECT EXTENSION
leaf() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
		-keyout "$dir/$1.key" -out "$dir/$1.csr" 2>/dev/null
	printf '%s\n' "$3" >"$dir/$1.ext"
	openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-CAcreateserial -days 2 -extfile "$dir/$1.ext" -out "$dir/$1.crt" 2>/dev/null
	rm -f "$dir/$1.csr" "$dir/$1.ext"
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=causeway-test-ca -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
if [[ "$gw" =~ ^[0-9.]+$ || "$gw" == *:* ]]; then
	leaf gateway /CN=gateway "subjectAltName=IP:$gw"
else
	leaf gateway /CN=gateway "subjectAltName=DNS:$gw"
fi
for node in "$@"; do
	leaf "$node" "/CN=node:$node" "extendedKeyUsage=clientAuth"
done
