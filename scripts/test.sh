#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test
# through ctest, first in a RelWithDebInfo build, then in an ASan+UBSan build,
# then runs each libFuzzer target briefly (clang build).
# Tests start their own redis-server on temporary sockets; nothing outside the
# build directories is touched. Exits non-zero on any failure.
#
#   scripts/test.sh            both builds
#   NEARCACHE_SKIP_SANITIZE=1 scripts/test.sh   skip the ASan+UBSan build
#   NEARCACHE_SKIP_FUZZ=1 scripts/test.sh       skip the short libFuzzer run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/scripts/install-deps.sh"

jobs=$(nproc 2>/dev/null || echo 2)
run_suite() {
  local dir=$1
  shift
  echo "==> build $dir ($*)"
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "==> ctest $dir"
  # Integration tests start redis-server processes: run two tests at a time.
  ctest --test-dir "$dir" --output-on-failure -j 2 --timeout 300
}

run_suite "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${NEARCACHE_SKIP_SANITIZE:-0}" != "1" ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DNEARCACHE_SANITIZE=ON \
    -DNEARCACHE_BUILD_BENCH=OFF
fi
if [ "${NEARCACHE_SKIP_FUZZ:-0}" != "1" ]; then
  echo "==> fuzzers, short run (docs/fuzzing.md has the long one)"
  "$root/tests/fuzz/run_fuzzers.sh" --seconds 12
fi
echo "==> all tests passed"
