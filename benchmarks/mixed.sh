#!/usr/bin/env bash
# mixed.sh: runs the mixed stress (mixed.c: threads with a program's mix of sizes, aligned
# requests, realloc chains and cross-thread frees, then everything freed) under hakmem, the
# system allocator, mimalloc, jemalloc and tcmalloc, interleaved, and prints one Markdown
# table of medians: what the process held at its peak, right after freeing everything, and
# after some idle time and one more call. Every allocator is swapped in with LD_PRELOAD on
# the same binary.
#
#   mixed.sh [--runs N] [--seconds S] [--threads T] [--idle S] [--quick]
#            [--allocators a,b,..] [--bin PATH] [--out FILE] [--no-install]
#
# Environment: HAKMEM_SO (default <repo>/build/libhakmem.so), MIXED_BIN (default
# <repo>/build/benchmarks/bench_mixed, else compiled from mixed.c). Progress on stderr, the
# table on stdout, every run in a TSV file (--out). Exit status: 0 when every run finished,
# 1 when one failed (crashed, or found a block changed), 2 on usage.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
all_allocators="hakmem system mimalloc jemalloc tcmalloc"

usage() {
    cat <<EOF
usage: mixed.sh [options]
  --runs N           runs per allocator, interleaved round-robin (default 5; --quick 3)
  --seconds S        seconds of stress per run (default 5; --quick 2)
  --threads T        threads (default 8)
  --idle S           idle seconds before the last reading (default 2)
  --allocators LIST  comma list from: $all_allocators (default: all)
  --bin PATH         the mixed binary (or MIXED_BIN)
  --out FILE         TSV of every run (default benchmarks/results/mixed-<date>.tsv)
  --no-install       never apt-get missing allocators, just skip them
EOF
}

die_usage() { echo "mixed.sh: $*" >&2; usage >&2; exit 2; }
note() { echo "mixed.sh: $*" >&2; }

runs="" seconds="" threads=8 idle=2 quick=0 allocators_arg="" bin="${MIXED_BIN:-}" out=""
install=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs)       [ $# -ge 2 ] || die_usage "$1 needs a value"; runs=$2; shift 2 ;;
        --seconds)    [ $# -ge 2 ] || die_usage "$1 needs a value"; seconds=$2; shift 2 ;;
        --threads)    [ $# -ge 2 ] || die_usage "$1 needs a value"; threads=$2; shift 2 ;;
        --idle)       [ $# -ge 2 ] || die_usage "$1 needs a value"; idle=$2; shift 2 ;;
        --allocators) [ $# -ge 2 ] || die_usage "$1 needs a value"; allocators_arg=$2; shift 2 ;;
        --bin)        [ $# -ge 2 ] || die_usage "$1 needs a value"; bin=$2; shift 2 ;;
        --out)        [ $# -ge 2 ] || die_usage "$1 needs a value"; out=$2; shift 2 ;;
        --quick)      quick=1; shift ;;
        --no-install) install=0; shift ;;
        -h|--help)    usage; exit 0 ;;
        *)            die_usage "unknown argument '$1'" ;;
    esac
done
[ "$quick" = 1 ] && { : "${runs:=3}"; : "${seconds:=2}"; }
: "${runs:=5}" "${seconds:=5}"

# shellcheck source=benchmarks/common.sh
. "$here/common.sh"
is_uint "$runs" || die_usage "--runs must be a positive integer"
is_uint "$seconds" || die_usage "--seconds must be a positive integer"
is_uint "$threads" || die_usage "--threads must be a positive integer"
case "$idle" in ''|*[!0-9]*) die_usage "--idle must be a whole number of seconds" ;; esac

wanted=$(names_of "$(printf '%s\n' $all_allocators)" "${allocators_arg:-all}" "$all_allocators" \
                  allocator) || exit 2
# shellcheck disable=SC2086
install_missing "$install" $wanted
# shellcheck disable=SC2086
keep_available $wanted

tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/mixed.XXXXXX") || exit 1
trap 'rm -rf "$tmpdir"' EXIT
find_bench_bin bench_mixed "$here/mixed.c" -pthread

[ -n "$out" ] || out=$here/results/mixed-$(date +%Y%m%d-%H%M%S).tsv
mkdir -p "$(dirname "$out")" || exit 1
cols="allocator run ops peak_kb live_kb freed_kb idle_kb"
echo "$cols" | tr ' ' '\t' >"$out" || exit 1
note "$runs runs x ${seconds}s, $threads threads, ${idle}s idle; results: $out"

failures=0
for ((r = 1; r <= runs; r++)); do
    n=${#allocators[@]}
    for ((k = 0; k < n; k++)); do
        a=${allocators[$(((k + r - 1) % n))]} # the first allocator rotates every run
        so=$(preload_of "$a")
        err=$tmpdir/err
        line=$(env ${so:+LD_PRELOAD=$so} timeout $((seconds + idle + 120)) \
               "$bin" -t "$threads" -s "$seconds" -i "$idle" -x "$r" 2>"$err")
        status=$?
        why=$(classify "$status" "$err" "$so" $((seconds + idle + 120)) \
              "a block was corrupted while allocated")
        if [ -n "$why" ] || [ -z "$line" ]; then
            echo "mixed.sh: FAILED $a run $r: ${why:-no output}" >&2
            sed 's/^/    stderr: /' "$err" | tail -n 10 >&2
            failures=$((failures + 1))
            continue
        fi
        vals=$(echo "$line" | tr ' ' '\n' | awk -F= '
            $1 == "ops" { o = $2 } $1 == "peak_kb" { p = $2 } $1 == "live_kb" { l = $2 }
            $1 == "freed_kb" { f = $2 } $1 == "idle_kb" { i = $2 }
            END { printf "%s\t%s\t%s\t%s\t%s", o, p, l, f, i }')
        printf '%s\t%s\t%s\n' "$a" "$r" "$vals" >>"$out"
        note "[$r/$runs] $(printf '%-8s' "$a") $(echo "$vals" | awk -F'\t' '{ printf "peak %.1f MiB, freed %.1f MiB, idle %.1f MiB", $2 / 1024, $4 / 1024, $5 / 1024 }')"
    done
done

# The table: medians over the runs; "vs system" is the ratio of hakmem's (or any
# allocator's) median to the system allocator's, for the three memory figures.
awk -F'\t' -v order="${allocators[*]}" "$awk_lib"'
    NR > 1 { a = $1; n[a]++; for (c = 3; c <= 7; c++) vals[a SUBSEP c, n[a]] = $c }
    END {
        print "| allocator | runs ok | operations (median) | peak RSS MiB | RSS after free MiB | RSS after idle + a call MiB | after free vs system | after idle vs system |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|"
        k = split(order, names, " ")
        if (n["system"]) { sf = med("system" SUBSEP 6, n["system"]); si = med("system" SUBSEP 7, n["system"]) }
        for (j = 1; j <= k; j++) {
            a = names[j]
            if (!n[a]) { printf "| %s | 0 | - | - | - | - | - | - |\n", a; continue }
            for (c = 3; c <= 7; c++) m[c] = med(a SUBSEP c, n[a])
            rf = (sf > 0) ? sprintf("%.2fx", m[6] / sf) : "-"
            ri = (si > 0) ? sprintf("%.2fx", m[7] / si) : "-"
            printf "| %s | %d | %s | %.1f | %.1f | %.1f | %s | %s |\n", (a == "hakmem" ? "**hakmem**" : a), n[a], human(m[3]), m[4] / 1024, m[6] / 1024, m[7] / 1024, rf, ri
        }
    }' "$out"
finish "$out" "$failures"
