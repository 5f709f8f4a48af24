#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan+UBSan, coverage
# instrumentation in every library) and runs each, one after another, for a
# bounded time on a fresh copy of its committed seed corpus.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#   KMSFS_FUZZ_TARGETS="fuzz_envelope fuzz_file_header"   run only these
#   KMSFS_FUZZ_BUILD_DIR=DIR                              build dir (default build-fuzz)
#
# Exit status: 0 when every target ran clean; 1 at the first crash (the
# message names the reproducer file and the command that replays it); 2 for a
# usage or build error. Work files (corpus copies, logs, reproducers) stay in
# BUILD_DIR/fuzz-runs/<target>/.
#
# A crash is fixed in the code, and its reproducer is committed to
# tests/fuzz/regressions/<target>/: the <target>_replay unit tests (built by
# every compiler, run by ctest and scripts/test.sh) replay corpus/ and
# regressions/ on every change.
#
# The configure line, for building by hand:
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
#     -DKMSFS_BUILD_FUZZ=ON -DKMSFS_SANITIZE=address,undefined \
#     -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link -DKMSFS_BUILD_TESTS=OFF -DKMSFS_BUILD_BENCH=OFF
#   cmake --build build-fuzz --target fuzzers
# -fsanitize=fuzzer-no-link must be in CMAKE_CXX_FLAGS (not added later by
# tests/fuzz) so that the libraries under test get coverage instrumentation;
# the fuzz executables themselves link with -fsanitize=fuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(fuzz_file_header fuzz_volume_config fuzz_block_open fuzz_name_codec fuzz_envelope fuzz_kmsd_request
  fuzz_kms_answer fuzz_kms_error fuzz_iam_answer)
seconds="${1:-60}"
if [[ $# -gt 1 || ! "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2
  exit 2
fi
read -r -a targets <<<"${KMSFS_FUZZ_TARGETS:-${all_targets[*]}}"
for t in "${targets[@]}"; do
  if [[ ! -d "tests/fuzz/corpus/$t" ]]; then
    echo "fuzz.sh: unknown target $t (known: ${all_targets[*]})" >&2
    exit 2
  fi
done
build="$(realpath -m "${KMSFS_FUZZ_BUILD_DIR:-build-fuzz}")"

scripts/install-deps.sh
echo "== configure and build the fuzz targets in $build"
if ! CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKMSFS_BUILD_FUZZ=ON -DKMSFS_SANITIZE=address,undefined \
  -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link -DKMSFS_BUILD_TESTS=OFF -DKMSFS_BUILD_BENCH=OFF >/dev/null; then
  echo "fuzz.sh: configure failed (a build dir made with another compiler? remove $build)" >&2
  exit 2
fi
if ! cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"; then
  echo "fuzz.sh: build failed" >&2
  exit 2
fi

# UBSan findings are fatal already (-fno-sanitize-recover=all); show where.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

for t in "${targets[@]}"; do
  run="$build/fuzz-runs/$t"
  rm -rf "$run"
  mkdir -p "$run/corpus"
  cp tests/fuzz/corpus/"$t"/* "$run/corpus/"
  dict=()
  if [[ -f "tests/fuzz/dict/$t.dict" ]]; then dict=(-dict="tests/fuzz/dict/$t.dict"); fi
  echo "== $t: ${seconds}s on $(ls "$run/corpus" | wc -l) seed inputs"
  status=0
  "$build/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$run/" "${dict[@]}" "$run/corpus" >"$run/log" 2>&1 || status=$?
  if [[ $status -ne 0 ]]; then
    echo "fuzz.sh: $t CRASHED (exit $status); the end of its log ($run/log):" >&2
    tail -n 40 "$run/log" >&2
    reproducer=$(ls -t "$run"/crash-* "$run"/leak-* "$run"/timeout-* "$run"/oom-* "$run"/slow-unit-* 2>/dev/null \
      | head -n 1 || true)
    if [[ -n "$reproducer" ]]; then
      echo "fuzz.sh: reproducer: $reproducer" >&2
      echo "fuzz.sh: replay with: $build/fuzz/$t $reproducer" >&2
      echo "fuzz.sh: once fixed, keep it: mkdir -p tests/fuzz/regressions/$t &&" \
        "cp $reproducer tests/fuzz/regressions/$t/" >&2
    else
      echo "fuzz.sh: no reproducer file was written; see $run/log" >&2
    fi
    exit 1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$run/log" | tail -n 1)
  echo "   clean: ${execs:-?} executions, $cov, corpus grew to $(ls "$run/corpus" | wc -l) inputs"
done
echo "== fuzz.sh: every target ran ${seconds}s without a crash"
