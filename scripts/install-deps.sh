#!/usr/bin/env bash
# Installs every Debian package kmsfs needs to build, test and benchmark.
# Idempotent: does nothing when all packages are already present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates curl
  libfuse3-dev fuse3
  libsodium-dev libssl-dev
  nlohmann-json3-dev libcurl4-openssl-dev libcpp-httplib-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  attr xxd openssl python3 e2fsprogs
  # tests/integration: backups made with rsync -a (no -X) and tar (no
  # --xattrs) lose xattr headers; kmsfs headers import and inline volumes
  # must survive them.
  rsync tar
  # packaging/: man pages from --help, `systemd-analyze verify` of the units
  # (tests/packaging), dpkg-shlibdeps for the .deb's dependencies.
  help2man systemd dpkg-dev
  # tests/compat/: the official KMS clients (from ../shared/third_party) in a
  # venv over Debian's Python, with the dependencies Debian packages.
  python3-venv python3-pip python3-setuptools python3-wheel
  python3-openstacksdk python3-openstackclient python3-requests-toolbelt python3-simplejson
  python3-yaml python3-pyasn1 python3-certifi python3-defusedxml python3-six python3-pymongo python3-pbr
)
# AES-256-GCM through intel-ipsec-mb (crypto/aes_gcm_backend.h); Debian
# builds it for amd64 only, and CMake leaves it out elsewhere.
if [[ $(dpkg --print-architecture) == amd64 ]]; then
  packages+=(libipsec-mb-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
