#!/usr/bin/env bash
# The main job: builds hakmem and compares it with the system allocator, mimalloc,
# jemalloc and tcmalloc on the larson benchmark (quick form; pass larson.sh options to
# change it, e.g. --profile all --runs 7).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/deps.sh"
BUILD_DIR=$build "$root/scripts/build.sh"
HAKMEM_SO=$build/libhakmem.so LARSON_BIN=$build/benchmarks/bench_larson \
  "$root/benchmarks/larson.sh" "${@:---quick}"
