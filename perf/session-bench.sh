#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Issue 3's in-process tunnel benchmarks (perf/session_bench.c): builds
# session-bench in a release build directory, runs bulk, small messages,
# handshakes and idle memory, and prints each figure's median over the
# runs against its goal. One core, no I/O: both ends of every session run
# in this process, so the CPU figures are for both sides unless a line
# says "gateway side"; those come from one extra --split run (bulk, msgs)
# or from the handshake runs themselves.
#
#     perf/session-bench.sh [--runs N] [--build DIR] [--out FILE]
#
# Defaults: 3 runs, build-bench in the source root; --out keeps the raw
# JSON lines. Takes about a minute on a quiet 2-core machine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
runs=3
build=$root/build-bench
out=

while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: $0 [--runs N] [--build DIR] [--out FILE]" >&2; exit 2 ;;
	esac
done
case $runs in ''|*[!0-9]*|0) echo "session-bench.sh: --runs wants a positive number" >&2; exit 2 ;; esac

if [ ! -d "$build" ]; then
	meson setup "$build" "$root" --buildtype=release >/dev/null
fi
if [ "$(meson introspect "$build" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"][0])')" != release ]; then
	echo "session-bench.sh: $build is not a release build (meson setup --buildtype=release)" >&2
	exit 1
fi
ninja -C "$build" perf/session-bench >/dev/null
tool=$build/perf/session-bench

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# Pods as the API server serves them to an informer that strips
# managedFields, from a seed the dictionary was not trained on; the bench
# keeps those within a quarter of 2400 bytes.
python3 "$root/conf/dict/gen-k8s-objects.py" --seed 2 --count 300 --mix pod=1 \
	--no-managed-fields "$tmp/pods" >/dev/null
results=$tmp/results

# run LABEL ARGS...: one JSON line, tagged with LABEL.
run() {
	label=$1
	shift
	line=$("$tool" "$@" --json)
	printf '%s\t%s\n' "$label" "$line" >>"$results"
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
i=0
while [ "$i" -lt "$runs" ]; do
	run bulk bulk
	run msgs256 msgs --size 256 --count 100000
	run msgs256pre msgs --size 256 --count 100000 --precompressed
	run msgs2400 msgs --size 2400 --count 100000 --objects "$tmp/pods"
	run msgs2400pre msgs --size 2400 --count 100000 --objects "$tmp/pods" --precompressed
	run full handshakes --full --count 300
	run resumed handshakes --resumed --count 1000
	i=$((i + 1))
done
run bulk_split bulk --split
run msgs256_split msgs --size 256 --count 100000 --split
run msgs2400_split msgs --size 2400 --count 100000 --objects "$tmp/pods" --split
# Memory is a count, not a timing: one run each.
run idle idle --sessions 10000 --resumed
run idle_burst idle --sessions 1000 --resumed --burst 256K

[ -n "$out" ] && cp "$results" "$out"

model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "session-bench.sh: $(date -u '+%F %T') UTC, $model, $(nproc) CPUs, medians of $runs runs," \
	"load average before: $load"
python3 - "$results" <<'EOF'
import json, statistics, sys

runs = {}
for line in open(sys.argv[1]):
    label, js = line.rstrip("\n").split("\t", 1)
    runs.setdefault(label, []).append(json.loads(js))

def med(label, key):
    vals = [r[key] for r in runs.get(label, []) if key in r]
    return statistics.median(vals) if vals else float("nan")

def allv(label, key, fmt):
    return " ".join(fmt.format(r[key]) for r in runs.get(label, []) if key in r)

rows = [
    ("bulk 64 MiB, GB/s per core (both sides)", ">= 1.5", med("bulk", "gbps_cpu"), "{:.3f}", allv("bulk", "gbps_cpu", "{:.3f}")),
    ("bulk, GB/s per gateway core (--split)", ">= 1.5", med("bulk_split", "per_gateway_core"), "{:.3f}", ""),
    ("msgs 256 B, msgs/s per core", ">= 1 M", med("msgs256", "msgs_per_s"), "{:.0f}", allv("msgs256", "msgs_per_s", "{:.0f}")),
    ("msgs 256 B, bodies compressed once", ">= 1 M", med("msgs256pre", "msgs_per_s"), "{:.0f}", allv("msgs256pre", "msgs_per_s", "{:.0f}")),
    ("msgs 256 B, per gateway core (--split)", ">= 1 M", med("msgs256_split", "per_gateway_core"), "{:.0f}", ""),
    ("msgs 2.4 KiB pods, msgs/s per core", ">= 1 M", med("msgs2400", "msgs_per_s"), "{:.0f}", allv("msgs2400", "msgs_per_s", "{:.0f}")),
    ("msgs 2.4 KiB pods, compressed once", ">= 1 M", med("msgs2400pre", "msgs_per_s"), "{:.0f}", allv("msgs2400pre", "msgs_per_s", "{:.0f}")),
    ("msgs 2.4 KiB, per gateway core (--split)", ">= 1 M", med("msgs2400_split", "per_gateway_core"), "{:.0f}", ""),
    ("full handshakes/s per core (both sides)", "-", med("full", "per_s"), "{:.0f}", allv("full", "per_s", "{:.0f}")),
    ("full handshakes/s per gateway core", ">= 4000", med("full", "per_gateway_core"), "{:.0f}", allv("full", "per_gateway_core", "{:.0f}")),
    ("resumed handshakes/s per core (both sides)", "-", med("resumed", "per_s"), "{:.0f}", allv("resumed", "per_s", "{:.0f}")),
    ("resumed handshakes/s per gateway core", ">= 15000", med("resumed", "per_gateway_core"), "{:.0f}", allv("resumed", "per_gateway_core", "{:.0f}")),
    ("idle: gateway bytes/session (cw_alloc)", "-", med("idle", "cw_alloc_bytes"), "{:.0f}", ""),
    ("idle: gateway bytes/session (OpenSSL)", "-", med("idle", "openssl_bytes"), "{:.0f}", ""),
    ("idle: gateway bytes/session, total", "<= 4096", med("idle", "total_bytes"), "{:.0f}", ""),
    ("idle after a 256 KiB burst, total", "<= 4096", med("idle_burst", "total_bytes"), "{:.0f}", ""),
]
print("| %-44s | %-9s | %10s | %s" % ("measure", "goal", "median", "runs"))
print("|-%s-|-%s-|-%s-|-%s" % ("-" * 44, "-" * 9, "-" * 10, "-" * 24))
for name, goal, v, fmt, each in rows:
    print("| %-44s | %-9s | %10s | %s" % (name, goal, fmt.format(v), each))
# How noisy the machine was: time our thread sat runnable while another
# task had the core, against the CPU time it measured.
worst = 0.0
for label, rs in runs.items():
    for r in rs:
        cpu = r.get("cpu_s", r.get("us_each", 0) * r.get("handshakes", 0) / 1e6)
        if "wait_ms" in r and cpu > 0:
            worst = max(worst, r["wait_ms"] / 1e3 / cpu)
print("noise: at most %.1f %% of a timed run's CPU time spent waiting for the core" % (100 * worst))
wire = med("msgs2400", "wire_bytes"), med("msgs2400", "body_bytes")
print("2.4 KiB pods: %.0f-byte bodies, %.1f bytes on the stream per message" % (wire[1], wire[0]))
EOF
