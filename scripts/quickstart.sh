#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a live encrypted mount:
# installs dependencies, builds, starts kmsd (data under ~/.local/share/kmsfs,
# reused when present), creates a key, initialises a backing directory and
# mounts it. Safe to run again: it reuses what is already there.
#
#   KMSFS_HOME   state directory   (default ~/.local/share/kmsfs)
#   KMSFS_PORT   kmsd port         (default 8765)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

home=${KMSFS_HOME:-$HOME/.local/share/kmsfs}
port=${KMSFS_PORT:-8765}
endpoint="http://127.0.0.1:$port"
kmsd_data="$home/kmsd"
backing="$home/backing"
mnt="$home/mnt"
envfile="$home/env"

say() { printf 'quickstart: %s\n' "$*"; }

scripts/install-deps.sh
mkdir -p "$home" "$mnt"
chmod 700 "$home"

say "building (Release; log in $home/build.log)"
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release &&
       cmake --build build -j"$(nproc)" --target kmsfs kmsd; } >"$home/build.log" 2>&1; then
  tail -n 40 "$home/build.log" >&2
  say "the build failed; the whole log is $home/build.log"
  exit 1
fi
kmsfs="$repo/build/kmsfs"
kmsd="$repo/build/kmsd"

# kmsd: reuse a running one, else start it and wait for "listening on".
if curl -fsS "$endpoint/health" >/dev/null 2>&1; then
  say "kmsd already answers on $endpoint"
else
  say "starting kmsd on $endpoint (data in $kmsd_data)"
  : >"$home/kmsd.log"
  nohup "$kmsd" --listen "127.0.0.1:$port" --data "$kmsd_data" >>"$home/kmsd.log" 2>&1 &
  echo $! >"$home/kmsd.pid"
  for _ in $(seq 1 100); do
    grep -q "listening on" "$home/kmsd.log" && break
    if ! kill -0 "$(cat "$home/kmsd.pid")" 2>/dev/null; then
      cat "$home/kmsd.log" >&2
      say "kmsd failed to start (log above)"
      exit 1
    fi
    sleep 0.1
  done
  grep -q "listening on" "$home/kmsd.log" || { say "kmsd did not come up; see $home/kmsd.log"; exit 1; }
fi

# The admin user kmsd made on first start: its token and project.
token=$(cat "$kmsd_data/admin.token")
project=$(grep -o 'project id: [0-9a-f]*' "$home/kmsd.log" | tail -n 1 | cut -d' ' -f3)
[[ -n "$project" ]] || { say "cannot find the admin project id in $home/kmsd.log"; exit 1; }
cat >"$envfile" <<ENV
export KMSFS_KMS_ENDPOINT=$endpoint
export OS_PROJECT_ID=$project
export OS_AUTH_TOKEN=\$(cat $kmsd_data/admin.token)
ENV
chmod 600 "$envfile"
export KMSFS_KMS_ENDPOINT="$endpoint" OS_PROJECT_ID="$project" OS_AUTH_TOKEN="$token"

if [[ ! -f "$backing/.kmsfs.json" ]]; then
  key=$("$kmsfs" key create --alias "quickstart-$(date +%s)")
  say "created key $key"
  "$kmsfs" init "$backing" --key "$key"
fi

if grep -qs " $mnt fuse.kmsfs " /proc/mounts; then
  say "already mounted"
else
  "$kmsfs" mount "$backing" "$mnt" --log-file "$home/kmsfs.log"
fi

cat <<INFO

  kmsfs is mounted.
    mount point        $mnt            (read and write plaintext here)
    backing directory  $backing        (what reaches the disk: ciphertext + wrapped keys)
    KMS (kmsd)         $endpoint   data in $kmsd_data, log $home/kmsd.log
    daemon log         $home/kmsfs.log

  Try:
    echo hello > $mnt/hello.txt && cat $mnt/hello.txt
    xxd $backing/hello.txt | head                          # ciphertext only
    getfattr -n user.kmsfs -e hex $backing/hello.txt       # the file's header (wrapped DEK)
    . $envfile && $kmsfs status $mnt

  Unmount:   $kmsfs umount $mnt
  Stop kmsd: kill \$(cat $home/kmsd.pid)
INFO
