#!/usr/bin/env bash
# Installs the Debian packages hakmem's build, tests and benchmarks need (Debian 12, root).
# Does nothing when they are all present.
set -euo pipefail

packages=(cmake make gcc g++ pkg-config libgtest-dev libbenchmark-dev libnuma-dev
          python3 git perl coreutils valgrind gnuplot-nox strace libxml2-utils
          libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
