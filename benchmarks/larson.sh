#!/usr/bin/env bash
# larson.sh: runs the larson server benchmark (larson.c) under hakmem, the system allocator,
# mimalloc, jemalloc and tcmalloc, interleaved, and prints one table per size profile with
# medians and ratios. Every allocator is swapped in with LD_PRELOAD on the same binary.
#
#   larson.sh [--profile NAME[,NAME..]|all] [--runs N] [--seconds S] [--threads T] [--quick]
#             [--rounds R] [--chunks C] [--allocators a,b,..] [--bin PATH] [--out FILE]
#             [--no-install]
#
# Environment: HAKMEM_SO (default <repo>/build/libhakmem.so), LARSON_BIN (the larson
# binary; default <repo>/build/benchmarks/bench_larson, else it is compiled from larson.c).
# Progress goes to stderr, tables to stdout, every run to a TSV file (--out).
# Absolute numbers on a shared machine are noise; compare ratios taken in the same run.
# Exit status: 0 when every run finished, 1 when a run crashed, hung or failed, 2 on usage.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

# name  min  max  chunks-per-thread
profiles_table="
tiny     8      128      1000
default  8      1000     1000
mid      1      32768    1000
large    65536  1048576  64
"
all_profiles="tiny default mid large"
all_allocators="hakmem system mimalloc jemalloc tcmalloc"

usage() {
    cat <<EOF
usage: larson.sh [options]
  --profile NAME     one of: $all_profiles, a comma list, or all (default: default)
  --runs N           runs per allocator, interleaved round-robin (default 5)
  --seconds S        seconds per run, fractions allowed (default 3)
  --threads T        threads running at once (default 2)
  --quick            3 runs of 1 s (explicit --runs/--seconds still win)
  --rounds R         thread handoffs per run (default: 10 per second)
  --chunks C         slots per thread (default: the profile's)
  --allocators LIST  comma list from: $all_allocators (default: all)
  --bin PATH         the larson binary (or LARSON_BIN)
  --out FILE         TSV of every run (default benchmarks/results/larson-<date>.tsv)
  --no-install       never apt-get missing allocators, just skip them
profiles (bytes):
$(echo "$profiles_table" | awk 'NF {printf "  %-8s %s-%s, %s chunks per thread\n", $1, $2, $3, $4}')
EOF
}

die_usage() { echo "larson.sh: $*" >&2; usage >&2; exit 2; }
note() { echo "larson.sh: $*" >&2; }

profile_arg=default runs="" seconds="" threads=2 quick=0 rounds="" chunks_override=""
allocators_arg="" bin="${LARSON_BIN:-}" out="" install=1
while [ $# -gt 0 ]; do
    case "$1" in
        --profile)    [ $# -ge 2 ] || die_usage "$1 needs a value"; profile_arg=$2; shift 2 ;;
        --profile=*)  profile_arg=${1#*=}; shift ;;
        --runs)       [ $# -ge 2 ] || die_usage "$1 needs a value"; runs=$2; shift 2 ;;
        --runs=*)     runs=${1#*=}; shift ;;
        --seconds)    [ $# -ge 2 ] || die_usage "$1 needs a value"; seconds=$2; shift 2 ;;
        --seconds=*)  seconds=${1#*=}; shift ;;
        --threads)    [ $# -ge 2 ] || die_usage "$1 needs a value"; threads=$2; shift 2 ;;
        --threads=*)  threads=${1#*=}; shift ;;
        --rounds)     [ $# -ge 2 ] || die_usage "$1 needs a value"; rounds=$2; shift 2 ;;
        --rounds=*)   rounds=${1#*=}; shift ;;
        --chunks)     [ $# -ge 2 ] || die_usage "$1 needs a value"; chunks_override=$2; shift 2 ;;
        --chunks=*)   chunks_override=${1#*=}; shift ;;
        --allocators) [ $# -ge 2 ] || die_usage "$1 needs a value"; allocators_arg=$2; shift 2 ;;
        --allocators=*) allocators_arg=${1#*=}; shift ;;
        --bin)        [ $# -ge 2 ] || die_usage "$1 needs a value"; bin=$2; shift 2 ;;
        --bin=*)      bin=${1#*=}; shift ;;
        --out)        [ $# -ge 2 ] || die_usage "$1 needs a value"; out=$2; shift 2 ;;
        --out=*)      out=${1#*=}; shift ;;
        --quick)      quick=1; shift ;;
        --no-install) install=0; shift ;;
        -h|--help)    usage; exit 0 ;;
        *)            die_usage "unknown argument '$1'" ;;
    esac
done

if [ "$quick" = 1 ]; then
    : "${runs:=3}" "${seconds:=1}"
fi
: "${runs:=5}" "${seconds:=3}"

# Library paths, Debian packages, apt-get installs, argument checks, list arguments and the
# awk functions of the tables are shared with the other runners.
# shellcheck source=benchmarks/common.sh
. "$here/common.sh"

is_uint "$runs" || die_usage "--runs must be a positive integer"
is_uint "$threads" || die_usage "--threads must be a positive integer"
[ -z "$rounds" ] || is_uint "$rounds" || die_usage "--rounds must be a positive integer"
[ -z "$chunks_override" ] || is_uint "$chunks_override" || die_usage "--chunks must be a positive integer"
awk -v s="$seconds" 'BEGIN { exit !(s ~ /^[0-9]*\.?[0-9]+$/ && s + 0 > 0) }' ||
    die_usage "--seconds must be a positive number"
[ -n "$rounds" ] || rounds=$(awk -v s="$seconds" 'BEGIN { r = int(s * 10 + 0.5); print (r < 1 ? 1 : r) }')
run_timeout=$(awk -v s="$seconds" 'BEGIN { print int(s * 5 + 60) }')

# ---- profiles --------------------------------------------------------------------------
profiles=$(names_of "$profiles_table" "$profile_arg" "$all_profiles" profile) || exit 2
profile_field() { # profile column(2=min 3=max 4=chunks)
    echo "$profiles_table" | awk -v p="$1" -v c="$2" '$1 == p { print $c }'
}

# ---- allocators ------------------------------------------------------------------------
wanted=$(names_of "$(printf '%s\n' $all_allocators)" "${allocators_arg:-all}" "$all_allocators" \
                  allocator) || exit 2

# Missing Debian allocators: install them when we are root and may, else skip them.
# shellcheck disable=SC2086
install_missing "$install" $wanted

# shellcheck disable=SC2086
keep_available $wanted

# ---- the larson binary -----------------------------------------------------------------
tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/larson.XXXXXX") || exit 1
trap 'rm -rf "$tmpdir"' EXIT
find_bench_bin bench_larson "$here/larson.c" -pthread

# ---- output file -----------------------------------------------------------------------
[ -n "$out" ] || out=$here/results/larson-$(date +%Y%m%d-%H%M%S).tsv
mkdir -p "$(dirname "$out")" || exit 1
printf 'profile\tallocator\trun\tops_per_sec\tmaxrss_kb\n' > "$out" || exit 1

have_timeout=0
command -v timeout >/dev/null 2>&1 && have_timeout=1

# run_one ALLOCATOR PROFILE -> prints "ops rss" on success; on failure prints nothing and
# explains on stderr. Returns the failure status.
run_one() {
    local a=$1 p=$2 so min max chunks errf outf rc
    so=$(preload_of "$a")
    min=$(profile_field "$p" 2) max=$(profile_field "$p" 3) chunks=$(profile_field "$p" 4)
    [ -n "$chunks_override" ] && chunks=$chunks_override
    errf=$tmpdir/err outf=$tmpdir/out
    local cmd=()
    [ "$have_timeout" = 1 ] && cmd=(timeout -k 5 "$run_timeout")
    if [ -z "$so" ]; then
        cmd+=(env -u LD_PRELOAD)
    else
        cmd+=(env "LD_PRELOAD=$so")
    fi
    cmd+=("$bin" -s "$seconds" -m "$min" -M "$max" -c "$chunks" -r "$rounds" -S "$seed"
          -t "$threads")
    "${cmd[@]}" >"$outf" 2>"$errf"
    rc=$?
    local why
    why=$(classify "$rc" "$errf" "$so" "$run_timeout" "blocks corrupted while allocated")
    local parsed
    parsed=$(awk '/^larson: / { for (i = 2; i <= NF; i++) { split($i, kv, "=");
                   if (kv[1] == "ops_per_sec") o = kv[2]; if (kv[1] == "maxrss_kb") r = kv[2] } }
                 END { if (o != "" && r != "") print o, r }' "$outf")
    [ -z "$why" ] && [ -z "$parsed" ] && why="no result line on stdout"
    if [ -n "$why" ]; then
        echo "larson.sh: FAILED $a/$p: $why; command: ${cmd[*]}" >&2
        sed 's/^/    stderr: /' "$errf" | tail -n 20 >&2
        return 1
    fi
    echo "$parsed"
}

human() { awk -v v="$1" "$awk_lib"'BEGIN { printf "%s", human(v) }'; }

# ---- the runs: round-robin, the starting allocator rotates each run --------------------
seed=1
failures=0
n=${#allocators[@]}
note "binary $bin; allocators: ${allocators[*]}; profiles: $profiles"
note "$runs runs x ${seconds}s, $threads threads, $rounds rounds per run; results: $out"
for p in $profiles; do
    for ((r = 1; r <= runs; r++)); do
        for ((i = 0; i < n; i++)); do
            a=${allocators[$(((i + r - 1) % n))]}
            if res=$(run_one "$a" "$p"); then
                ops=${res% *} rss=${res#* }
                printf '%s\t%s\t%d\t%s\t%s\n' "$p" "$a" "$r" "$ops" "$rss" >> "$out"
                note "[$p $r/$runs] $(printf '%-8s' "$a") $(human "$ops") ops/s  peak RSS ${rss} KiB"
            else
                failures=$((failures + 1))
                printf '%s\t%s\t%d\tNA\tNA\n' "$p" "$a" "$r" >> "$out"
            fi
        done
    done
done

# ---- tables ----------------------------------------------------------------------------
echo "larson: $(uname -m), $(nproc 2>/dev/null || echo '?') CPUs, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null); $runs runs x ${seconds}s, $threads threads, $rounds rounds/run"
echo "(a shared machine: absolute numbers are noisy, compare ratios within one run)"
for p in $profiles; do
    echo
    pchunks=${chunks_override:-$(profile_field "$p" 4)}
    echo "profile $p: $(profile_field "$p" 2)-$(profile_field "$p" 3) bytes, $pchunks chunks per thread"
    awk -F '\t' -v prof="$p" -v order="${allocators[*]}" "$awk_lib"'
    NR > 1 && $1 == prof {
        total[$2]++
        if ($4 == "NA") next
        k = ++ok[$2]
        vals["ops" SUBSEP $2, k] = $4 + 0
        vals["rss" SUBSEP $2, k] = $5 + 0
        if (!(($2) in lo) || $4 + 0 < lo[$2]) lo[$2] = $4 + 0
        if (!(($2) in hi) || $4 + 0 > hi[$2]) hi[$2] = $4 + 0
    }
    END {
        na = split(order, names, " ")
        for (i = 1; i <= na; i++) {
            a = names[i]
            if (ok[a] > 0) {
                m[a] = med("ops" SUBSEP a, ok[a])
                rs[a] = med("rss" SUBSEP a, ok[a])
            }
        }
        printf "%-9s %5s %12s %20s %9s %-24s %12s\n", "allocator", "ok", "median ops/s",
               "min-max ops/s", "vs system", "vs best other", "peak RSS KiB"
        for (i = 1; i <= na; i++) {
            a = names[i]
            okn = ok[a] + 0
            if (okn == 0) {
                printf "%-9s %2d/%-2d %12s %20s %9s %-24s %12s\n", a, 0, total[a], "FAILED", "-", "-", "-", "-"
                continue
            }
            best = 0; bestname = ""
            for (j = 1; j <= na; j++) {
                b = names[j]
                if (b != a && (b in m) && m[b] > best) { best = m[b]; bestname = b }
            }
            vs_sys = ("system" in m && a != "system" && m["system"] > 0) ? sprintf("%.2fx", m[a] / m["system"]) : "-"
            vs_best = best > 0 ? sprintf("%.2fx", m[a] / best) : "-"
            if (best > 0) vs_best = vs_best " (" bestname ")"
            printf "%-9s %2d/%-2d %12s %20s %9s %-24s %12d\n", a, okn, total[a], human(m[a]),
                   human(lo[a]) "-" human(hi[a]), vs_sys, vs_best, rs[a]
        }
    }' "$out"
done
finish "$out" "$failures"
