#!/usr/bin/env bash
# Side-by-side filesystem benchmark: a native directory, plaintext passthrough
# FUSE (libfuse's passthrough_ll example, compiled here), gocryptfs and kmsfs,
# all on the same backing filesystem in the same run. Prints one Markdown table
# of medians and ratios (kmsfs / gocryptfs, kmsfs / passthrough), the daemons'
# memory and CPU, disk use of a small-file tree, KMS latency hiding, and the
# goals met or not.
#
#   scripts/bench.sh [options] [DIR]      DIR: where the work directory goes (default /tmp)
#
# Options:
#   --quick            1 repetition, smaller sizes (sanity run, ~2 minutes)
#   --reps N           repetitions (default 3; the median is quoted)
#   --systems LIST     comma list of native,passthrough,gocryptfs,kmsfs (default: all)
#   --workloads LIST   comma list of seq,rand,small,tar,latency (default: all)
#   --tmpfs            run on a fresh tmpfs mounted on the work directory (CPU cost only)
#   --latency-ms N     KMS latency for the latency workload (default 20)
#   --out FILE         also write the report (Markdown) to FILE
#   --build-dir D      where kmsfs is built (default: REPO/build-bench)
#   --no-build         use the kmsfs and kmsd already in the build dir
#   --no-install       do not apt-get install missing tools
#   --keep             keep the work directory (backing dirs, logs, raw results)
#
# Needs root (or sudo) for dropping the page cache, for --tmpfs and for
# installing packages. Every mount is undone and every daemon it started is
# stopped on exit, also on failure or Ctrl-C.
set -Eeuo pipefail
export LC_ALL=C
command_line="scripts/bench.sh${*:+ $*}"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
helpers=$repo/tests/bench/fs
all_systems=native,passthrough,gocryptfs,kmsfs

reps=3
quick=0
systems=$all_systems
workloads=seq,rand,small,tar,latency
use_tmpfs=0
latency_ms=20
out_file=""
build_dir=$repo/build-bench
do_build=1
do_install=1
keep=0
base_dir=/tmp

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
  printf 'bench: error: %s\n' "$*" >&2
  exit 1
}
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --reps) reps=${2:?--reps needs a number}; shift ;;
    --systems) systems=${2:?--systems needs a list}; shift ;;
    --workloads) workloads=${2:?--workloads needs a list}; shift ;;
    --tmpfs) use_tmpfs=1 ;;
    --latency-ms) latency_ms=${2:?--latency-ms needs a number}; shift ;;
    --out) out_file=${2:?--out needs a file}; shift ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift ;;
    --no-build) do_build=0 ;;
    --no-install) do_install=0 ;;
    --keep) keep=1 ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) base_dir=$1 ;;
  esac
  shift
done

[[ $reps =~ ^[1-9][0-9]*$ ]] || die "--reps wants a positive number, got '$reps'"
[[ $latency_ms =~ ^[0-9]+$ ]] || die "--latency-ms wants a number, got '$latency_ms'"
for s in ${systems//,/ }; do
  [[ ,$all_systems, == *,$s,* ]] || die "unknown system '$s' (choose from $all_systems)"
done
for w in ${workloads//,/ }; do
  [[ ,seq,rand,small,tar,latency, == *,$w,* ]] || die "unknown workload '$w' (choose from seq,rand,small,tar,latency)"
done
has_system() { [[ ,$systems, == *,$1,* ]]; }
has_workload() { [[ ,$workloads, == *,$1,* ]]; }

# Sizes. The full run follows the issue: 1 GiB sequential, fio on 256 MiB for
# 20 s, 5 000 files of 4 KiB in 50 directories, /usr/include (~70 MB) as tar.
if ((quick)); then
  [[ $reps == 3 ]] && reps=1
  seq_mb=128 fio_mb=64 fio_secs=5 small_dirs=5 small_per_dir=100
else
  seq_mb=1024 fio_mb=256 fio_secs=20 small_dirs=50 small_per_dir=100
fi
small_size=4096
small_files=$((small_dirs * small_per_dir))

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || die "run as root or install sudo (needed to drop caches and install packages)"
  SUDO=sudo
fi

[[ -d $base_dir ]] || die "$base_dir is not a directory"
base_dir=$(cd "$base_dir" && pwd)

# ------------------------------------------------------------------ cleanup

work=""
log_dir=""       # daemon logs; outside the work dir with --tmpfs, so a failure can be read
mounts=()        # mount points to undo, in order
kmsd_pids=()     # kmsd processes this script started
tmpfs_mounted=0

fuse_unmount() {
  local mnt=$1
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    grep -qs " $mnt fuse" /proc/mounts || return 0
    fusermount3 -u "$mnt" 2>/dev/null && return 0
    sleep 0.5
  done
  say "$mnt is busy; detaching it lazily"
  fusermount3 -uz "$mnt" 2>/dev/null || $SUDO umount -l "$mnt" 2>/dev/null || true
}

cleanup() {
  local rc=$? m p
  trap - EXIT INT TERM
  for m in "${mounts[@]}"; do fuse_unmount "$m"; done
  for p in "${kmsd_pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if ((rc != 0)) && [[ -n $log_dir ]]; then
    for m in "$log_dir"/kmsfs*.log; do
      [[ -s $m ]] || continue
      say "last lines of $m:"
      tail -5 "$m" >&2
    done
  fi
  if ((tmpfs_mounted)); then $SUDO umount "$work" 2>/dev/null || $SUDO umount -l "$work" || true; fi
  if [[ -n $log_dir && $log_dir != "$work"/* ]]; then
    if ((keep || rc != 0)); then say "logs kept: $log_dir"; else rm -rf "$log_dir"; fi
  fi
  if [[ -n $work && -d $work ]]; then
    if ((keep)); then say "work directory kept: $work"; else rm -rf "$work"; fi
  fi
  ((rc == 0)) || say "failed (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ tools

if ((do_install)); then
  need=()
  for p in fio python3 fuse3 libfuse3-dev build-essential pkg-config cmake; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
  done
  if has_system gocryptfs; then
    dpkg-query -W -f='${Status}' gocryptfs 2>/dev/null | grep -q "ok installed" || need+=(gocryptfs)
  fi
  if ((${#need[@]})); then
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
for t in fio python3 fusermount3 dd tar du; do
  command -v "$t" >/dev/null || die "$t is missing (install it, or drop --no-install)"
done
has_system gocryptfs && { command -v gocryptfs >/dev/null || die "gocryptfs is missing"; }

if has_system kmsfs; then
  if ((do_build)); then
    say "building kmsfs and kmsd (Release) in $build_dir"
    # Warnings stay warnings here: a new compiler's false positive at -O3 must
    # not stop a measurement (the regular builds keep -Werror).
    mkdir -p "$build_dir"
    build_log=$build_dir/bench-build.log
    if ! { cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DKMSFS_BUILD_TESTS=OFF \
      -DKMSFS_BUILD_BENCH=OFF -DKMSFS_WERROR=OFF >"$build_log" 2>&1 &&
      cmake --build "$build_dir" -j"$(nproc)" --target kmsfs kmsd >>"$build_log" 2>&1; }; then
      tail -30 "$build_log" >&2
      die "kmsfs build failed (log above, all of it in $build_log)"
    fi
  fi
  # The commit measured: taken now, since the tree may move during a long run.
  kmsfs_version="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD -- fs kms cache 2>/dev/null || echo '+local changes')"
  kmsfs_bin=$build_dir/kmsfs
  kmsd_bin=$build_dir/kmsd
  [[ -x $kmsfs_bin && -x $kmsd_bin ]] || die "no kmsfs/kmsd in $build_dir (build them, or drop --no-build)"
fi

work=$(mktemp -d "$base_dir/kmsfs-bench.XXXXXX")
if ((use_tmpfs)); then
  $SUDO mount -t tmpfs -o size=6g,mode=0755 kmsfs-bench "$work" || die "cannot mount a tmpfs on $work"
  tmpfs_mounted=1
  log_dir=$(mktemp -d "$base_dir/kmsfs-bench-logs.XXXXXX")
else
  log_dir=$work/logs
  mkdir -p "$log_dir"
fi
results=$work/results.tsv
: >"$results"

if has_system passthrough; then
  src=/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
  [[ -f $src ]] || die "$src is missing (install libfuse3-dev)"
  mkdir -p "$work/bin"
  read -r -a fuse_flags <<<"$(pkg-config fuse3 --cflags --libs)"
  gcc -O2 -Wall "$src" "${fuse_flags[@]}" -o "$work/bin/passthrough_ll" ||
    die "cannot compile $src"
fi

# The header tree for tar/untar: /usr/include without node's headers is about
# 70 MB in about 6 000 entries. Made once, kept in the cache directory.
cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/kmsfs-bench
tarball=""
if has_workload tar; then
  mkdir -p "$cache_dir"
  if ((quick)); then
    tar_src=(-C /usr/include linux)
    tar_name=headers-linux.tar
  else
    tar_src=(-C /usr --exclude=include/node include)
    tar_name=headers.tar
  fi
  if [[ ! -s $cache_dir/$tar_name ]]; then
    say "making $cache_dir/$tar_name"
    tar -cf "$cache_dir/$tar_name.tmp" "${tar_src[@]}" || die "cannot make the header tarball"
    mv "$cache_dir/$tar_name.tmp" "$cache_dir/$tar_name"
  fi
  tarball=$work/$tar_name
  cp "$cache_dir/$tar_name" "$tarball"
  tar_entries=$(tar -tf "$tarball" | wc -l)
  tar_bytes=$(tar -tvf "$tarball" | awk '{s += $3} END {print s}')
fi

# ------------------------------------------------------------------ helpers

elapsed=0
# timeit CMD...: runs CMD, sets $elapsed to its wall time in seconds.
timeit() {
  local t0=$EPOCHREALTIME t1
  "$@"
  t1=$EPOCHREALTIME
  elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
}

drop_caches() {
  sync
  echo 3 | $SUDO tee /proc/sys/vm/drop_caches >/dev/null
}

rep=0
system=""
record() { # METRIC VALUE
  printf '%s\t%s\t%s\t%s\n' "$rep" "$system" "$1" "$2" >>"$results"
}

# The process that serves a mount: the one whose arguments include the mount point.
daemon_pid=""
find_daemon() {
  local mnt=$1 p
  daemon_pid=""
  for p in /proc/[0-9]*; do
    if grep -qzxF -- "$mnt" "$p/cmdline" 2>/dev/null; then
      daemon_pid=${p#/proc/}
      return 0
    fi
  done
  return 1
}

clk_tck=$(getconf CLK_TCK)
cpu_seconds() { # user + system time of $daemon_pid, all threads
  [[ -n $daemon_pid && -r /proc/$daemon_pid/stat ]] || { echo 0; return; }
  awk -v hz="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$daemon_pid/stat"
}

cpu0=0
cpu_start() { cpu0=$(cpu_seconds); }
cpu_stop() { # METRIC
  [[ -n $daemon_pid ]] || return 0
  record "cpu_$1" "$(awk -v a="$cpu0" -v b="$(cpu_seconds)" 'BEGIN { printf "%.3f", b - a }')"
}

# measure METRIC CMD...: times CMD, records seconds and the daemon's CPU.
measure() {
  local metric=$1
  shift
  cpu_start
  timeit "$@"
  cpu_stop "$metric"
  record "$metric" "$elapsed"
  say "  $system $metric: ${elapsed} s"
}

mbps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.1f", mb * 1048576 / 1e6 / s }'; }

# ------------------------------------------------------------------ kmsd and keys

# start_kmsd NAME [ARGS...]: starts kmsd with data in $work/NAME; sets kms_env (array for env).
kms_env=()
start_kmsd() {
  local name=$1
  shift
  local dir=$work/$name
  mkdir -p "$dir"
  "$kmsd_bin" --listen 127.0.0.1:0 --data "$dir/data" "$@" >"$log_dir/$name.log" 2>&1 &
  local pid=$!
  kmsd_pids+=("$pid")
  for _ in $(seq 1 200); do
    grep -q '^listening on ' "$log_dir/$name.log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log_dir/$name.log" >&2; die "kmsd did not start"; }
    sleep 0.05
  done
  grep -q '^listening on ' "$log_dir/$name.log" || die "kmsd did not come up (see $log_dir/$name.log)"
  local addr project
  addr=$(sed -n 's/^listening on //p' "$log_dir/$name.log" | head -1)
  project=$(sed -n 's/^project id: //p' "$log_dir/$name.log" | head -1)
  [[ -n $project && -s $dir/data/admin.token ]] || die "kmsd printed no project id or token (see $log_dir/$name.log)"
  kms_env=(KMSFS_KMS_ENDPOINT="http://$addr" OS_PROJECT_ID="$project" OS_AUTH_TOKEN="$(cat "$dir/data/admin.token")")
}

kms_key=""
kms_key_latency=""
kmsfs_cmd() { env "${kms_env[@]}" "$kmsfs_bin" "$@"; }

# ------------------------------------------------------------------ systems

# mount_system SYSTEM: prepares $work/SYSTEM and sets target (where the
# workloads run), backing (what lands on disk) and daemon_pid.
target=""
backing=""
mount_point=""
kms_env_main=()
mount_system() {
  local sys=$1 dir=$work/$1
  rm -rf "$dir"
  mkdir -p "$dir"
  daemon_pid=""
  mount_point=""
  case $sys in
    native)
      backing=$dir/data
      mkdir -p "$backing"
      target=$backing
      return 0
      ;;
    passthrough)
      backing=$dir/back mount_point=$dir/mnt
      mkdir -p "$backing" "$mount_point"
      mounts+=("$mount_point")
      "$work/bin/passthrough_ll" -o "source=$backing,cache=always,writeback" "$mount_point" ||
        die "passthrough_ll failed to mount"
      ;;
    gocryptfs)
      backing=$dir/back mount_point=$dir/mnt
      mkdir -p "$backing" "$mount_point"
      gocryptfs -init -extpass 'echo benchmark-password' -q "$backing" >/dev/null ||
        die "gocryptfs -init failed"
      mounts+=("$mount_point")
      gocryptfs_mount
      ;;
    kmsfs | kmsfs-latency)
      backing=$dir/back mount_point=$dir/mnt
      mkdir -p "$backing" "$mount_point"
      local key=$kms_key
      [[ $sys == kmsfs-latency ]] && key=$kms_key_latency
      kmsfs_cmd init "$backing" --key "$key" >/dev/null || die "kmsfs init failed"
      mounts+=("$mount_point")
      kmsfs_mount
      ;;
  esac
  grep -qs " $mount_point fuse" /proc/mounts || die "$sys: $mount_point is not mounted"
  find_daemon "$mount_point" || die "$sys: cannot find the process serving $mount_point"
  target=$mount_point
}

gocryptfs_mount() {
  gocryptfs -extpass 'echo benchmark-password' -q -nosyslog "$backing" "$mount_point" ||
    die "gocryptfs failed to mount"
}

kmsfs_mount() {
  kmsfs_cmd mount "$backing" "$mount_point" --log-file "$log_dir/$system.log" >/dev/null ||
    die "kmsfs failed to mount (log: $log_dir/$system.log)"
}

unmount_system() {
  [[ -n $mount_point ]] || return 0
  local pid=$daemon_pid
  fuse_unmount "$mount_point"
  # Let the daemon exit before the next system starts.
  for _ in $(seq 1 100); do
    [[ -n $pid && -d /proc/$pid ]] || break
    sleep 0.05
  done
  mount_point=""
  daemon_pid=""
}

# Unmounts and mounts the same backing dir again (fresh daemon, cold caches).
remount_system() {
  local sys=$system
  [[ $sys == native ]] && return 0
  unmount_system
  mount_point=$work/$sys/mnt
  case $sys in
    passthrough)
      "$work/bin/passthrough_ll" -o "source=$backing,cache=always,writeback" "$mount_point" ||
        die "passthrough_ll failed to remount"
      ;;
    gocryptfs) gocryptfs_mount ;;
    kmsfs | kmsfs-latency) kmsfs_mount ;;
  esac
  grep -qs " $mount_point fuse" /proc/mounts || die "$sys: $mount_point is not mounted after remount"
  find_daemon "$mount_point" || die "$sys: cannot find the process serving $mount_point"
  target=$mount_point
}

# Waits (up to 10 s) until the kmsfs DEK pool is full, so a measurement starts
# from the state a mount settles into.
wait_pool_full() {
  local line=""
  for _ in $(seq 1 200); do
    line=$("$kmsfs_bin" status "$mount_point" 2>/dev/null | sed -n 's/^pool: *//p')
    [[ $line =~ ready\ ([0-9]+) ]] && ((BASH_REMATCH[1] >= 32)) && return 0
    sleep 0.05
  done
  say "  (pool not full after 10 s: $line)"
}

# ------------------------------------------------------------------ workloads

wl_seq() {
  local f=$target/seq.bin
  drop_caches
  cpu_start
  timeit dd if=/dev/zero of="$f" bs=1M count="$seq_mb" conv=fsync status=none
  cpu_stop seq_write
  record seq_write "$(mbps "$seq_mb" "$elapsed")"
  say "  $system seq_write: $(mbps "$seq_mb" "$elapsed") MB/s"
  drop_caches
  cpu_start
  timeit dd if="$f" of=/dev/null bs=1M status=none
  cpu_stop seq_read
  record seq_read "$(mbps "$seq_mb" "$elapsed")"
  say "  $system seq_read: $(mbps "$seq_mb" "$elapsed") MB/s"
  rm -f "$f"
}

fio_iops() { # RW -> prints IOPS
  local rw=$1 json=$work/fio-$system-$1-$rep.json
  fio --name=bench --filename="$target/fio.bin" --size="${fio_mb}M" --bs=4k --ioengine=psync \
    --rw="$rw" --runtime="$fio_secs" --time_based --output-format=json --output="$json" >/dev/null ||
    die "$system: fio $rw failed"
  python3 - "$json" "$rw" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
side = "read" if sys.argv[2] == "randread" else "write"
print("%.0f" % j["jobs"][0][side]["iops"])
PY
}

wl_rand() {
  local iops
  dd if=/dev/urandom of="$target/fio.bin" bs=1M count="$fio_mb" conv=fsync status=none
  drop_caches
  cpu_start
  iops=$(fio_iops randread)
  cpu_stop rand_read
  record rand_read "$iops"
  say "  $system rand_read: $iops IOPS"
  drop_caches
  cpu_start
  iops=$(fio_iops randwrite)
  cpu_stop rand_write
  record rand_write "$iops"
  say "  $system rand_write: $iops IOPS"
  rm -f "$target/fio.bin"
}

small_create() { python3 "$helpers/smallfiles.py" create "$target/small" "$small_dirs" "$small_per_dir" "$small_size"; }
small_read() { python3 "$helpers/smallfiles.py" read "$target/small"; }
ls_lr() { ls -lR "$target/small" >/dev/null; }

wl_small() {
  local before after
  sync
  before=$(du -sk "$backing" | cut -f1)
  record small_files "$small_files"
  measure small_create small_create
  sync
  after=$(du -sk "$backing" | cut -f1)
  record du_small $((after - before))
  say "  $system du_small: $((after - before)) KiB"
  drop_caches
  measure small_ls ls_lr
  drop_caches
  measure small_read small_read
  remount_system
  drop_caches
  [[ $system == kmsfs* ]] && wait_pool_full
  measure small_read_remount small_read
  measure small_delete rm -rf "$target/small"
}

untar() { mkdir "$target/tree" && tar -xf "$tarball" -C "$target/tree"; }
tar_out() { tar -cf - -C "$target/tree" . | cat >/dev/null; }

wl_tar() {
  measure untar untar
  if [[ -n $daemon_pid ]]; then
    local rss
    rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$daemon_pid/status")
    record rss_untar "$rss"
    say "  $system rss_untar: $rss MiB"
  fi
  drop_caches
  measure tar tar_out
  rm -rf "$target/tree"
}

# Small-file create and first reads with the KMS slowed down: only kmsfs.
wl_latency() {
  system=kmsfs-latency
  mount_system kmsfs-latency
  wait_pool_full
  record small_files "$small_files"
  measure small_create small_create
  sync
  remount_system
  drop_caches
  wait_pool_full
  measure small_read_remount small_read
  rm -rf "$target/small"
  unmount_system
  rm -rf "${work:?}/kmsfs-latency"
}

# ------------------------------------------------------------------ run

if has_system kmsfs; then
  start_kmsd kmsd
  kms_env_main=("${kms_env[@]}")
  kms_key=$(kmsfs_cmd key create --alias bench) || die "kmsfs key create failed"
  if has_workload latency; then
    start_kmsd kmsd-latency --latency-ms "$latency_ms"
    kms_key_latency=$(kmsfs_cmd key create --alias bench-latency) || die "kmsfs key create failed (latency kmsd)"
    kms_env_latency=("${kms_env[@]}")
  fi
  kms_env=("${kms_env_main[@]}")
fi

fs_type=$(findmnt -n -o FSTYPE -T "$work" 2>/dev/null || stat -f -c %T "$work")
fs_opts=$(findmnt -n -o OPTIONS -T "$work" 2>/dev/null || true)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
say "work directory $work ($fs_type), $reps repetition(s), systems $systems, workloads $workloads"

# Per-system state while all systems are mounted side by side.
declare -A st_target=() st_backing=() st_mount=() st_pid=()
save_system() {
  st_target[$system]=$target st_backing[$system]=$backing
  st_mount[$system]=$mount_point st_pid[$system]=$daemon_pid
}
use_system() {
  system=$1 target=${st_target[$1]} backing=${st_backing[$1]}
  mount_point=${st_mount[$1]} daemon_pid=${st_pid[$1]}
}

read -r -a system_list <<<"${systems//,/ }"
for ((rep = 1; rep <= reps; rep++)); do
  # Every workload runs on all systems back to back, so they share the
  # machine's load of the moment; the order rotates with each repetition.
  order=()
  for ((i = 0; i < ${#system_list[@]}; i++)); do
    order+=("${system_list[(i + rep - 1) % ${#system_list[@]}]}")
  done
  say "repetition $rep/$reps: mounting ${order[*]}"
  kms_env=("${kms_env_main[@]}")
  for system in "${order[@]}"; do
    mount_system "$system"
    save_system
  done
  for wl in seq rand small tar; do
    has_workload "$wl" || continue
    say "repetition $rep/$reps: $wl"
    for s in "${order[@]}"; do
      use_system "$s"
      "wl_$wl"
      save_system
    done
  done
  for s in "${order[@]}"; do
    use_system "$s"
    unmount_system
    rm -rf "${work:?}/$s"
  done
  if has_system kmsfs && has_workload latency; then
    say "repetition $rep/$reps: kmsfs with ${latency_ms} ms KMS latency"
    kms_env=("${kms_env_latency[@]}")
    wl_latency
    kms_env=("${kms_env_main[@]}")
  fi
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "## Filesystem benchmark run"
  echo
  echo "Command: \`$command_line\` (repetitions: $reps; medians; ±: half the range)"
  echo
  echo "- started $started; load average at start $load_start, at end $load_end"
  echo "- machine: nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
    "$(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
  echo "- backing filesystem: $fs_type on $(df -P "$work" | awk 'NR == 2 { print $1 }') ($fs_opts)," \
    "work directory under $base_dir"
  echo "- sizes: sequential ${seq_mb} MiB; fio ${fio_mb} MiB file, ${fio_secs} s each;" \
    "small files ${small_files} x ${small_size} B in ${small_dirs} dirs${tarball:+; tar tree $tar_entries entries, $((tar_bytes / 1000000)) MB}"
  echo "- versions: kmsfs ${kmsfs_version:-not run}," \
    "$(gocryptfs -version 2>/dev/null | cut -d';' -f1 || true), libfuse $(pkg-config --modversion fuse3), $(fio --version)"
  echo
  python3 "$helpers/report.py" "$results" "$latency_ms"
} >"$work/report.md"
echo
cat "$work/report.md"
if [[ -n $out_file ]]; then
  cp "$work/report.md" "$out_file"
  cp "$results" "${out_file%.md}.tsv"
  say "report written to $out_file (raw values in ${out_file%.md}.tsv)"
fi
