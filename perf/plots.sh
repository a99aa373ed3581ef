#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The tunnel's benchmark plots (issue 4), SVG with gnuplot:
#
#   requests-vs-sessions.svg  API requests/s against sessions (20, 200,
#                             2,000, 20,000; 1 request in flight each), the
#                             DPDK and the socket backend from the same run
#   storm-latency-cdf.svg     request latency CDF before and during a
#                             reconnect storm (DPDK backend, 2,000
#                             sessions, a quarter of them reconnecting)
#
#   perf/plots.sh [--out DIR] [--quick] [--from DIR] [--png] [--build DIR] [--no-build]
#
# The runs are perf/tunnel-load.sh's (it needs root); their JSON lines and
# latency CDFs are kept in DIR/data (runs.json, cdf-*.txt) next to the
# plots, and --from DIR plots a saved DIR/data again without running
# anything. --quick: 20 to 2,000 sessions, shorter runs (about 2
# minutes, against 6 to 8 for the default). --png: a PNG of each plot too.
# Default DIR: perf/plots.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
OUT=$here/plots FROM='' QUICK=0 PNG=0 LOAD_ARGS=()
while (($#)); do
	case $1 in
	--out) OUT=$2; shift 2 ;;
	--from) FROM=$2; shift 2 ;;
	--quick) QUICK=1; shift ;;
	--png) PNG=1; shift ;;
	--build) LOAD_ARGS+=(--build "$2"); shift 2 ;;
	--no-build) LOAD_ARGS+=(--no-build); shift ;;
	*)
		echo "usage: $0 [--out DIR] [--quick] [--from DIR] [--png] [--build DIR] [--no-build]" >&2
		exit 2
		;;
	esac
done
command -v gnuplot >/dev/null || { echo "plots.sh: needs gnuplot (scripts/deps.sh)" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(realpath -e "$OUT")
DATA=$OUT/data

if [[ -n $FROM ]]; then
	DATA=$(realpath -e "$FROM/data")
else
	if ((QUICK)); then
		LIST="20 200 2000" SECS=2 STORM_N=512 STORM_SECS=4
	else
		LIST="20 200 2000 20000" SECS=4 STORM_N=2000 STORM_SECS=8
	fi
	rm -rf "$DATA"
	mkdir -p "$DATA"
	for n in $LIST; do
		"$here/tunnel-load.sh" "${LOAD_ARGS[@]}" --sessions "$n" --inflight 1 --seconds "$SECS" \
			--modes requests --backends "dpdk socket" --save "$DATA"
		LOAD_ARGS+=(--no-build)
	done
	"$here/tunnel-load.sh" "${LOAD_ARGS[@]}" --sessions "$STORM_N" --inflight 1 \
		--seconds "$STORM_SECS" --storm $((STORM_N / 4)) --modes storm --backends dpdk \
		--save "$DATA"
	echo "$(date -u '+%F %H:%M') UTC, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)," \
		"commit $(git -C "$here" rev-parse --short HEAD)" >"$DATA/when.txt"
fi

# requests.dat (sessions, dpdk, socket requests/s) and the storm run's CDF
# file name and caption, from the saved JSON lines.
python3 - "$DATA" <<'EOF'
import json, sys
d = sys.argv[1]
runs = [json.loads(l) for l in open(f"{d}/runs.json")]
req = {}
for r in runs:
    if r["mode"] == "requests":
        req.setdefault(r["sessions"], {})[r["backend"]] = r["requests_per_s"]
with open(f"{d}/requests.dat", "w") as f:
    f.write("# sessions dpdk_requests_per_s socket_requests_per_s\n")
    for n in sorted(req):
        f.write(f"{n} {req[n].get('dpdk', 'NaN')} {req[n].get('socket', 'NaN')}\n")
storm = [r for r in runs if r["mode"] == "storm"][-1:]
with open(f"{d}/storm.txt", "w") as f:
    for r in storm:
        s = r["storm"]
        f.write(f"cdf-{r['backend']}-storm-{r['sessions']}.txt\n")
        f.write(f"{r['backend']}, {r['sessions']} sessions, {s['sessions']} reconnecting at"
                f" {s['handshakes_per_s']:.0f}/s\n")
EOF

when=$(cat "$DATA/when.txt" 2>/dev/null || echo "saved run")
plot()
{
	local gp=$1 data=$2 name=$3 sub=$4

	gnuplot -e "data='$data'; out='$OUT/$name.svg'; term='svg'; sub='$sub'" "$here/$gp"
	((PNG)) && gnuplot -e "data='$data'; out='$OUT/$name.png'; term='png'; sub='$sub'" "$here/$gp"
	echo "plots.sh: $OUT/$name.svg"
}
plot plot-requests.gp "$DATA/requests.dat" requests-vs-sessions "1 request in flight per session; $when"
if [[ -s $DATA/storm.txt ]]; then
	{ read -r cdf; read -r caption; } <"$DATA/storm.txt"
	plot plot-storm-cdf.gp "$DATA/$cdf" storm-latency-cdf "$caption; $when"
fi
