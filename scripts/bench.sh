#!/usr/bin/env bash
# The filesystem benchmark of docs/BENCHMARKS.md: native, passthrough_ll,
# gocryptfs and kmsfs side by side. tests/bench/fs/bench.py does the work and
# takes every option (scripts/bench.sh --help lists them).
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/../tests/bench/fs/bench.py" "$@"
