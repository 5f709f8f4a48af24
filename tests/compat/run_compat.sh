#!/usr/bin/env bash
# Installs huaweicloudsdkkms and otcextensions from their source archives into
# a venv under BUILD_DIR (offline, as ../shared/third_party/README.md says;
# reused while the archives stay the same) and runs compat_driver.py against
# the kmsd binary.
#
#   run_compat.sh KMSD BUILD_DIR
#
# The archives are looked for in $KMSFS_THIRD_PARTY_DIR, <repo>/../shared/
# third_party, /work/shared/third_party. Where none holds them the test says
# so and exits 77 (ctest: skipped).
set -euo pipefail

kmsd=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
sdk_archive=huaweicloud-sdk-python-v3-3.1.211-core-kms.tar.gz
otc_archive=python-otcextensions-0.34.5.tar.gz

archives=""
for dir in "${KMSFS_THIRD_PARTY_DIR:-}" "$repo/../shared/third_party" /work/shared/third_party; do
  if [[ -n $dir && -f $dir/$sdk_archive && -f $dir/$otc_archive ]]; then
    archives=$dir
    break
  fi
done
if [[ -z $archives ]]; then
  echo "compat: SKIPPED: $sdk_archive and $otc_archive are not in \$KMSFS_THIRD_PARTY_DIR," \
    "$repo/../shared/third_party or /work/shared/third_party; point KMSFS_THIRD_PARTY_DIR at them to run" \
    "the official clients against kmsd"
  exit 77
fi

# Debian's Python: the libraries' dependencies are Debian packages
# (scripts/install-deps.sh), installed for it and not for any other Python.
python=/usr/bin/python3
venv=$out/compat-venv
stamp=$(cat "$archives/$sdk_archive" "$archives/$otc_archive" | sha256sum | cut -d' ' -f1)
if [[ ! -f $venv/installed || $(cat "$venv/installed") != "$stamp" ]]; then
  echo "compat: installing the client libraries from $archives into $venv"
  rm -rf "$venv" "$out/compat-src"
  mkdir -p "$out/compat-src"
  "$python" -m venv --system-site-packages "$venv"
  tar xzf "$archives/$sdk_archive" -C "$out/compat-src"
  tar xzf "$archives/$otc_archive" -C "$out/compat-src"
  sdk=$out/compat-src/huaweicloud-sdk-python-v3
  # Their pyproject.toml wants hatchling, which Debian 12 lacks; setup.py builds the same package.
  mv "$sdk/huaweicloud-sdk-core/pyproject.toml" "$sdk/huaweicloud-sdk-core/pyproject.toml.orig"
  mv "$sdk/huaweicloud-sdk-kms/pyproject.toml" "$sdk/huaweicloud-sdk-kms/pyproject.toml.orig"
  PBR_VERSION=0.34.5 "$venv/bin/pip" install --quiet --no-deps --no-build-isolation --no-index \
    "$out/compat-src/python-otcextensions" "$sdk/huaweicloud-sdk-core" "$sdk/huaweicloud-sdk-kms"
  echo "$stamp" >"$venv/installed"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" "$here/compat_driver.py" --kmsd "$kmsd" --work "$work/run"
