#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test:
#   1. the whole suite through ctest (unit, integration against a real kmsd,
#      and FUSE tests that really mount), built with -Werror;
#   2. all of it again under ASan+UBSan (the binaries the tests start too);
#   3. the cache, the per-file read-modify-write, the inode table and the
#      speculative-feature tests under TSan.
#   KMSFS_SKIP_SANITIZERS=1   skip passes 2 and 3 (local iteration only)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
jobs=$(nproc)

if [[ "${CI:-}" == "true" && ! -c /dev/fuse ]]; then
  echo "test.sh: CI=true but /dev/fuse is missing: the FUSE tests cannot run" >&2
  exit 2
fi

echo "== build and run every test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKMSFS_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 900)

if [[ "${KMSFS_SKIP_SANITIZERS:-}" != "1" ]]; then
  echo "== every test again under ASan+UBSan (kmsd and the mount daemon too)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKMSFS_WERROR=ON \
    -DKMSFS_SANITIZE=address,undefined -DKMSFS_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs" --timeout 900)

  echo "== cache, read-modify-write, inode table and hint tests under TSan"
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKMSFS_WERROR=ON \
    -DKMSFS_SANITIZE=thread -DKMSFS_BUILD_BENCH=OFF >/dev/null
  tsan_targets=(dek_cache_test dek_pool_test crypt_file_test sibling_readahead_test
    inode_table_test tree_test hints_test)
  cmake --build build-tsan -j"$jobs" --target "${tsan_targets[@]}"
  (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest -R "DekCache|DekPool|CryptFile|SiblingReadahead|InodeTable|TreeTest|Hints" --output-on-failure \
    -j"$jobs" --timeout 900)
fi
