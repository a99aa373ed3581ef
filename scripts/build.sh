#!/usr/bin/env bash
# Configure (once) and build a meson build directory.
#   scripts/build.sh [DIR [meson setup options...]]     default DIR: build
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$@"
fi
ninja -C "$dir"
