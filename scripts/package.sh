#!/usr/bin/env bash
# Builds the Debian package of kmsfs (kmsfs, kmsd, systemd units, man pages)
# with CPack from a Release build, and prints the path of the .deb.
#
# Usage: scripts/package.sh            (build dir: build-package)
#   KMSFS_PACKAGE_BUILD_DIR=DIR        another build directory
# Install it with `dpkg -i FILE.deb` (apt-get -f install pulls what it needs).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build="${KMSFS_PACKAGE_BUILD_DIR:-build-package}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DKMSFS_BUILD_TESTS=OFF -DKMSFS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"
(cd "$build" && cpack -G DEB >/dev/null)
ls -1 "$(realpath "$build")"/kmsfs_*.deb
