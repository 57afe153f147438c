#!/usr/bin/env bash
# Builds nearcache's libFuzzer targets (clang, ASan+UBSan, a build directory
# of their own) and runs each for a fixed time, one after the other. Exits
# non-zero when a target crashes, leaks, times out or runs out of memory;
# the input that did it is saved and the command to replay it is printed.
# See docs/fuzzing.md.
#
#   tests/fuzz/run_fuzzers.sh                  every target, 20 s each
#   tests/fuzz/run_fuzzers.sh --seconds 1800   the long run: 30 min each
#   tests/fuzz/run_fuzzers.sh --target fuzz_config --seconds 600
#
# Options:
#   --seconds N     how long each target runs (default 20)
#   --target NAME   run only this target (repeatable)
#   --build-dir D   the fuzz build directory (default build-fuzz; reused)
#   --list          print the target names and exit
#
# Each target starts from its committed seeds (tests/fuzz/corpus/<target>/,
# read-only) and from what earlier runs found (<build dir>/corpus/<target>/,
# which grows run after run). Logs: <build dir>/logs/<target>.log; crash
# inputs: <build dir>/artifacts/.
set -euo pipefail

# All in a function: bash parses it whole before running it, so editing
# this file during a long run does not change the run.
main() {
  root=$(cd "$(dirname "$0")/../.." && pwd)

  seconds=20
  build_dir="$root/build-fuzz"
  targets=()
  all_targets=(fuzz_request_parser fuzz_reply_writer fuzz_config
    fuzz_config_values fuzz_resp_handler fuzz_http_api)

  while [ $# -gt 0 ]; do
    case "$1" in
      --seconds) seconds=$2; shift 2 ;;
      --target) targets+=("$2"); shift 2 ;;
      --build-dir) build_dir=$2; shift 2 ;;
      --list) printf '%s\n' "${all_targets[@]}"; exit 0 ;;
      -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) echo "run_fuzzers: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
  done
  case "$seconds" in
    ''|*[!0-9]*) echo "run_fuzzers: --seconds takes a whole number" >&2; exit 2 ;;
  esac

  if ! command -v clang++ >/dev/null; then
    echo "run_fuzzers: clang++ not found: run scripts/install-deps.sh" >&2
    exit 2
  fi

  jobs=$(nproc 2>/dev/null || echo 2)
  echo "==> build $build_dir (clang, libFuzzer, ASan+UBSan)"
  if [ ! -f "$build_dir/build.ninja" ]; then
    CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNEARCACHE_FUZZ=ON \
      -DNEARCACHE_BUILD_TESTS=OFF -DNEARCACHE_BUILD_BENCH=OFF >/dev/null
  fi
  cmake --build "$build_dir" --target nearcache_fuzzers -j "$jobs"

  fuzz_bin="$build_dir/tests/fuzz"
  if [ ${#targets[@]} -eq 0 ]; then
    # Targets whose sources are not in this tree (a layer not built yet) are
    # not configured: run what exists.
    for t in "${all_targets[@]}"; do
      [ -x "$fuzz_bin/$t" ] && targets+=("$t")
    done
  fi

  # The sanitizers' own settings, whatever the caller's environment says.
  export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

  mkdir -p "$build_dir/logs" "$build_dir/artifacts"
  # A figure from the final stats of a log.
  fuzz_stat() { sed -n "s/^stat::$2: *//p" "$1"; }
  failed=()
  for t in "${targets[@]}"; do
    bin="$fuzz_bin/$t"
    if [ ! -x "$bin" ]; then
      echo "run_fuzzers: no target $t (see --list)" >&2
      exit 2
    fi
    seeds="$root/tests/fuzz/corpus/$t"
    work="$build_dir/corpus/$t"
    log="$build_dir/logs/$t.log"
    mkdir -p "$work"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
      -max_len=16384 -print_final_stats=1
      -artifact_prefix="$build_dir/artifacts/$t-")
    case "$t" in
      fuzz_config) args+=(-dict="$root/tests/fuzz/config.dict") ;;
      fuzz_request_parser|fuzz_resp_handler)
        args+=(-dict="$root/tests/fuzz/resp.dict") ;;
      fuzz_http_api) args+=(-dict="$root/tests/fuzz/http.dict") ;;
    esac
    echo "==> $t: ${seconds}s"
    status=0
    "$bin" "${args[@]}" "$work" "$seeds" >"$log" 2>&1 || status=$?
    echo "    $(fuzz_stat "$log" number_of_executed_units) runs, $(fuzz_stat "$log" average_exec_per_sec)" \
      "exec/s, $(ls "$work" | wc -l) inputs in the corpus, peak" \
      "$(fuzz_stat "$log" peak_rss_mb) MB"
    if [ "$status" -ne 0 ]; then
      failed+=("$t")
      echo "!!! $t failed (exit $status); the end of $log:" >&2
      grep -v '^#[0-9]' "$log" | tail -n 40 >&2
      artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
      if [ -n "$artifact" ]; then
        echo "!!! replay: $bin $artifact" >&2
      fi
    fi
  done

  if [ ${#failed[@]} -gt 0 ]; then
    echo "==> fuzzing FAILED: ${failed[*]}" >&2
    exit 1
  fi
  echo "==> fuzzing passed: ${targets[*]} (${seconds}s each)"
}

main "$@"
