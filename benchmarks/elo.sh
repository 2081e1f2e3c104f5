#!/usr/bin/env bash
# elo.sh: the ELO-armed large policy against fixed arms, on three VM-scenario workloads,
# measured after a warm-up (bench_vm's untimed --warmup cycles), interleaved runs.
#   W1 same-site reuse: every block 2 MiB (fixed2m)
#   W2 ever-changing sizes: 1-32 MiB
#   W3 many mid-size blocks: 64 KiB-1 MiB, 64 live
# Variants: elo; the fixed arms 0,1 / 6,7 / 14,15 / 22,23 (HAKMEM_ELO_FIXED_ARM; thresholds
# 512 KiB, ~1.6 MiB, ~7 MiB, 32 MiB, each backend) and the malloc and mmap policies.
# Prints, per workload, the median time per cycle of each variant and elo's ratio to the
# best and the worst fixed variant.
#   elo.sh [--runs N] [--bin PATH] [--out FILE]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here=$root/benchmarks
note() { echo "elo.sh: $*" >&2; }
# shellcheck source=benchmarks/common.sh
. "$here/common.sh"

runs=3
bin=${VM_BIN:-}
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) note "unknown option $1"; exit 2 ;;
    esac
done
[ -r "$hakmem_so" ] || { note "no libhakmem.so at $hakmem_so (build it, or set HAKMEM_SO)"; exit 1; }
tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/elo.XXXXXX") || exit 1
trap 'rm -rf "$tmpdir"' EXIT
find_bench_bin bench_vm "$here/vm.c"
out=${out:-$root/benchmarks/results/elo-$(date +%Y%m%d-%H%M%S).tsv}
mkdir -p "$(dirname "$out")"

declare -A workload=(
    [W1]="--mode fixed2m --cycles 8000 --warmup 8000"
    [W2]="--mode random --cycles 300 --warmup 3000"
    [W3]="--mode random --min 64K --max 1M --live 64 --cycles 20000 --warmup 30000"
)
variants="elo arm0 arm1 arm6 arm7 arm14 arm15 arm22 arm23 malloc mmap"

env_of() {
    case "$1" in
        elo) echo "HAKMEM_LARGE_POLICY=elo" ;;
        arm*) echo "HAKMEM_LARGE_POLICY=elo HAKMEM_ELO_FIXED_ARM=${1#arm}" ;;
        *) echo "HAKMEM_LARGE_POLICY=$1" ;;
    esac
}

printf 'workload\tvariant\trun\tns_per_cycle\tminflt\n' > "$out"
for w in W1 W2 W3; do
    for r in $(seq 1 "$runs"); do
        for v in $variants; do
            # shellcheck disable=SC2046,SC2086
            line=$(env $(env_of "$v") LD_PRELOAD="$hakmem_so" "$bin" ${workload[$w]})
            ns=$(sed -n 's/.*ns_per_cycle=\([0-9]*\).*/\1/p' <<<"$line")
            flt=$(sed -n 's/.* minflt=\([0-9]*\).*/\1/p' <<<"$line")
            printf '%s\t%s\t%s\t%s\t%s\n' "$w" "$v" "$r" "$ns" "$flt" >> "$out"
            note "[$w $r/$runs] $v ${ns} ns/cycle"
        done
    done
done

awk -F'\t' 'NR > 1 { key = $1 FS $2; v[key] = v[key] " " $4; w[$1] = 1 }
function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
    for (wl in w) {
        best = ""; worst = ""
        for (key in v) {
            split(key, k, FS)
            if (k[1] != wl) continue
            m[key] = median(v[key])
            if (k[2] == "elo") continue
            if (best == "" || m[key] < m[best]) best = key
            if (worst == "" || m[key] > m[worst]) worst = key
        }
        split(best, b, FS); split(worst, x, FS)
        printf "%s: elo %.0f ns/cycle; best fixed %s %.0f (elo %.2fx); worst %s %.0f (elo %.2fx)\n",
            wl, m[wl FS "elo"], b[2], m[best], m[wl FS "elo"] / m[best], x[2], m[worst],
            m[wl FS "elo"] / m[worst]
    }
}' "$out" | sort
echo "results: $out"
