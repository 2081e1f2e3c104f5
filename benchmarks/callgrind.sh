#!/usr/bin/env bash
# Instructions per malloc/free under valgrind --tool=callgrind, for hakmem and the other
# allocators in one run. Counts instructions, not time: repeatable on a noisy machine.
# Per operation = (Ir(2N) - Ir(N)) / N, so start-up and the size table cancel out.
#   benchmarks/callgrind.sh [N]        (default N = 200000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
note() { echo "callgrind.sh: $*" >&2; }
# shellcheck source=benchmarks/common.sh
. "$root/benchmarks/common.sh"
n=${1:-200000}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
bin=$(mktemp -d)/ipo
trap 'rm -rf "$(dirname "$bin")"' EXIT
cc -O2 -fno-builtin-malloc -fno-builtin-free "$root/benchmarks/ipo.c" -o "$bin"

ir() { # allocator mode count
  LD_PRELOAD=$(preload_of "$1") valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$bin" "$2" "$3" 2>&1 | awk '/Collected/ {print $4}'
}
printf '%-10s %14s %14s\n' allocator "pair Ir/op" "live Ir/op"
for a in hakmem system mimalloc jemalloc tcmalloc; do
  lib=$(preload_of "$a")
  if [ -n "$lib" ] && [ ! -e "$lib" ]; then
    printf '%-10s %14s %14s\n' "$a" missing missing
    continue
  fi
  row=()
  for mode in pair live; do
    a1=$(ir "$a" "$mode" "$n")
    a2=$(ir "$a" "$mode" $((2 * n)))
    row+=($(( (a2 - a1) / n )))
  done
  printf '%-10s %14s %14s\n' "$a" "${row[0]}" "${row[1]}"
done
