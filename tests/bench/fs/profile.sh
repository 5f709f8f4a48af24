#!/usr/bin/env bash
# Where the time goes: for each workload, the FUSE requests the kernel sends
# to passthrough_ll, gocryptfs and kmsfs, per opcode with their mean latency
# as the kernel sees it (from the fuse:fuse_request_send tracepoint to
# fuse:fuse_request_end: the wait for a daemon thread, the daemon's work and
# the answer's way back), and a CPU profile of the kmsfs daemon (perf record
# -e cpu-clock) split by library and by symbol.
#
#   tests/bench/fs/profile.sh [--build-dir D] [--files N] [--seq-mb N] [DIR]
#
# Uses the kmsfs and kmsd of the build dir (default REPO/build-bench, as
# scripts/bench.sh builds it without --no-build) and the tools scripts/bench.sh installs, plus
# perf (Debian: linux-perf). Needs root (perf on other processes, tracepoints,
# dropping caches). Output: Markdown on stdout; perf data under the work dir
# with --keep.
set -Eeuo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
helpers=$repo/tests/bench/fs
build_dir=$repo/build-bench
files_per_dir=100
dirs=50
seq_mb=1024
keep=0
base_dir=/tmp
while (($#)); do
  case $1 in
    --build-dir) build_dir=${2:?}; shift ;;
    --files) dirs=$(((${2:?} + files_per_dir - 1) / files_per_dir)); shift ;;
    --seq-mb) seq_mb=${2:?}; shift ;;
    --keep) keep=1 ;;
    -h | --help) sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "profile: unknown option $1" >&2; exit 2 ;;
    *) base_dir=$1 ;;
  esac
  shift
done
[[ $(id -u) -eq 0 ]] || { echo "profile: needs root" >&2; exit 2; }
for t in perf gocryptfs gcc python3; do
  command -v "$t" >/dev/null || { echo "profile: $t is missing" >&2; exit 2; }
done
[[ -x $build_dir/kmsfs && -x $build_dir/kmsd ]] || { echo "profile: build kmsfs first (scripts/bench.sh does)" >&2; exit 2; }

work=$(mktemp -d "$base_dir/kmsfs-profile.XXXXXX")
mounts=()
kmsd_pid=""
cleanup() {
  local rc=$? m
  trap - EXIT
  for m in "${mounts[@]}"; do
    fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
  done
  if [[ -n $kmsd_pid ]]; then kill "$kmsd_pid" 2>/dev/null || true; wait "$kmsd_pid" 2>/dev/null || true; fi
  if ((keep)); then echo "profile: kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# --- mounts
mkdir -p "$work/bin" "$work"/{passthrough,gocryptfs,kmsfs}/{back,mnt}
read -r -a fuse_flags <<<"$(pkg-config fuse3 --cflags --libs)"
gcc -O2 "/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c" "${fuse_flags[@]}" -o "$work/bin/passthrough_ll"
mounts+=("$work/passthrough/mnt")
"$work/bin/passthrough_ll" -o "source=$work/passthrough/back,cache=always,writeback" "$work/passthrough/mnt"

gocryptfs -init -extpass 'echo pw' -q "$work/gocryptfs/back" >/dev/null
mounts+=("$work/gocryptfs/mnt")
gocryptfs -extpass 'echo pw' -q -nosyslog "$work/gocryptfs/back" "$work/gocryptfs/mnt"

"$build_dir/kmsd" --listen 127.0.0.1:0 --data "$work/kmsd" >"$work/kmsd.log" 2>&1 &
kmsd_pid=$!
for _ in $(seq 1 200); do grep -q '^listening on ' "$work/kmsd.log" && break; sleep 0.05; done
KMSFS_KMS_ENDPOINT="http://$(sed -n 's/^listening on //p' "$work/kmsd.log")"
OS_PROJECT_ID=$(sed -n 's/^project id: //p' "$work/kmsd.log")
OS_AUTH_TOKEN=$(cat "$work/kmsd/admin.token")
export KMSFS_KMS_ENDPOINT OS_PROJECT_ID OS_AUTH_TOKEN
key=$("$build_dir/kmsfs" key create)
"$build_dir/kmsfs" init "$work/kmsfs/back" --key "$key" >/dev/null
mounts+=("$work/kmsfs/mnt")
"$build_dir/kmsfs" mount "$work/kmsfs/back" "$work/kmsfs/mnt" --log-file "$work/kmsfs.log" >/dev/null

kmsfs_pid=""
for p in /proc/[0-9]*; do
  if grep -qzxF -- "$work/kmsfs/mnt" "$p/cmdline" 2>/dev/null; then kmsfs_pid=${p#/proc/}; fi
done
[[ -n $kmsfs_pid ]] || { echo "profile: cannot find the kmsfs daemon" >&2; exit 1; }

# --- workloads: NAME and the command, run with $T as the mount point
workload() {
  local name=$1 T=$2
  case $name in
    seq_write) dd if=/dev/zero of="$T/seq.bin" bs=1M count="$seq_mb" conv=fsync status=none ;;
    seq_read) dd if="$T/seq.bin" of=/dev/null bs=1M status=none ;;
    small_create) python3 "$helpers/fsbench/smallfiles.py" create "$T/small" "$dirs" "$files_per_dir" 4096 ;;
    small_ls) ls -lR "$T/small" >/dev/null ;;
    small_read) python3 "$helpers/fsbench/smallfiles.py" read "$T/small" ;;
    small_delete) rm -rf "$T/small" ;;
    untar) mkdir "$T/tree" && tar -xf "${XDG_CACHE_HOME:-$HOME/.cache}/kmsfs-bench/headers.tar" -C "$T/tree" ;;
  esac
}
[[ -s ${XDG_CACHE_HOME:-$HOME/.cache}/kmsfs-bench/headers.tar ]] ||
  { echo "profile: run scripts/bench.sh once first (it makes the header tarball)" >&2; exit 2; }

workloads=(seq_write seq_read small_create small_ls small_read small_delete untar)
systems=(passthrough gocryptfs kmsfs)
declare -A requests=()

for w in "${workloads[@]}"; do
  for s in "${systems[@]}"; do
    T=$work/$s/mnt
    dev=$(mountpoint -d "$T")
    case $w in seq_read | small_ls | small_read) drop_caches ;; esac
    perf record -q -e fuse:fuse_request_send -e fuse:fuse_request_end -a -o "$work/req-$w-$s.data" -- \
      bash -c "$(declare -f workload); seq_mb=$seq_mb dirs=$dirs files_per_dir=$files_per_dir helpers=$helpers workload $w $T" \
      >/dev/null 2>&1
    # connection is the mount's device number (major:minor as one dev_t).
    conn=$(( $(cut -d: -f1 <<<"$dev") << 20 | $(cut -d: -f2 <<<"$dev") ))
    # "TIME: fuse:fuse_request_send: connection C req U opcode N (NAME) len L"
    # "TIME: fuse:fuse_request_end: connection C req U len L error E"
    requests[$w,$s]=$(perf script -i "$work/req-$w-$s.data" -F time,event,trace 2>/dev/null |
      awk -v c="$conn" '$4 != c { next }
        $2 == "fuse:fuse_request_send:" { sent[$6] = $1 + 0; op[$6] = $9; n[$9]++ }
        $2 == "fuse:fuse_request_end:" && ($6 in sent) { us[op[$6]] += ($1 - sent[$6]) * 1e6; m[op[$6]]++; delete sent[$6] }
        END { for (k in n) printf "%s=%d%s ", k, n[k], (m[k] ? sprintf(" (%.0f us)", us[k] / m[k]) : "") }')
  done
  # kmsfs once more under the CPU profiler (its own copy of the data).
  T=$work/kmsfs/mnt
  case $w in
    seq_write) rm -f "$T/seq.bin" ;;
    seq_read | small_ls | small_read) drop_caches ;;
    small_create) rm -rf "$T/small" ;;
    small_delete) python3 "$helpers/fsbench/smallfiles.py" create "$T/small" "$dirs" "$files_per_dir" 4096; drop_caches ;;
    untar) rm -rf "$T/tree" ;;
  esac
  perf record -q -e cpu-clock -g -p "$kmsfs_pid" -o "$work/cpu-$w.data" >/dev/null 2>&1 &
  perf_pid=$!
  sleep 0.5
  t0=$EPOCHREALTIME
  workload "$w" "$T"
  t1=$EPOCHREALTIME
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  echo "### $w (kmsfs: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s under perf)"
  echo
  echo "FUSE requests sent by the kernel (mean latency from sending to the answer):"
  echo
  for s in "${systems[@]}"; do echo "- $s: ${requests[$w,$s]}"; done
  echo
  echo "kmsfs daemon CPU by library (cpu-clock samples; 1 sample = 0.25 ms):"
  echo
  echo '```'
  { perf report -i "$work/cpu-$w.data" --no-children --sort dso -g none --stdio 2>/dev/null |
    grep -E '^# Samples|^ +[0-9]' | head -9; } || true
  echo '```'
  echo
  echo "Top symbols:"
  echo
  echo '```'
  { perf report -i "$work/cpu-$w.data" --no-children --sort dso,sym -g none --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -15; } || true
  echo '```'
  echo
done
"$build_dir/kmsfs" status "$work/kmsfs/mnt" | sed 's/^/    /'
