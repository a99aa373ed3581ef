#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Compression ratio of Kubernetes objects per type, with and without the
# shipped dictionary (conf/causeway.dict), at the tunnel's zstd level, then
# a level sweep. The objects are generated with a seed the dictionary was
# not trained on (regen.sh uses 1, this uses 2): another cluster's names,
# uids, addresses and CA, the same API shapes. Issue 3's goal: >= 8x on pod
# JSON with the dictionary.
#
#     perf/compress-ratio.sh [BUILDDIR]        (default: build)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build}
tool=$build/perf/compress-ratio
dict=$root/conf/causeway.dict
gen=$root/conf/dict/gen-k8s-objects.py
SEED=2
COUNT=2000

if [ ! -x "$tool" ]; then
	echo "compress-ratio.sh: $tool not found: build first (ninja -C $build)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

python3 "$gen" --seed "$SEED" --count "$COUNT" "$tmp/objects"
# Clients that strip managedFields (informers with a transform) see
# smaller pods: the dictionary must hold up on those too.
python3 "$gen" --seed "$SEED" --count 500 --mix pod=1 --no-managed-fields "$tmp/stripped"

echo "== objects as the API server serves them (seed $SEED, $COUNT objects)"
"$tool" -d "$dict" "$tmp/objects"
echo
echo "== pods without managedFields"
"$tool" -d "$dict" "$tmp/stripped" | grep -v '^all'
echo
echo "== level sweep (pods; comp/dec ns per object, with the dictionary)"
for level in 1 3 6 9; do
	printf 'level %-2s ' "$level"
	"$tool" -l "$level" -d "$dict" "$tmp/objects" | grep '^pod'
done
