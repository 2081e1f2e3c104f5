#!/usr/bin/env bash
# report.sh: the whole comparison in one run, written to docs/BENCHMARKS.md with charts.
#   1. larson (larson.sh), profiles tiny, default and mid: hakmem, the system allocator,
#      mimalloc, jemalloc and tcmalloc, interleaved runs;
#   2. the VM scenario (vm.sh), modes random, fixed2m and fullwrite: the same allocators, hakmem with
#      each large policy, interleaved runs, page faults and system calls;
#   3. the micro benchmarks (bench_micro, Google Benchmark): hak_* against glibc's allocator
#      in one binary; every benchmark runs alone in its own process (so that its peak RSS is
#      its own), hakmem and system back to back, several rounds;
#   4. instructions per malloc/free under callgrind (callgrind.sh), every allocator;
#   5. the mixed stress (mixed.sh): what each allocator holds after a multi-thread program
#      frees everything, right away and after an idle moment.
# It builds what it needs (unless --no-build), keeps every raw result (TSV, JSON-derived TSV,
# logs) under benchmarks/results/report-<date>/, and writes the page and the PNG charts
# (gnuplot, Debian gnuplot-nox; installed when missing and we are root).
#
#   report.sh [--quick] [--build DIR] [--no-build] [--no-install] [--parts LIST] [--doc FILE]
#             [--from DIR]
#
# Progress goes to stderr. Absolute numbers on a shared machine are noise; the ratios taken
# within one run are what to read. Exit status: 0 all went well, 1 some run failed or crashed
# (the page says which), 2 usage.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

usage() {
    cat <<EOF
usage: report.sh [options]
  --quick         small runs (2-3 minutes in all); default: the full runs (~10 minutes
                  on 2 cores)
  --build DIR     the CMake build directory (default: \$BUILD_DIR or <repo>/build); it is
                  configured (Release) when it has no CMakeCache.txt
  --no-build      use the binaries in --build as they are
  --no-install    never apt-get anything (missing allocators are skipped, charts too)
  --parts LIST    comma list from: larson,vm,micro,callgrind,mixed (default: all five)
  --doc FILE      the page to write (default docs/BENCHMARKS.md; charts go to img/ next to it)
  --from DIR      run nothing: write the page again from the raw results of an earlier run
                  (a benchmarks/results/report-<date>/ folder)
EOF
}
die_usage() { echo "report.sh: $*" >&2; usage >&2; exit 2; }
note() { echo "report.sh: $*" >&2; }
# the awk functions of the tables (med, human); the runners it calls source it too
# shellcheck source=benchmarks/common.sh
. "$here/common.sh"

quick=0 build=${BUILD_DIR:-$root/build} do_build=1 install=1 parts="larson,vm,micro,callgrind,mixed"
doc=$root/docs/BENCHMARKS.md from=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick)      quick=1; shift ;;
        --build)      [ $# -ge 2 ] || die_usage "$1 needs a value"; build=$2; shift 2 ;;
        --build=*)    build=${1#*=}; shift ;;
        --no-build)   do_build=0; shift ;;
        --no-install) install=0; shift ;;
        --parts)      [ $# -ge 2 ] || die_usage "$1 needs a value"; parts=$2; shift 2 ;;
        --parts=*)    parts=${1#*=}; shift ;;
        --doc)        [ $# -ge 2 ] || die_usage "$1 needs a value"; doc=$2; shift 2 ;;
        --doc=*)      doc=${1#*=}; shift ;;
        --from)       [ $# -ge 2 ] || die_usage "$1 needs a value"; from=$2; shift 2 ;;
        --from=*)     from=${1#*=}; shift ;;
        -h|--help)    usage; exit 0 ;;
        *)            die_usage "unknown argument '$1'" ;;
    esac
done
parts=" ${parts//,/ } "
for p in $parts; do
    case "$p" in larson|vm|micro|callgrind|mixed) ;; *) die_usage "unknown part '$p'" ;; esac
done
has_part() { case "$parts" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
run_part() { [ -z "$from" ] && has_part "$1"; } # run it now (not with --from)

# ---- sizes of the runs -----------------------------------------------------------------
# Full: larson 9 runs x 2 s x 3 profiles x 5 allocators (~5 min: 9 runs rather than 5 of 3 s,
# since runs on this shared machine spread by up to 35% and a median of 9 is the steadier);
# vm 10 runs (its default) of the default cycles x 7 allocator variants x 2 modes plus the
# counting passes (~3-5 min);
# micro 5 rounds x 44 processes of 0.5 s minimum time (~3 min). --quick: about 2-3 minutes.
if [ "$quick" = 1 ]; then
    larson_runs=3 larson_seconds=1 vm_args=(--quick) vm_desc="3 runs, the quick cycle counts"
    mixed_args=(--quick) mixed_desc="3 runs of 2 s"
    micro_runs=3 micro_min_time=0.05 mode_name="--quick"
else
    larson_runs=9 larson_seconds=2 vm_args=(--runs 10) vm_desc="10 runs, the default cycle counts"
    mixed_args=(--runs 5 --seconds 5) mixed_desc="5 runs of 5 s"
    micro_runs=5 micro_min_time=0.5 mode_name="full"
fi
larson_profiles="tiny,default,mid"

# Paths shown relative to the repository when they are inside it (the page is read there).
rel() { case "$1" in "$root"/*) echo "${1#"$root"/}" ;; *) echo "$1" ;; esac; }
abspath() { (mkdir -p "$1" 2>/dev/null; cd "$1" && pwd); }

mkdir -p "$(dirname "$doc")" || exit 1
doc=$(cd "$(dirname "$doc")" && pwd)/$(basename "$doc")
imgdir=$(dirname "$doc")/img
mkdir -p "$imgdir" || exit 1
if [ -n "$from" ]; then
    [ -d "$from" ] || die_usage "--from: no folder '$from'"
    results=$(cd "$from" && pwd)
else
    results=$root/benchmarks/results/report-$(date -u +%Y%m%d-%H%M%S)
    mkdir -p "$results" || exit 1
fi
tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/report.XXXXXX") || exit 1
trap 'rm -rf "$tmpdir"' EXIT
cd "$root" || exit 1

# Every command that produced a number, as run (from the repository root).
commands=()
record() { # words of a command: kept, shell-quoted where they need it
    local s="" w
    for w in "$@"; do
        case "$w" in
            ''|*[!A-Za-z0-9_./=:,+@%-]*) s="$s '${w//\'/\'\\\'\'}'" ;;
            *) s="$s $w" ;;
        esac
    done
    commands+=("${s# }")
}

started=$(date -u '+%Y-%m-%d %H:%M UTC')
t_start=$(date +%s)
failures=0

# ---- build -----------------------------------------------------------------------------
[ -n "$from" ] && do_build=0
if [ "$do_build" = 1 ]; then
    if [ ! -f "$build/CMakeCache.txt" ]; then
        note "configuring $build (Release)"
        record cmake -B "$(rel "$build")" -S . -DCMAKE_BUILD_TYPE=Release
        cmake -B "$build" -S "$root" -DCMAKE_BUILD_TYPE=Release >"$results/build.log" 2>&1 ||
            { note "cmake configure failed; see $results/build.log"; exit 1; }
    fi
    note "building hakmem, bench_larson, bench_vm, bench_micro, bench_mixed in $(rel "$build")"
    record cmake --build "$(rel "$build")" -j"$(nproc)" --target hakmem bench_larson bench_vm bench_micro bench_mixed
    cmake --build "$build" -j"$(nproc)" --target hakmem bench_larson bench_vm bench_micro bench_mixed \
        >>"$results/build.log" 2>&1 || { note "build failed; see $results/build.log"; exit 1; }
fi
build=$(abspath "$build")
hakmem_so=$build/libhakmem.so
larson_bin=$build/benchmarks/bench_larson
vm_bin=$build/benchmarks/bench_vm
micro_bin=$build/benchmarks/micro/bench_micro
mixed_bin=$build/benchmarks/bench_mixed
for f in "$hakmem_so" "$larson_bin" "$vm_bin" "$micro_bin" "$mixed_bin"; do
    [ -n "$from" ] || [ -e "$f" ] || { note "missing $f (build it, or drop --no-build)"; exit 1; }
done
build_type=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$build/CMakeCache.txt" 2>/dev/null)

# ---- gnuplot ---------------------------------------------------------------------------
have_gnuplot=0
if ! command -v gnuplot >/dev/null 2>&1 && [ "$install" = 1 ] && [ "$(id -u)" = 0 ] &&
    command -v apt-get >/dev/null 2>&1; then
    note "installing gnuplot-nox with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox \
        >/dev/null 2>&1 || note "apt-get install gnuplot-nox failed"
fi
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1
[ "$have_gnuplot" = 1 ] || note "no gnuplot: the page will have no charts"

# ---- the machine -----------------------------------------------------------------------
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
[ -n "$cpu_model" ] || cpu_model=$(uname -m)
# shellcheck disable=SC1091
os_name=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")
debian_version=$(cat /etc/debian_version 2>/dev/null || echo "?")
kernel=$(uname -sr)
ncpu=$(nproc 2>/dev/null || echo "?")
mem_total=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
cc_version=$(${CC:-cc} --version 2>/dev/null | head -n 1)
libc_version="glibc $(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }') (Debian libc6 $(dpkg-query -W -f='${Version}' libc6 2>/dev/null))"
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
git_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
git -C "$root" diff --quiet HEAD 2>/dev/null || git_rev="$git_rev (with uncommitted changes)"

# ---- 1. larson -------------------------------------------------------------------------
larson_tsv=$results/larson.tsv
if run_part larson; then
    note "larson: profiles $larson_profiles, $larson_runs runs x ${larson_seconds}s per allocator"
    cmd=(env HAKMEM_SO="$(rel "$hakmem_so")" benchmarks/larson.sh --profile "$larson_profiles"
         --runs "$larson_runs" --seconds "$larson_seconds" --bin "$(rel "$larson_bin")"
         --out "$(rel "$larson_tsv")")
    [ "$install" = 0 ] && cmd+=(--no-install)
    record "${cmd[@]}"
    "${cmd[@]}" >"$results/larson.txt" 2> >(tee "$results/larson.log" >&2) ||
        failures=$((failures + 1))
    wait
fi

# ---- 2. the VM scenario ----------------------------------------------------------------
vm_tsv=$results/vm.tsv
if run_part vm; then
    note "vm: modes random, fixed2m and fullwrite, $vm_desc"
    cmd=(env HAKMEM_SO="$(rel "$hakmem_so")" benchmarks/vm.sh "${vm_args[@]}"
         --bin "$(rel "$vm_bin")" --out "$(rel "$vm_tsv")")
    [ "$install" = 0 ] && cmd+=(--no-install)
    record "${cmd[@]}"
    "${cmd[@]}" >"$results/vm.txt" 2> >(tee "$results/vm.log" >&2) ||
        failures=$((failures + 1))
    wait
fi

# ---- 3. the micro benchmarks -----------------------------------------------------------
# One process per benchmark and allocator; within a round, every benchmark runs once for
# each allocator, back to back, the first of the two alternating. One TSV row per process:
micro_tsv=$results/micro.tsv
micro_failed=0
# parse_json: a Google Benchmark JSON report (one benchmark) -> "name status ns_per_op
# items_per_second minflt_per_op maxrss_kb iterations message" (tab-separated).
parse_json() {
    awk '
    /"benchmarks": \[/ { inb = 1; next }
    inb && /^ *"[a-z_]+": / {
        line = $0
        sub(/^ *"/, "", line)
        key = line; sub(/".*/, "", key)
        val = line; sub(/^[a-z_]+": */, "", val); sub(/,$/, "", val)
        if (val ~ /^"/) { sub(/^"/, "", val); sub(/"$/, "", val) }
        v[key] = val
    }
    END {
        status = (v["error_occurred"] == "true") ? "error" : "ok"
        ips = v["items_per_second"] + 0
        if (status == "ok" && ips <= 0) { status = "error"; v["error_message"] = "no rate reported" }
        ns = (status == "ok") ? sprintf("%.4g", 1e9 / ips) : "NA"
        msg = v["error_message"]; gsub(/\t/, " ", msg)
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v["name"], status, ns,
               (status == "ok" ? v["items_per_second"] : "NA"),
               (v["minflt_per_op"] == "" ? "NA" : v["minflt_per_op"]),
               (v["maxrss_kb"] == "" ? "NA" : v["maxrss_kb"] + 0),
               (v["iterations"] == "" ? "NA" : v["iterations"]), msg
    }' "$1"
}
if run_part micro; then
    mapfile -t micro_names < <("$micro_bin" --benchmark_list_tests 2>/dev/null)
    [ ${#micro_names[@]} -gt 0 ] || { note "bench_micro lists no benchmark"; exit 1; }
    # rows: the names without the allocator (BM_Pair/hakmem/size:16 -> BM_Pair/size:16)
    mapfile -t micro_rows < <(printf '%s\n' "${micro_names[@]}" |
        awk -F/ '{ r = $1; for (i = 3; i <= NF; i++) r = r "/" $i; if (!(r in seen)) { seen[r] = 1; print r } }')
    micro_allocs=(hakmem system)
    nrows=${#micro_rows[@]}
    note "micro: $nrows benchmarks x ${#micro_allocs[@]} allocators x $micro_runs rounds, min time ${micro_min_time}s each"
    commands+=("$(rel "$micro_bin") '--benchmark_filter=^NAME$' --benchmark_min_time=$micro_min_time --benchmark_format=json")
    printf 'row\tallocator\trun\tname\tstatus\tns_per_op\titems_per_second\tminflt_per_op\tmaxrss_kb\titerations\tmessage\n' \
        >"$micro_tsv"
    have_timeout=0
    command -v timeout >/dev/null 2>&1 && have_timeout=1
    for ((r = 1; r <= micro_runs; r++)); do
        for ((k = 0; k < nrows; k++)); do
            row=${micro_rows[$k]}
            for ((i = 0; i < 2; i++)); do
                a=${micro_allocs[$(((i + r + k) % 2))]}
                # the full name: the allocator goes back after the family
                name=${row%%/*}/$a
                [ "$row" != "${row#*/}" ] && name=$name/${row#*/}
                cmd=()
                [ "$have_timeout" = 1 ] && cmd=(timeout -k 5 300)
                cmd+=("$micro_bin" "--benchmark_filter=^$name\$" --benchmark_min_time="$micro_min_time"
                      --benchmark_format=json)
                "${cmd[@]}" >"$tmpdir/micro.json" 2>"$tmpdir/micro.err"
                rc=$?
                res=$(parse_json "$tmpdir/micro.json")
                IFS=$'\t' read -r _ status ns _ _ rss _ msg <<<"$res"
                if [ "$rc" -ne 0 ] && [ "$status" = ok ]; then
                    status=error
                    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then msg="timed out (hang?)"
                    elif [ "$rc" -gt 128 ]; then msg="killed by signal $((rc - 128))"
                    else msg="exit status $rc"
                    fi
                    res=$(printf '%s\terror\tNA\tNA\tNA\tNA\tNA\t%s' "$name" "$msg")
                elif [ -z "$res" ] || [ "$status" = "" ]; then
                    status=error msg="no JSON result (exit status $rc)"
                    res=$(printf '%s\terror\tNA\tNA\tNA\tNA\tNA\t%s' "$name" "$msg")
                fi
                printf '%s\t%s\t%d\t%s\n' "$row" "$a" "$r" "$res" >>"$micro_tsv"
                if [ "$status" = ok ]; then
                    note "[micro $r/$micro_runs $((k + 1))/$nrows] $(printf '%-42s %-6s' "$row" "$a") $ns ns/op  peak RSS $rss KiB"
                else
                    micro_failed=$((micro_failed + 1))
                    note "FAILED micro $name (round $r): $msg; command: ${cmd[*]}"
                    sed 's/^/    stderr: /' "$tmpdir/micro.err" | tail -n 5 >&2
                fi
            done
        done
    done
    [ "$micro_failed" -gt 0 ] && failures=$((failures + 1))
fi

# ---- 4. instructions per operation -----------------------------------------------------
# Instruction counts are deterministic: the machine's load does not change them.
callgrind_txt=$results/callgrind.txt
callgrind_failed=0
if run_part callgrind; then
    if command -v valgrind >/dev/null; then
        note "callgrind: instructions per malloc/free, pairs and 1000 live blocks"
        cmd=(env HAKMEM_SO="$(rel "$hakmem_so")" benchmarks/callgrind.sh)
        [ "$quick" = 1 ] && cmd+=(50000)
        record "${cmd[@]}"
        # Into a temporary file first: a run that dies half-way leaves no half table.
        if "${cmd[@]}" >"$callgrind_txt.part" 2>"$results/callgrind.log"; then
            mv "$callgrind_txt.part" "$callgrind_txt"
        else
            callgrind_failed=1
            failures=$((failures + 1))
        fi
    else
        note "callgrind: valgrind is not installed; part skipped"
    fi
fi

# ---- 5. the mixed stress ---------------------------------------------------------------
mixed_txt=$results/mixed.txt
if run_part mixed; then
    note "mixed: memory held after a multi-thread stress frees everything, $mixed_desc"
    cmd=(env HAKMEM_SO="$(rel "$hakmem_so")" benchmarks/mixed.sh "${mixed_args[@]}"
         --bin "$(rel "$mixed_bin")" --out "$(rel "$results/mixed.tsv")")
    [ "$install" = 0 ] && cmd+=(--no-install)
    record "${cmd[@]}"
    "${cmd[@]}" >"$mixed_txt" 2> >(tee "$results/mixed.log" >&2) || failures=$((failures + 1))
    wait
fi

t_end=$(date +%s)
load_end=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
secs=$((t_end - t_start))
if [ "$secs" -lt 120 ]; then elapsed="$secs s"; else elapsed="$(( (secs + 30) / 60 )) min"; fi

# What the page says besides the results, kept with them so that --from can write it again.
meta_vars="started elapsed load_start load_end commands quick mode_name parts larson_runs
    larson_seconds larson_profiles vm_desc mixed_desc micro_runs micro_min_time failures micro_failed
    callgrind_failed
    cpu_model os_name debian_version kernel ncpu mem_total cc_version libc_version git_rev
    build_type"
if [ -z "$from" ]; then
    # shellcheck disable=SC2086
    declare -p $meta_vars >"$results/meta.env" 2>/dev/null
elif [ -r "$results/meta.env" ]; then
    # shellcheck disable=SC1091
    . "$results/meta.env"
else
    note "no $results/meta.env: the page shows this machine and no commands"
fi
micro_failed=${micro_failed:-0}
callgrind_failed=${callgrind_failed:-0}

# ---- summaries: markdown tables and chart data -----------------------------------------
# colour index of an allocator in the charts (benchmarks/plot/common.gp)
colour_awk='function colour(a,   i, n, names) {
    n = split("hakmem hakmem-malloc hakmem-mmap system mimalloc jemalloc tcmalloc", names, " ")
    for (i = 1; i <= n; i++) if (names[i] == a) return i - 1
    return 7
}'
# med(), human() (common.sh) and mib()
median_awk="$awk_lib"'
function mib(kb) { return sprintf("%.1f", kb / 1024) }'

charts=()   # "file|alt text"
plot() { # SCRIPT PNG VARIABLES...: gnuplot with -e variables; keeps the chart if it worked
    local script=$1 png=$2 vars
    shift 2
    vars="plotdir='$here/plot'; out='$png'; $*"
    if gnuplot -e "$vars" "$here/plot/$script" 2>"$tmpdir/gnuplot.err"; then
        [ -s "$png" ] && return 0
    fi
    rm -f "$png"
    note "gnuplot $script -> $(basename "$png") failed:"
    sed 's/^/    /' "$tmpdir/gnuplot.err" | tail -n 5 >&2
    return 1
}

larson_md="" vm_md="" micro_md=""
if has_part larson && [ -s "$larson_tsv" ]; then
    # allocators in the order the runner used them (first appearance)
    larson_allocs=$(awk -F'\t' 'NR > 1 && !($2 in s) { s[$2] = 1; printf "%s ", $2 }' "$larson_tsv")
    larson_md=$(awk -F'\t' -v order="$larson_allocs" -v profiles="${larson_profiles//,/ }" \
        "$median_awk"'
    # vals[key, 1..cnt] sorted into v[1..cnt]
    function sort_into(key, cnt, v,   i, j, t) {
        for (i = 1; i <= cnt; i++) v[i] = vals[key, i]
        for (i = 2; i <= cnt; i++) {
            t = v[i]
            for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]
            v[j + 1] = t
        }
    }
    NR > 1 {
        p = $1; a = $2; total[p, a]++
        if ($4 == "NA") next
        run[p, a, $3] = $4 + 0
        if ($3 + 0 > runs[p]) runs[p] = $3 + 0
        k = ++ok[p, a]
        vals["ops" SUBSEP p SUBSEP a, k] = $4 + 0
        vals["rss" SUBSEP p SUBSEP a, k] = $5 + 0
        if (!((p, a) in lo) || $4 + 0 < lo[p, a]) lo[p, a] = $4 + 0
        if (!((p, a) in hi) || $4 + 0 > hi[p, a]) hi[p, a] = $4 + 0
        if (!((p, a) in rhi) || $5 + 0 > rhi[p, a]) rhi[p, a] = $5 + 0
    }
    END {
        na = split(order, names, " "); np = split(profiles, prof, " ")
        for (q = 1; q <= np; q++) {
            p = prof[q]
            for (i = 1; i <= na; i++) {
                a = names[i]
                if (ok[p, a] > 0) {
                    m[p, a] = med("ops" SUBSEP p SUBSEP a, ok[p, a])
                    rs[p, a] = med("rss" SUBSEP p SUBSEP a, ok[p, a])
                }
            }
            printf "\n**Profile %s**\n\n", p
            print "| allocator | runs ok | median ops/s | min - max | spread | vs system | vs best other | peak RSS MiB (median, max) |"
            print "|---|---:|---:|---:|---:|---:|---|---:|"
            for (i = 1; i <= na; i++) {
                a = names[i]
                if (!((p, a) in total)) continue
                if (ok[p, a] + 0 == 0) {
                    printf "| %s | 0/%d | FAILED | - | - | - | - | - |\n", a, total[p, a]
                    continue
                }
                best = 0; bn = ""
                for (j = 1; j <= na; j++) {
                    b = names[j]
                    if (b != a && ((p, b) in m) && m[p, b] > best) { best = m[p, b]; bn = b }
                }
                vs = (((p, "system") in m) && a != "system") ? sprintf("%.2fx", m[p, a] / m[p, "system"]) : "-"
                vb = best > 0 ? sprintf("%.2fx (%s)", m[p, a] / best, bn) : "-"
                name = (a == "hakmem") ? "**hakmem**" : a
                printf "| %s | %d/%d | %s | %s - %s | %.0f%% | %s | %s | %s, %s |\n", name, ok[p, a],
                       total[p, a], human(m[p, a]), human(lo[p, a]), human(hi[p, a]),
                       100 * (hi[p, a] - lo[p, a]) / m[p, a], vs, vb, mib(rs[p, a]), mib(rhi[p, a])
            }
            # The same comparison run by run: a run is one turn of every allocator, close
            # in time, so its ratios share the machine'"'"'s conditions of that moment.
            line = ""
            for (j = 1; j <= na; j++) {
                b = names[j]
                if (b == "hakmem" || !((p, "hakmem") in m) || !((p, b) in m)) continue
                n = 0; ahead = 0
                for (r = 1; r <= runs[p]; r++) {
                    if (!((p, "hakmem", r) in run) || !((p, b, r) in run)) continue
                    x = run[p, "hakmem", r] / run[p, b, r]
                    vals["ratio" SUBSEP b, ++n] = x
                    ahead += x > 1
                }
                if (n == 0) continue
                sort_into("ratio" SUBSEP b, n, v)
                line = line sprintf("%s %s %.2fx (quartiles %.2fx-%.2fx), ahead in %d of %d",
                                    line == "" ? "" : ";", b, med("ratio" SUBSEP b, n),
                                    v[int((n + 3) / 4)], v[int((3 * n + 1) / 4)], ahead, n)
            }
            if (line != "")
                printf "\nhakmem / other within each run:%s.\n", line
        }
    }' "$larson_tsv")
    if [ "$have_gnuplot" = 1 ]; then
        # chart data: a row per profile; median, min, max of each allocator (Mops/s, MiB)
        for what in ops rss; do
            awk -F'\t' -v order="$larson_allocs" -v profiles="${larson_profiles//,/ }" -v what="$what" \
                "$median_awk"'
            NR > 1 && $4 != "NA" {
                p = $1; a = $2; x = (what == "ops") ? $4 / 1e6 : $5 / 1024
                k = ++ok[p, a]; vals[p SUBSEP a, k] = x
                if (!((p, a) in lo) || x < lo[p, a]) lo[p, a] = x
                if (!((p, a) in hi) || x > hi[p, a]) hi[p, a] = x
            }
            END {
                na = split(order, names, " "); np = split(profiles, prof, " ")
                printf "profile"; for (i = 1; i <= na; i++) printf " %s %s_lo %s_hi", names[i], names[i], names[i]
                print ""
                for (q = 1; q <= np; q++) {
                    p = prof[q]; printf "%s", p
                    for (i = 1; i <= na; i++) {
                        a = names[i]
                        if (ok[p, a] > 0) printf " %g %g %g", med(p SUBSEP a, ok[p, a]), lo[p, a], hi[p, a]
                        else printf " NA NA NA"
                    }
                    print ""
                }
            }' "$larson_tsv" >"$tmpdir/larson-$what.dat"
        done
        cols=$(for a in $larson_allocs; do awk -v a="$a" "$colour_awk"'BEGIN { printf "%d ", colour(a) }'; done)
        n=$(echo "$larson_allocs" | wc -w)
        plot grouped.gp "$imgdir/larson-ops.png" "data='$tmpdir/larson-ops.dat'; n=$n; cols='$cols';" \
            "ttl='larson: throughput by size profile (higher is better)'; ylab='million operations per second'; xlab='size profile'" &&
            charts+=("larson-ops.png|larson throughput per allocator and profile")
        plot grouped.gp "$imgdir/larson-rss.png" "data='$tmpdir/larson-rss.dat'; n=$n; cols='$cols';" \
            "ttl='larson: peak RSS by size profile (lower is better)'; ylab='peak RSS, MiB'; xlab='size profile'" &&
            charts+=("larson-rss.png|larson peak RSS per allocator and profile")
    fi
fi

if has_part vm && [ -s "$vm_tsv" ]; then
    vm_allocs=$(awk -F'\t' 'NR > 1 && $1 == "time" && !($3 in s) { s[$3] = 1; printf "%s ", $3 }' "$vm_tsv")
    vm_modes=$(awk -F'\t' 'NR > 1 && $1 == "time" && !($2 in s) { s[$2] = 1; printf "%s ", $2 }' "$vm_tsv")
    vm_md=$(awk -F'\t' -v order="$vm_allocs" -v modes="$vm_modes" "$median_awk"'
    function family(x) { return x ~ /^hakmem/ ? "hakmem" : x }
    function ms(ns) { return ns >= 1e6 ? sprintf("%.2f ms", ns / 1e6) : sprintf("%.1f us", ns / 1e3) }
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    {
        md = $col["mode"]; a = $col["allocator"]
        if ($col["pass"] == "time") {
            total[md, a]++
            if ($col["ns_per_cycle"] == "NA") next
            k = ++ok[md, a]; ns = $col["ns_per_cycle"] + 0
            vals["ns" SUBSEP md SUBSEP a, k] = ns
            vals["flt" SUBSEP md SUBSEP a, k] = $col["minflt"] + 0
            vals["rss" SUBSEP md SUBSEP a, k] = $col["maxrss_kb"] + 0
            if (!((md, a) in lo) || ns < lo[md, a]) lo[md, a] = ns
            if (!((md, a) in hi) || ns > hi[md, a]) hi[md, a] = ns
            cycles[md] = 0
        } else if ($col["pass"] == "strace") {
            sc[md, a] = $col["mmap"] " / " $col["munmap"] " / " $col["madvise"] " / " $col["mremap"]
            gsub(/NA/, "-", sc[md, a])
        }
    }
    END {
        na = split(order, names, " "); nm = split(modes, mo, " ")
        for (q = 1; q <= nm; q++) {
            md = mo[q]
            for (i = 1; i <= na; i++) {
                a = names[i]
                if (ok[md, a] > 0) {
                    m[md, a] = med("ns" SUBSEP md SUBSEP a, ok[md, a])
                    flt[md, a] = med("flt" SUBSEP md SUBSEP a, ok[md, a])
                    rs[md, a] = med("rss" SUBSEP md SUBSEP a, ok[md, a])
                }
            }
            printf "\n**Mode %s**\n\n", md
            print "| allocator | runs ok | median time/cycle | spread | vs system | vs best other | page faults (minor, median) | peak RSS MiB | mmap / munmap / madvise / mremap |"
            print "|---|---:|---:|---:|---:|---|---:|---:|---:|"
            for (i = 1; i <= na; i++) {
                a = names[i]
                if (!((md, a) in total)) continue
                s = ((md, a) in sc) ? sc[md, a] : "-"
                if (ok[md, a] + 0 == 0) {
                    printf "| %s | 0/%d | FAILED | - | - | - | - | - | %s |\n", a, total[md, a], s
                    continue
                }
                best = 0; bn = ""
                for (j = 1; j <= na; j++) {
                    b = names[j]
                    if (family(b) != family(a) && ((md, b) in m) && (best == 0 || m[md, b] < best)) { best = m[md, b]; bn = b }
                }
                vs = (((md, "system") in m) && a != "system") ? sprintf("%.2fx", m[md, a] / m[md, "system"]) : "-"
                vb = best > 0 ? sprintf("%.2fx (%s)", m[md, a] / best, bn) : "-"
                name = (family(a) == "hakmem") ? "**" a "**" : a
                printf "| %s | %d/%d | %s | %.0f%% | %s | %s | %s | %s | %s |\n", name, ok[md, a], total[md, a],
                       ms(m[md, a]), 100 * (hi[md, a] - lo[md, a]) / m[md, a], vs, vb, human(flt[md, a]),
                       mib(rs[md, a]), s
            }
        }
    }' "$vm_tsv")
    # cycles per run of each mode, from the runner's table header ("mode random: ..., 64 cycles per run")
    vm_cycles=$(awk '/^mode [a-z0-9]+: / { m = $2; sub(/:$/, "", m); r = ""; for (i = 3; i <= NF; i++) { if ($(i + 1) == "cycles") c = $i; if ($(i + 1) == "runs") r = ", " $i " runs" } printf "%s%s: %s cycles per run%s", (n++ ? "; " : ""), m, c, r }' \
        "$results/vm.txt" 2>/dev/null)
    if [ "$have_gnuplot" = 1 ]; then
        for what in time faults; do
            awk -F'\t' -v order="$vm_allocs" -v modes="$vm_modes" -v what="$what" \
                "$median_awk $colour_awk"'
            NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            $col["pass"] == "time" && $col["ns_per_cycle"] != "NA" {
                md = $col["mode"]; a = $col["allocator"]
                x = (what == "time") ? $col["ns_per_cycle"] / 1e6 : $col["minflt"] + 0
                k = ++ok[md, a]; vals[md SUBSEP a, k] = x
                if (!((md, a) in lo) || x < lo[md, a]) lo[md, a] = x
                if (!((md, a) in hi) || x > hi[md, a]) hi[md, a] = x
            }
            END {
                na = split(order, names, " "); nm = split(modes, mo, " ")
                for (q = 1; q <= nm; q++) {
                    if (q > 1) printf "\n\n"
                    md = mo[q]
                    for (i = 1; i <= na; i++) {
                        a = names[i]
                        if (ok[md, a] > 0) printf "%s %g %g %g %d\n", a, med(md SUBSEP a, ok[md, a]), lo[md, a], hi[md, a], colour(a)
                        else printf "%s NA NA NA %d\n", a, colour(a)
                    }
                }
            }' "$vm_tsv" >"$tmpdir/vm-$what.dat"
        done
        nm=$(echo "$vm_modes" | wc -w)
        titles="" q=0
        for md in $vm_modes; do
            q=$((q + 1))
            case "$md" in
                random)  t="random: blocks of 1-32 MiB" ;;
                fixed2m) t="fixed2m: blocks of 2 MiB" ;;
                fullwrite) t="fullwrite: 20 blocks of 5-25 MiB written in full" ;;
                *)       t=$md ;;
            esac
            titles="$titles t$q='$t';"
        done
        plot panels.gp "$imgdir/vm-time.png" "data='$tmpdir/vm-time.dat'; npanels=$nm; $titles" \
            "logy=1; ttl='VM scenario: time per cycle (malloc, touch every page, free; log scale, lower is better)'; ylab='milliseconds per cycle'" &&
            charts+=("vm-time.png|VM scenario, time per cycle per allocator")
        plot panels.gp "$imgdir/vm-faults.png" "data='$tmpdir/vm-faults.dat'; npanels=$nm; $titles" \
            "ttl='VM scenario: minor page faults over the measured cycles (lower is better)'; ylab='page faults per run'" &&
            charts+=("vm-faults.png|VM scenario, page faults per allocator")
    fi
fi

if has_part micro && [ -s "$micro_tsv" ]; then
    # label: BM_Pair/size:16 -> "Pair 16", BM_Aligned/align:64/size:256 -> "Aligned 64/256"
    label_awk='function hsize(x) {
        if (x >= 1048576 && x % 1048576 == 0) return (x / 1048576) "M"
        if (x >= 1024 && x % 1024 == 0) return (x / 1024) "K"
        return x
    }
    function label(row,   n, f, i, s, kv) {
        n = split(row, f, "/"); s = f[1]; sub(/^BM_/, "", s)
        for (i = 2; i <= n; i++) {
            if (f[i] == "real_time") continue
            split(f[i], kv, ":")
            s = s (i == 2 ? " " : "/") (kv[1] == "n" ? "n=" kv[2] : hsize(kv[2]))
        }
        if (s == "Realloc") s = "Realloc 16-1M"
        return s
    }
    function op(row) {
        if (row ~ /^BM_Pair/) return "malloc + free"
        if (row ~ /^BM_RandomFree/) return "one of N blocks: malloc, later free in random order"
        if (row ~ /^BM_CrossThread/) return "malloc here, free in the other thread (wall clock)"
        if (row ~ /^BM_Realloc/) return "one doubling realloc, 16 B to 1 MiB"
        if (row ~ /^BM_Calloc/) return "calloc + free"
        if (row ~ /^BM_Aligned/) return "aligned alloc + free"
        if (row ~ /^BM_Large/) return "malloc, write every 4 KiB page, free"
        return ""
    }'
    # shellcheck disable=SC2016
    micro_awk_core='
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    {
        rw = $col["row"]; a = $col["allocator"]
        if (!(rw in seenrow)) { seenrow[rw] = 1; rows[++nrows] = rw }
        total[rw, a]++
        if ($col["status"] != "ok") {
            if (!((rw, a) in err)) err[rw, a] = $col["message"]
            next
        }
        k = ++ok[rw, a]; x = $col["ns_per_op"] + 0
        vals["ns" SUBSEP rw SUBSEP a, k] = x
        vals["rss" SUBSEP rw SUBSEP a, k] = $col["maxrss_kb"] + 0
        vals["flt" SUBSEP rw SUBSEP a, k] = $col["minflt_per_op"] + 0
        if (!((rw, a) in lo) || x < lo[rw, a]) lo[rw, a] = x
        if (!((rw, a) in hi) || x > hi[rw, a]) hi[rw, a] = x
    }
    function stats(rw, a) {
        if (ok[rw, a] > 0) {
            m[rw, a] = med("ns" SUBSEP rw SUBSEP a, ok[rw, a])
            rs[rw, a] = med("rss" SUBSEP rw SUBSEP a, ok[rw, a])
            fl[rw, a] = med("flt" SUBSEP rw SUBSEP a, ok[rw, a])
            return 1
        }
        return 0
    }'
    micro_md=$(awk -F'\t' "$median_awk $label_awk $micro_awk_core"'
    function cell(rw, a) {
        if (ok[rw, a] + 0 == 0) return "FAILED " total[rw, a] "/" total[rw, a]
        return sprintf("%s (%.0f%%)", nsfmt(m[rw, a]), 100 * (hi[rw, a] - lo[rw, a]) / m[rw, a])
    }
    function nsfmt(x) { return x >= 1e6 ? sprintf("%.3g ms", x / 1e6) : x >= 1e3 ? sprintf("%.3g us", x / 1e3) : sprintf("%.3g ns", x) }
    function flt(x) { return x == 0 ? "0" : x < 0.01 ? sprintf("%.1e", x) : sprintf("%.3g", x) }
    END {
        print "| benchmark | one op | hakmem time/op (spread) | system time/op (spread) | hakmem / system | peak RSS MiB hakmem / system | minor faults per op hakmem / system |"
        print "|---|---|---:|---:|---:|---:|---:|"
        for (q = 1; q <= nrows; q++) {
            rw = rows[q]; h = stats(rw, "hakmem"); s = stats(rw, "system")
            ratio = (h && s) ? sprintf("%.2fx", m[rw, "hakmem"] / m[rw, "system"]) : "-"
            printf "| %s | %s | %s | %s | %s | %s / %s | %s / %s |\n", label(rw), op(rw), cell(rw, "hakmem"),
                   cell(rw, "system"), ratio, (h ? mib(rs[rw, "hakmem"]) : "-"), (s ? mib(rs[rw, "system"]) : "-"),
                   (h ? flt(fl[rw, "hakmem"]) : "-"), (s ? flt(fl[rw, "system"]) : "-")
        }
        nerr = 0
        for (q = 1; q <= nrows; q++) for (i = 1; i <= 2; i++) {
            a = (i == 1) ? "hakmem" : "system"
            if ((rows[q], a) in err) {
                if (!nerr++) print "\nErrors reported by the benchmarks (first message of each):\n"
                printf "- `%s` (%s): %s, in %d of %d runs\n", rows[q], a, err[rows[q], a], total[rows[q], a] - ok[rows[q], a], total[rows[q], a]
            }
        }
    }' "$micro_tsv")
    if [ "$have_gnuplot" = 1 ]; then
        awk -F'\t' "$median_awk $label_awk $micro_awk_core"'
        END {
            print "benchmark hakmem hakmem_lo hakmem_hi system system_lo system_hi"
            for (q = 1; q <= nrows; q++) {
                rw = rows[q]; line = ""; bad = ""
                for (i = 1; i <= 2; i++) {
                    a = (i == 1) ? "hakmem" : "system"
                    if (stats(rw, a)) line = line sprintf(" %g %g %g", m[rw, a], lo[rw, a], hi[rw, a])
                    else { line = line " NA NA NA"; bad = bad (bad == "" ? "" : ", ") a }
                }
                printf "\"%s%s\"%s\n", label(rw), (bad == "" ? "" : " (" bad " failed)"), line
            }
        }' "$micro_tsv" >"$tmpdir/micro-time.dat"
        awk -F'\t' "$median_awk $label_awk $micro_awk_core"'
        END {
            for (q = 1; q <= nrows; q++) {
                rw = rows[q]; l = "\"" label(rw) "\""
                if (stats(rw, "hakmem") && stats(rw, "system"))
                    printf "%s %g %g %g\n", l, m[rw, "hakmem"] / m[rw, "system"],
                           lo[rw, "hakmem"] / hi[rw, "system"], hi[rw, "hakmem"] / lo[rw, "system"]
                else printf "\"%s (failed)\" NA NA NA\n", label(rw)
            }
        }' "$micro_tsv" >"$tmpdir/micro-ratio.dat"
        plot grouped.gp "$imgdir/micro-time.png" "data='$tmpdir/micro-time.dat'; n=2; cols='0 3'; logy=1; rot=1; width=1300; height=650;" \
            "ttl='micro benchmarks: time per operation, hak_* vs glibc (log scale, lower is better)'; ylab='nanoseconds per operation'" &&
            charts+=("micro-time.png|micro benchmarks, time per operation, hakmem and system")
        plot ratio.gp "$imgdir/micro-ratio.png" "data='$tmpdir/micro-ratio.dat'; width=1300; height=600;" \
            "ttl='micro benchmarks: hakmem time / system time per operation (log scale)'; ylab='time ratio (below 1: hakmem faster)'" &&
            charts+=("micro-ratio.png|micro benchmarks, hakmem to system time ratio")
    fi
fi

callgrind_md=""
if has_part callgrind && [ -s "$callgrind_txt" ]; then
    callgrind_md=$(awk 'NR == 1 { print "| allocator | pair: instructions per malloc+free | live: instructions per malloc+free |"
                                  print "|---|---:|---:|"; next }
                        NF == 3 { printf "| %s | %s | %s |\n", $1, $2, $3 }' "$callgrind_txt")
fi

# ---- failures seen by the runners --------------------------------------------------------
fail_lines=$(cat "$results"/larson.log "$results"/vm.log "$results"/mixed.log 2>/dev/null | grep -E '^(larson|vm|mixed)\.sh: FAILED' | head -n 20)

# ---- the page --------------------------------------------------------------------------
chart() { # FILE: the markdown image line when that chart was made
    local c
    for c in "${charts[@]}"; do
        [ "${c%%|*}" = "$1" ] && { printf '![%s](img/%s)\n' "${c#*|}" "$1"; return; }
    done
    echo "_(no chart: gnuplot missing or failed)_"
}
page=$tmpdir/page.md
{
    echo "# Benchmarks"
    echo
    echo "Generated by \`benchmarks/report.sh$([ "$quick" = 1 ] && echo " --quick")\` on $started ($mode_name run, about $elapsed)."
    echo "Regenerate this page with:"
    echo
    echo '```sh'
    echo "benchmarks/report.sh --quick     # small runs, a few minutes"
    echo "benchmarks/report.sh             # full runs, about 10 minutes on 2 cores"
    echo '```'
    echo
    echo "> **The numbers below come from a noisy, shared 2-core virtual machine** (other jobs ran"
    echo "> at the same time: load average $load_start at the start, $load_end at the end)."
    echo "> Absolute times and rates are noise; read the ratios, which compare allocators"
    echo "> measured in the same run, interleaved. A ratio within the spread of its rows is not"
    echo "> a difference.$([ "$quick" = 1 ] && echo " This is a --quick run: few, short runs.")"
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| CPU | $cpu_model, $ncpu CPUs (nproc) |"
    echo "| memory | $mem_total |"
    echo "| kernel | $kernel |"
    echo "| OS | ${os_name:-?} (Debian $debian_version) |"
    echo "| compiler | $cc_version |"
    echo "| C library | $libc_version |"
    echo "| allocators | mimalloc $(pkg_version libmimalloc2.0), jemalloc $(pkg_version libjemalloc2), tcmalloc $(pkg_version libtcmalloc-minimal4) (Debian packages, preloaded) |"
    echo "| hakmem | commit $git_rev, CMake build type ${build_type:-?} |"
    echo "| date | $started |"
    echo
    echo "## Commands"
    echo
    echo "Run from the repository root, in this order (raw results: \`$(rel "$results")/\`,"
    echo "which is not committed):"
    echo
    echo '```sh'
    printf '%s\n' "${commands[@]}"
    echo '```'
    echo
    if has_part micro; then
        echo "The \`bench_micro\` line ran once per micro benchmark name (\`--benchmark_list_tests\`) and allocator,"
        echo "NAME being the full name, e.g. \`BM_Pair/hakmem/size:16\`: $micro_runs rounds, hakmem and"
        echo "system back to back in each, the first of the two alternating."
        echo
    fi
    echo "Each runner interleaves the allocators (round-robin, the first one rotating every run)"
    echo "and reports the median over runs; **spread** is (max - min) / median over the runs;"
    echo "**peak RSS** is the process's peak resident set (getrusage ru_maxrss)."
    echo
    if has_part larson; then
        echo "## larson (server simulation)"
        echo
        echo "\`benchmarks/larson.c\`: 2 threads allocate and free blocks of random sizes in a table of"
        echo "slots, blocks cross threads as the threads are replaced; throughput in operations"
        echo "per second (higher is better). Ratios are throughput ratios (above 1.00x: faster);"
        echo "\"vs best other\" compares with the fastest other allocator of that profile. Under each"
        echo "table, the same ratios run by run (run k of every allocator, taken in turn, share"
        echo "the machine's load of that moment): their median, quartiles, and the runs hakmem won."
        echo "$larson_runs runs of ${larson_seconds} s per allocator and profile; profiles: tiny"
        echo "8-128 B, default 8-1000 B, mid 1-32768 B (1000 slots per thread)."
        echo "$larson_md"
        echo
        chart larson-ops.png
        echo
        chart larson-rss.png
        echo
    fi
    if has_part vm; then
        echo "## VM scenario (large blocks)"
        echo
        echo "\`benchmarks/vm.c\`: a ring of 4 live blocks; each cycle frees the oldest block, allocates"
        echo "a new one and writes one byte in each of its 4 KiB pages (random: sizes 1-32 MiB from a"
        echo "seeded PRNG; fixed2m: 2 MiB). fullwrite: 20 live blocks of 5-25 MiB, each cycle replaces"
        echo "a random one and writes the new block in full (memset), as a program filling a buffer"
        echo "does. Time per cycle (lower is better); ratios are time ratios"
        echo "(below 1.00x: faster); \"vs best other\" compares with the fastest allocator of another"
        echo "family (hakmem's three variants are not compared with each other there). hakmem runs"
        echo "with its default large policy and with \`HAKMEM_LARGE_POLICY=malloc\` / \`=mmap\`."
        echo "Page faults: minor faults over the measured cycles (median of the runs). System calls:"
        echo "one untimed \`strace -f -c\` run, whole process. $vm_desc${vm_cycles:+ ($vm_cycles)}."
        echo "$vm_md"
        echo
        chart vm-time.png
        echo
        chart vm-faults.png
        echo
    fi
    if has_part micro; then
        echo "## Micro benchmarks (Google Benchmark, hak_* vs glibc)"
        echo
        echo "\`benchmarks/micro/bench_micro.cc\`: each benchmark twice in one binary, through"
        echo "\`hak_malloc\`/\`hak_free\`/... (hakmem linked statically) and through glibc's own entry"
        echo "points (\`__libc_malloc\`/\`__libc_free\`/...). Only these two are compared: the micro"
        echo "benchmarks measure hakmem's API against the system allocator, so \"vs system\" is also"
        echo "\"vs best other\" here. Time per operation = 1 / items_per_second (CPU time of the"
        echo "benchmark thread; wall clock for CrossThread); **hakmem / system** is the ratio of the"
        echo "medians (below 1.00x: hakmem faster). Peak RSS: the process running that one"
        echo "benchmark (a few MiB of it are Google Benchmark itself). Faults: minor page faults"
        echo "of the process per operation. $micro_runs rounds, minimum time ${micro_min_time} s per benchmark."
        echo
        echo "$micro_md"
        echo
        chart micro-ratio.png
        echo
        chart micro-time.png
        echo
    fi
    if [ -n "$callgrind_md" ]; then
        echo "## Instructions per operation (callgrind)"
        echo
        echo "\`benchmarks/callgrind.sh\`: \`benchmarks/ipo.c\` under \`valgrind --tool=callgrind\` with each"
        echo "allocator preloaded. **pair**: a loop of malloc/free pairs of random sizes 8-1024 B;"
        echo "**live**: 1000 blocks stay live, each step frees a random one and allocates anew."
        echo "Instructions of the whole process for 2N steps minus those for N, divided by N, so"
        echo "start-up and the loop's set-up cancel out (lower is better). Counts are deterministic:"
        echo "unlike the timings above they do not depend on the machine's load."
        echo
        echo "$callgrind_md"
        echo
    fi
    if has_part mixed && [ -s "$mixed_txt" ]; then
        echo "## Memory after a program frees everything (mixed stress)"
        echo
        echo "\`benchmarks/mixed.c\`: 8 threads replace random blocks of a table of 2000 each, sizes"
        echo "1 B - 8 MiB (90% up to 1 KiB, 9% up to 64 KiB, 1% up to 8 MiB), one in 16 aligned, one in"
        echo "16 grown by realloc, one in 8 freed by another thread; then every block is freed. RSS is"
        echo "VmRSS (what a user reads; pages given back with MADV_FREE still count): at the peak,"
        echo "right after the last free, and after 2 s of idling and one malloc/free pair of 256 KiB"
        echo "(an allocator that gives memory back on a clock, without a thread of its own, does it"
        echo "there). Operations differ by allocator: each ran for the same time. $mixed_desc, the"
        echo "allocators in turn; medians."
        echo
        grep '^|' "$mixed_txt"
        echo
    fi
    if [ -n "$fail_lines" ] || [ "$failures" -gt 0 ]; then
        echo "## Failures"
        echo
        if [ -n "$fail_lines" ]; then
            echo '```'
            echo "$fail_lines"
            echo '```'
        fi
        [ "${micro_failed:-0}" -gt 0 ] && echo "Micro benchmark processes that reported an error or crashed: $micro_failed (listed under the micro table)."
        [ "${callgrind_failed:-0}" -gt 0 ] && echo "\`benchmarks/callgrind.sh\` failed: see callgrind.log in the raw results."
        echo
    fi
} >"$page"
mv "$page" "$doc" || exit 1
note "wrote $(rel "$doc") (${#charts[@]} charts in $(rel "$imgdir")); raw results in $(rel "$results")"
[ "$failures" -gt 0 ] && { note "some runs failed: see the page's Failures section"; exit 1; }
exit 0
