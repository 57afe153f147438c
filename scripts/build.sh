#!/usr/bin/env bash
# Configures and builds nearcache. Usage: scripts/build.sh [BUILD_DIR [cmake args...]]
# The binary lands in BUILD_DIR/src/app/nearcache (default BUILD_DIR: build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-"$root/build"}
shift || true
jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
fi
cmake --build "$dir" -j "$jobs"
