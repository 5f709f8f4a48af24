#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test:
#   1. the whole suite through ctest (unit, integration against a real kmsd,
#      and FUSE tests that really mount), built with -Werror;
#   2. under ASan+UBSan (kmsd and the mount daemon too): every unit and
#      kmsd/client integration test, and the FUSE tests that feed the daemon
#      hostile or failing backing state (the rest of the FUSE suite repeats
#      the same daemon paths and would double the script's time);
#   3. the cache, the per-file read-modify-write, the inode table, the
#      speculative-feature, work-queue and KMS-executor tests under TSan;
#   4. every translation unit of every target (benches too) that includes
#      base/mutex.h through clang's -Wthread-safety -Werror (the lock
#      contracts are all declared there: other units hold none).
#   KMSFS_SKIP_SANITIZERS=1   skip passes 2 to 4 (local iteration only)
# Debug information is left out (pass 1) or cut to line tables (passes 2 and
# 3, for sanitizer reports): on two cores it is a third of the compile time.
# Pass 1 compiles the tests' own code at -O0 (KMSFS_UNOPTIMIZED_TEST_CODE):
# half a test unit's compile time; the code under test keeps -O2.
# A test binary of several units is compiled in batches of eight units
# (KMSFS_UNITY_TESTS, passes 1 to 3): a third of the compile time of the
# multi-unit test binaries (kmsd's, format, crypto, base, KMS client).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
jobs=$(nproc)

if [[ "${CI:-}" == "true" && ! -c /dev/fuse ]]; then
  echo "test.sh: CI=true but /dev/fuse is missing: the FUSE tests cannot run" >&2
  exit 2
fi

# Each pass prints when it starts and how long the script has run, so a slow
# pass shows in CI's log.
started=$SECONDS
step() { echo "== $(date -u +%H:%M:%S) (+$((SECONDS - started)) s) $*"; }

step "build and run every test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" \
  -DKMSFS_UNOPTIMIZED_TEST_CODE=ON \
  -DKMSFS_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 900)

if [[ "${KMSFS_SKIP_SANITIZERS:-}" != "1" ]]; then
  step "unit, integration and hostile-backing FUSE tests under ASan+UBSan"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DKMSFS_WERROR=ON \
    -DKMSFS_SANITIZE=address,undefined -DKMSFS_BUILD_BENCH=OFF >/dev/null
  asan_fuse_targets=(mount_posix_test enospc_test names_test volume_substitution_test
    backing_swap_test random_ops_test namespace_race_test faults_test cut_backing_file_test)
  asan_fuse_tests='^(HeaderModes/MountPosixTest|CacheModes/EnospcTest|NamesTest|VolumeSubstitutionTest|BackingSwapTest|RandomOpsTest|NamespaceRaceTest|FaultsTest|CutBackingFileTest)\.'
  cmake --build build-asan -j"$jobs" --target kmsd kmsfs unit_tests kms_client_integration_test \
    kmsd_integration_test cli_test cli_output_test "${asan_fuse_targets[@]}"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -L 'unit|integration' -E '^DebianPackageTest\.' \
    --output-on-failure -j"$jobs" --timeout 900)
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -L fuse -R "$asan_fuse_tests" \
    --output-on-failure -j"$jobs" --timeout 900)

  step "cache, read-modify-write, inode table, hint, work-queue and KMS-executor tests under TSan"
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DKMSFS_WERROR=ON \
    -DKMSFS_SANITIZE=thread -DKMSFS_BUILD_BENCH=OFF >/dev/null
  tsan_targets=(dek_cache_test dek_pool_test crypt_file_test sibling_readahead_test
    inode_table_test tree_test hints_test work_queue_test kms_executor_test)
  cmake --build build-tsan -j"$jobs" --target "${tsan_targets[@]}"
  (cd build-tsan && TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/../tests/sanitizers/tsan.supp" ctest -R "DekCache|DekPool|CryptFile|SiblingReadahead|InodeTable|TreeTest|Hints|WorkQueue|KmsExecutor" --output-on-failure \
    -j"$jobs" --timeout 900)

  step "every unit with lock contracts under clang -Wthread-safety -Werror"
  # The analysis is clang's front end: every unit is checked with
  # -fsyntax-only (same diagnostics as a build, no code generation).
  cmake -S . -B build-tsa -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DKMSFS_THREAD_SAFETY=ON \
    -DKMSFS_WERROR=ON -DKMSFS_BUILD_BENCH=ON -DKMSFS_TEST_PCH=OFF -DKMSFS_UNITY_TESTS=OFF >/dev/null
  scripts/check-thread-safety.py build-tsa "$jobs"
fi
step "all passes done"
