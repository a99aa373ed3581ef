#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Rebuild conf/causeway.dict, the zstd dictionary the tunnel compresses
# Kubernetes JSON bodies with (DESIGN.md §4: its id is agreed in Hello).
#
# The training set is synthetic on purpose: a dictionary trained on a real
# cluster's objects would ship that cluster's names, addresses and CA in
# every agent. gen-k8s-objects.py writes objects shaped exactly as the API
# server serves them (field order, managedFields, status, node images...),
# so the dictionary learns the structure every cluster shares and none of
# the values that identify one. An operator with a different workload mix
# can train on their own objects instead:
#     kubectl get pods -A -o json | jq -c '.items[]' | split -l 1 - objs/pod-
#     (rename to *.json)  causewayctl dict train -o my.dict objs/
#
# Reproducible: a fixed seed and count, the generator's own deterministic
# random stream, samples read in name order, zstd's default trainer
# (single-threaded, fixed parameters) and a content-derived dictionary id.
# Running this twice gives identical bytes; another zstd or Python release may
# train a different dictionary, which is why the file is committed rather
# than built.
#
# perf/compress-ratio.sh measures the result on a set generated with
# another seed, so the figures are not measured on the training data.
#
#     conf/dict/regen.sh [BUILDDIR]      (default: build; needs causewayctl)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
ctl=$build/causewayctl

# 8000 objects, about 28 MB: zstd wants at least ~100x the dictionary size.
SEED=1
COUNT=8000

if [ ! -x "$ctl" ]; then
	echo "regen.sh: $ctl not found: build first (meson setup build && ninja -C build)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

python3 "$here/gen-k8s-objects.py" --seed "$SEED" --count "$COUNT" "$tmp/objects"
"$ctl" dict train -o "$root/conf/causeway.dict" "$tmp/objects"
