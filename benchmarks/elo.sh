#!/usr/bin/env bash
# elo.sh: the ELO-armed large policy against fixed arms, on three VM-scenario workloads,
# measured after a warm-up (bench_vm's untimed --warmup cycles), interleaved runs.
#   W1 same-site reuse: every block 2 MiB (fixed2m)
#   W2 ever-changing sizes: 1-32 MiB
#   W3 many mid-size blocks: 64 KiB-1 MiB, 64 live
# Variants: elo; the fixed arms 0,1 / 6,7 / 14,15 / 22,23 (HAKMEM_ELO_FIXED_ARM; thresholds
# 512 KiB, ~1.6 MiB, ~7 MiB, 32 MiB, each backend) and the malloc and mmap policies.
# Prints, per workload, the median time per cycle of each variant and elo's ratio to the
# best and the worst fixed variant; --chart writes a PNG of every variant's time relative
# to the best fixed one (gnuplot), --markdown the table docs/ELO.md shows.
# The warm-ups are long enough for elo's first round (every arm once, epochs of at least
# 4 ms: elo.epoch_ms) and the drop-out of the arms that lost.
# W1's arms all lie within a few percent of each other and of the machine's noise, so it
# runs three times as many runs as the others (its runs are short).
#   elo.sh [--runs N] [--workloads W1,W2,W3] [--bin PATH] [--out FILE] [--chart PNG]
#          [--markdown FILE]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here=$root/benchmarks
note() { echo "elo.sh: $*" >&2; }
# shellcheck source=benchmarks/common.sh
. "$here/common.sh"

runs=3
bin=${VM_BIN:-}
out=""
chart=""
markdown=""
workloads="W1 W2 W3"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --chart) chart=$2; shift 2 ;;
        --markdown) markdown=$2; shift 2 ;;
        --workloads) workloads=${2//,/ }; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
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
    [W1]="--mode fixed2m --cycles 30000 --warmup 60000"
    [W2]="--mode random --cycles 1000 --warmup 3000"
    [W3]="--mode random --min 64K --max 1M --live 64 --cycles 100000 --warmup 200000"
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
declare -A runs_factor=([W1]=3 [W2]=1 [W3]=1)
for w in $workloads; do
    [ -n "${workload[$w]:-}" ] || { note "unknown workload $w"; exit 2; }
    n=$((runs * runs_factor[$w]))
    for r in $(seq 1 "$n"); do
        for v in $variants; do
            # shellcheck disable=SC2046,SC2086
            line=$(env $(env_of "$v") LD_PRELOAD="$hakmem_so" "$bin" ${workload[$w]})
            ns=$(sed -n 's/.*ns_per_cycle=\([0-9]*\).*/\1/p' <<<"$line")
            flt=$(sed -n 's/.* minflt=\([0-9]*\).*/\1/p' <<<"$line")
            printf '%s\t%s\t%s\t%s\t%s\n' "$w" "$v" "$r" "$ns" "$flt" >> "$out"
            note "[$w $r/$n] $v ${ns} ns/cycle"
        done
    done
done

# Per workload and variant: median, min and max ns per cycle.
summary=$tmpdir/summary.tsv
awk -F'\t' "$awk_lib"'NR > 1 {
    key = $1 FS $2; k = ++cnt[key]; vals[key, k] = $4 + 0
    if (k == 1 || $4 + 0 < lo[key]) lo[key] = $4 + 0
    if (k == 1 || $4 + 0 > hi[key]) hi[key] = $4 + 0
}
END { for (key in cnt) printf "%s\t%s\t%s\t%s\n", key, med(key, cnt[key]), lo[key], hi[key] }' \
    "$out" | sort > "$summary"

# workload, elo, best fixed variant and its median, worst fixed and its median
verdicts=$tmpdir/verdicts.tsv
awk -F'\t' '{ m[$1, $2] = $3; w[$1] = 1 }
    $2 != "elo" && (best[$1] == "" || $3 < m[$1, best[$1]]) { best[$1] = $2 }
    $2 != "elo" && (worst[$1] == "" || $3 > m[$1, worst[$1]]) { worst[$1] = $2 }
END { for (x in w) printf "%s\t%s\t%s\t%s\t%s\t%s\n", x, m[x, "elo"], best[x], m[x, best[x]],
                         worst[x], m[x, worst[x]] }' "$summary" | sort > "$verdicts"

awk -F'\t' '{ printf "%s: elo %.0f ns/cycle; best fixed %s %.0f (elo %.2fx); worst %s %.0f (elo %.2fx)\n",
                    $1, $2, $3, $4, $2 / $4, $5, $6, $2 / $6 }' "$verdicts"

if [ -n "$markdown" ]; then
    {
        echo "| workload | elo | best fixed | elo / best | worst fixed | elo / worst |"
        echo "|---|---:|---|---:|---|---:|"
        awk -F'\t' 'function us(ns) { return ns >= 1e6 ? sprintf("%.2f ms", ns / 1e6) : sprintf("%.1f us", ns / 1e3) }
            { printf "| %s | %s | %s, %s | %.2fx | %s, %s | %.2fx |\n", $1, us($2), $3, us($4),
                     $2 / $4, $5, us($6), $2 / $6 }' "$verdicts"
    } > "$markdown"
    echo "markdown: $markdown"
fi

if [ -n "$chart" ]; then
    if command -v gnuplot >/dev/null 2>&1; then
        # One cluster per workload, one bar per variant: its time over the best fixed
        # variant's median (median and min-max of the runs), on a log scale.
        data=$tmpdir/chart.dat
        awk -F'\t' -v variants="$variants" 'NR == FNR { b[$1] = $4; next }
            { r[$1, $2] = sprintf("%.3f %.3f %.3f", $3 / b[$1], $4 / b[$1], $5 / b[$1]); w[$1] = 1 }
            END {
                n = split(variants, v, " ")
                printf "workload"; for (i = 1; i <= n; i++) printf " %s lo hi", v[i]; printf "\n"
                for (x in w) {
                    printf "%s", x
                    for (i = 1; i <= n; i++) printf " %s", ((x, v[i]) in r) ? r[x, v[i]] : "NA NA NA"
                    printf "\n"
                }
            }' "$verdicts" "$summary" | { read -r hdr; echo "$hdr"; sort; } > "$data"
        nvar=$(wc -w <<<"$variants")
        # elo in hakmem's colour, the fixed arms in the others, the two policies last
        cols="0 1 2 3 4 5 6 7 7 3 2"
        mkdir -p "$(dirname "$chart")"
        if gnuplot -e "plotdir='$here/plot'; data='$data'; out='$chart'; n=$nvar; cols='$cols';
                       ttl='large.policy=elo against fixed arms (time per cycle / best fixed arm)'; keyttl='variant';
                       ylab='time / best fixed (log)'; logy=1; width=1200; height=520" \
                   "$here/plot/grouped.gp" 2>"$tmpdir/gnuplot.err"; then
            echo "chart: $chart"
        else
            note "gnuplot failed:"; tail -n 5 "$tmpdir/gnuplot.err" >&2
        fi
    else
        note "no gnuplot: no chart (apt-get install gnuplot-nox)"
    fi
fi
echo "results: $out"
