#!/usr/bin/env bash
# Builds everything with ThreadSanitizer and runs the concurrent tests: the
# DEK cache and pool, CryptFile's per-file locking, and the FUSE tests that
# drive a mount from many threads (the mount daemon itself runs under TSan
# and aborts on the first race, which fails the test).
# Separate from scripts/test.sh (which runs the cache and CryptFile under
# TSan) because a full TSan build adds several minutes to CI.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-tsan-full -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKMSFS_WERROR=ON \
  -DKMSFS_SANITIZE=thread -DKMSFS_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan-full -j"$(nproc)"
cd build-tsan-full
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --output-on-failure -j"$(nproc)" --timeout 900 \
  -R 'DekCache|DekPool|CryptFile|ConcurrentWriters|RandomOpsTest|KilledDaemon|SyncAllocateMmapAndManyHandles|GrantsTest.TwoMounts'
