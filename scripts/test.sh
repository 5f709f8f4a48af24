#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the whole suite through
# ctest, then the unit tests again under ASan+UBSan.
#   scripts/test.sh            everything
#   KMSFS_SKIP_ASAN=1 ...      skip the sanitizer pass (local iteration only)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
jobs=$(nproc)

if [[ "${CI:-}" == "true" && ! -c /dev/fuse ]]; then
  echo "test.sh: CI=true but /dev/fuse is missing: the FUSE tests cannot run" >&2
  exit 2
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKMSFS_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 900)

if [[ "${KMSFS_SKIP_ASAN:-}" != "1" ]]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKMSFS_WERROR=ON \
    -DKMSFS_SANITIZE=address,undefined -DKMSFS_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -L unit --output-on-failure -j"$jobs" --timeout 900)
fi
