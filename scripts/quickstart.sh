#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a live encrypted mount:
# installs dependencies, builds, starts kmsd (data under ~/.local/share/kmsfs,
# reused when present), creates a key, initialises a backing directory and
# mounts it. Safe to run again: it reuses what is already there.
#
# It talks only to a kmsd it started itself (now or on an earlier run): the
# admin token is never sent to whatever else may answer on the port. Its
# kmsd is the process named in $KMSFS_HOME/kmsd.pid whose executable is this
# build's kmsd, serving $KMSFS_HOME/kmsd on 127.0.0.1:$KMSFS_PORT and holding
# that listening socket itself.
#
#   KMSFS_HOME       state directory   (default ~/.local/share/kmsfs)
#   KMSFS_PORT       kmsd port         (default 8765)
#   KMSFS_BUILD_DIR  use the kmsfs and kmsd already built there: no package
#                    install, no build (tests use this)
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

mkdir -p "$home" "$mnt"
chmod 700 "$home"

if [[ -n "${KMSFS_BUILD_DIR:-}" ]]; then
  bin=$(realpath "$KMSFS_BUILD_DIR")
else
  scripts/install-deps.sh
  say "building (Release; log in $home/build.log)"
  if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release &&
         cmake --build build -j"$(nproc)" --target kmsfs kmsd; } >"$home/build.log" 2>&1; then
    tail -n 40 "$home/build.log" >&2
    say "the build failed; the whole log is $home/build.log"
    exit 1
  fi
  bin="$repo/build"
fi
kmsfs="$bin/kmsfs"
kmsd="$bin/kmsd"
[[ -x "$kmsfs" && -x "$kmsd" ]] || { say "no kmsfs and kmsd in $bin"; exit 1; }

# The inodes of the sockets listening on TCP port $1 (any address).
listening_inodes() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v port=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == port { print $10 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Whether process $1 is this quickstart's kmsd: this build's binary (or its
# replaced file), started on our port and data directory, holding the
# listening socket of the port itself.
is_our_kmsd() {
  local pid=$1 exe cmdline inode
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ -d /proc/$pid ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ "$exe" == "$(realpath "$kmsd")" || "$exe" == "$(realpath "$kmsd") (deleted)" ]] || return 1
  cmdline=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  grep -qxF -- "127.0.0.1:$port" <<<"$cmdline" || return 1
  grep -qxF -- "$kmsd_data" <<<"$cmdline" || return 1
  for inode in $(listening_inodes "$port"); do
    if ls -l "/proc/$pid/fd" 2>/dev/null | grep -qF "socket:[$inode]"; then return 0; fi
  done
  return 1
}

# kmsd: reuse our own, refuse a stranger on the port, else start it.
own_pid=$(cat "$home/kmsd.pid" 2>/dev/null || true)
if is_our_kmsd "$own_pid"; then
  say "kmsd (pid $own_pid) already serves $endpoint"
elif [[ -n "$(listening_inodes "$port")" ]]; then
  say "something else listens on port $port: not the kmsd this quickstart started (no live one named in" \
    "$home/kmsd.pid serves $kmsd_data there). Not sending it any credentials. Stop it, or choose another" \
    "port: KMSFS_PORT=8766 $0" >&2
  exit 1
else
  say "starting kmsd on $endpoint (data in $kmsd_data)"
  : >"$home/kmsd.log"
  nohup "$kmsd" --listen "127.0.0.1:$port" --data "$kmsd_data" >>"$home/kmsd.log" 2>&1 &
  own_pid=$!
  echo "$own_pid" >"$home/kmsd.pid"
  for _ in $(seq 1 100); do
    grep -q "listening on" "$home/kmsd.log" && break
    if ! kill -0 "$own_pid" 2>/dev/null; then
      cat "$home/kmsd.log" >&2
      say "kmsd failed to start (log above)"
      exit 1
    fi
    sleep 0.1
  done
  grep -q "listening on" "$home/kmsd.log" || { say "kmsd did not come up; see $home/kmsd.log"; exit 1; }
  is_our_kmsd "$own_pid" || { say "the kmsd just started (pid $own_pid) does not hold port $port; see $home/kmsd.log"; exit 1; }
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
    ls $backing                                            # names are encrypted too
    f=$backing/\$(ls -t $backing | head -1)                # the newest: hello.txt's
    xxd "\$f" | head                                        # ciphertext only
    getfattr -n user.kmsfs -e hex "\$f"                     # the file's header (wrapped DEK)
    . $envfile && $kmsfs status $mnt

  Unmount:   $kmsfs umount $mnt
  Stop kmsd: kill \$(cat $home/kmsd.pid)
INFO
