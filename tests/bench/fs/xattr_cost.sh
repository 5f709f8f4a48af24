#!/usr/bin/env bash
# What the `user.kmsfs` header xattr costs on ext4, by inode size.
#
# ext4 keeps extended attributes inside the inode while they fit (with 256-byte
# inodes: one value of up to 64 bytes under a short name); a larger one goes
# to a separate 4 KiB block per file. kmsfs's header is ~443 bytes today.
#
#   tests/bench/fs/xattr_cost.sh [--reps N] [--files N] [--no-kmsfs] [DIR]
#
# 1. Makes ext4 images with 256-, 512- and 1024-byte inodes (loop devices,
#    mounted without `discard`, under DIR, default /tmp), and on each creates
#    N files of 4 KiB (default 5 000) with a `user.kmsfs` value of 0, 60, 255
#    and 443 bytes straight on ext4: create time and `du` per file.
# 2. Runs scripts/bench.sh's small-file workload for native, gocryptfs and
#    kmsfs on the 256- and the 1024-byte-inode images (unless --no-kmsfs).
# Needs root (loop devices, mounts). Everything is undone on exit.
set -Eeuo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
reps=3
files=5000
run_kmsfs=1
base_dir=/tmp
while (($#)); do
  case $1 in
    --reps) reps=${2:?}; shift ;;
    --files) files=${2:?}; shift ;;
    --no-kmsfs) run_kmsfs=0 ;;
    -h | --help) sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "xattr_cost: unknown option $1" >&2; exit 2 ;;
    *) base_dir=$1 ;;
  esac
  shift
done
[[ $(id -u) -eq 0 ]] || { echo "xattr_cost: needs root (loop devices)" >&2; exit 2; }

work=$(mktemp -d "$base_dir/kmsfs-xattr.XXXXXX")
mounted=()
cleanup() {
  local rc=$? m
  trap - EXIT
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Image size: enough for the small-file tree of every system plus slack.
img_mb=$((files * 16 / 1024 + 512))
for isize in 256 512 1024; do
  truncate -s "${img_mb}M" "$work/ext4-$isize.img"
  mkfs.ext4 -q -F -I "$isize" -E nodiscard "$work/ext4-$isize.img"
  mkdir -p "$work/i$isize"
  mount -o loop,nodiscard "$work/ext4-$isize.img" "$work/i$isize"
  mounted+=("$work/i$isize")
done

echo "## ext4: N files of 4 KiB with a user.kmsfs value of L bytes (N = $files, median of $reps)"
echo
echo "| inode size | xattr bytes | create (s) | KiB per file (du) |"
echo "|---:|---:|---:|---:|"
for isize in 256 512 1024; do
  for len in 0 60 255 443; do
    python3 - "$work/i$isize" "$files" "$len" "$reps" <<'PY'
import os, shutil, statistics, subprocess, sys, time
root, files, length, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = os.urandom(4096)
times, kib = [], []
for rep in range(reps):
    top = os.path.join(root, "t%d" % rep)
    os.mkdir(top)
    os.sync()
    t = time.monotonic()
    for d in range(50):
        dpath = os.path.join(top, "d%02d" % d)
        os.mkdir(dpath)
        for f in range(files // 50):
            p = os.path.join(dpath, "f%04d" % f)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            if length:
                os.setxattr(fd, "user.kmsfs", os.urandom(length))
            os.close(fd)
    times.append(time.monotonic() - t)
    os.sync()
    du = int(subprocess.check_output(["du", "-sk", top]).split()[0])
    kib.append(du / files)
    shutil.rmtree(top)
    os.sync()
isize = os.path.basename(root)[1:]
print("| %s | %d | %.2f | %.2f |" % (isize, length, statistics.median(times), statistics.median(kib)))
PY
  done
done
echo

if ((run_kmsfs)); then
  for isize in 256 1024; do
    echo "## Small-file workload on ext4 with ${isize}-byte inodes"
    echo
    "$repo/scripts/bench.sh" --no-build --no-install --systems native,gocryptfs,kmsfs --workloads small \
      --reps "$reps" --out "$work/bench-$isize.md" "$work/i$isize" >/dev/null
    # The tables only (the header lines describe the run).
    sed -n '/^| workload/,$p' "$work/bench-$isize.md"
    echo
  done
fi
