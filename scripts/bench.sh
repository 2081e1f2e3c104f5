#!/usr/bin/env bash
# The main job: installs what it needs, builds hakmem, runs the quick form of the benchmark
# report (larson profiles, the VM scenario, the micro benchmarks, instruction counts under
# callgrind; hakmem against the system allocator, mimalloc, jemalloc and tcmalloc,
# interleaved) and prints its tables.
# The page goes to build/bench/BENCHMARKS.md (docs/BENCHMARKS.md is only written by an
# explicit `benchmarks/report.sh`). Extra arguments go to report.sh (e.g. drop --quick by
# running benchmarks/report.sh yourself).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/deps.sh"
BUILD_DIR=$build "$root/scripts/build.sh"
mkdir -p "$build/bench"
status=0
"$root/benchmarks/report.sh" --quick --build "$build" --no-build --doc "$build/bench/BENCHMARKS.md" "$@" || status=$?
# The tables (and what they measure), without the chart images.
grep -v '^!\[' "$build/bench/BENCHMARKS.md"
exit $status
