#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every ctest test; then the same
# suite once more on a build without libnuma (HAKMEM_NUMA=OFF), which must pass as well.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/deps.sh"
BUILD_DIR=$build "$root/scripts/build.sh"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" "$@")
if [ "${HAKMEM_TEST_NO_NUMA_PASS:-0}" != 1 ]; then
  echo "== the same suite built with -DHAKMEM_NUMA=OFF =="
  BUILD_DIR=$build-nonuma "$root/scripts/build.sh" -DHAKMEM_NUMA=OFF
  (cd "$build-nonuma" && ctest --output-on-failure -j"$(nproc)" -LE bench "$@")
fi
