#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run a libFuzzer target for a fixed, seeded number of iterations over the
# committed corpus, as a meson test: exit 0 and "1 passed, 0 failed", or
# exit 1 and "0 passed, 1 failed" (a crash, a trap, a leak or a timeout).
#
#   run.sh FUZZER CORPUS_DIR [libFuzzer options...]
#
# libFuzzer adds the inputs it finds to the first corpus directory it is
# given, so that is a scratch directory and the committed corpus comes
# second, read only. A crashing input is saved as ./crash-<sha1> in the
# working directory (meson's: the build directory).
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 FUZZER CORPUS_DIR [libFuzzer options...]" >&2
	exit 2
fi
fuzzer=$1
corpus=$2
shift 2

scratch=$(mktemp -d "${TMPDIR:-/tmp}/cw-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT INT TERM

"$fuzzer" -runs=200000 -seed=1 -max_len=2048 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 "$@" "$scratch" "$corpus"
rc=$?
if [ $rc -eq 0 ]; then
	echo "1 passed, 0 failed"
	exit 0
fi
echo "$(basename "$fuzzer") exited with status $rc"
echo "0 passed, 1 failed"
exit 1
