#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine, as root:
# installs dependencies, builds the normal and the ASan+UBSan trees, and runs
# every test (unit, configuration, integration in network namespaces, fuzz)
# in both. Exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/build.sh build -Dfuzz=enabled
scripts/build.sh build-asan -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug

status=0
for dir in build build-asan; do
	echo "==== meson test -C $dir ===="
	# Halt on the first UBSan report instead of printing and going on.
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ASAN_OPTIONS=detect_leaks=1 \
		meson test -C "$dir" --print-errorlogs --num-processes 1 || status=1
done
exit $status
