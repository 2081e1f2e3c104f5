#!/usr/bin/env bash
# vm.sh: runs the VM scenario (vm.c: large blocks touched page by page and freed, a ring of
# --live blocks) under hakmem with each large policy, the system allocator, mimalloc,
# jemalloc and tcmalloc, interleaved, and prints one table per mode with medians and
# ratios. Every allocator is swapped in with LD_PRELOAD on the same binary.
#
#   vm.sh [--mode NAME[,NAME..]|all] [--runs N] [--cycles N] [--live K] [--seed S]
#         [--calloc] [--quick] [--allocators a,b,..] [--bin PATH] [--out FILE]
#         [--no-install] [--no-strace] [--no-stats]
#
# hakmem runs three ways: "hakmem" (no HAKMEM_LARGE_POLICY: the built-in default),
# "hakmem-malloc" (HAKMEM_LARGE_POLICY=malloc) and "hakmem-mmap" (=mmap).
# After the timed runs come two passes that are NOT timed: each allocator once under
# `strace -f -c` (mmap/munmap/madvise/mremap calls of the whole process, start-up
# included), and each hakmem variant once with HAKMEM_STATS=1 (its BigCache and batch
# counters, read from stderr).
#
# Environment: HAKMEM_SO (default <repo>/build/libhakmem.so), VM_BIN (the vm binary;
# default <repo>/build/benchmarks/bench_vm, else it is compiled from vm.c).
# Progress goes to stderr, tables to stdout, every run to a TSV file (--out).
# Absolute numbers on a shared machine are noise; compare ratios taken in the same run.
# Exit status: 0 when every run finished, 1 when a run crashed, hung, failed or found a
# block corrupted, 2 on usage.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

# name  default-cycles  quick-cycles  seconds-per-cycle-for-the-timeout  runs-at-most  description
# (fullwrite: at most 5 runs, and vm.c's warm-up of 400 cycles first: an allocator that
# faults every page of every block takes over a minute a run there)
modes_table="
random     256    64     0.1     -    block sizes uniform in 1-32 MiB
fixed2m    16384  4096   0.002   -    every block 2 MiB
fullwrite  300    100    0.2     5    20 blocks of 5-25 MiB, a random one replaced and written in full
"
all_modes="random fixed2m fullwrite"
all_allocators="hakmem hakmem-malloc hakmem-mmap system mimalloc jemalloc tcmalloc"
# Counters shown for hakmem (HAKMEM_STATS=1 pass); the first four are the headline ones.
stat_names="bigcache_hit bigcache_miss batch_add batch_flush bigcache_evict batch_reuse os_mmap os_munmap os_madvise_free"
sys_names="mmap munmap madvise mremap"

usage() {
    cat <<EOF
usage: vm.sh [options]
  --mode NAME        one of: $all_modes, a comma list, or all (default: all)
  --runs N           runs per allocator, interleaved round-robin (default 10)
  --cycles N         measured cycles per run, every mode (default: the mode's, below)
  --live K           blocks alive at once (default 4; fullwrite 20)
  --seed S           PRNG seed of the sizes (default 1; the same for every allocator)
  --calloc           allocate with calloc instead of malloc
  --quick            3 runs with fewer cycles (explicit --runs/--cycles still win)
  --allocators LIST  comma list from: $all_allocators
                     (default: all; "hakmem" is hakmem with its default large policy)
  --bin PATH         the vm binary (or VM_BIN)
  --out FILE         TSV of every run (default benchmarks/results/vm-<date>.tsv)
  --no-install       never apt-get missing allocators or strace, just skip them
  --no-strace        skip the system-call counting pass
  --no-stats         skip the HAKMEM_STATS=1 pass
modes (cycles per run, default and --quick):
$(echo "$modes_table" | awk 'NF { d = $6; for (i = 7; i <= NF; i++) d = d " " $i
                                 printf "  %-9s %s; %s cycles (quick %s)%s\n", $1, d, $2, $3,
                                        $5 == "-" ? "" : ", at most " $5 " runs" }')
EOF
}

die_usage() { echo "vm.sh: $*" >&2; usage >&2; exit 2; }
note() { echo "vm.sh: $*" >&2; }

mode_arg=all runs="" cycles="" live="" seed=1 use_calloc=0 quick=0 allocators_arg=""
bin="${VM_BIN:-}" out="" install=1 do_strace=1 do_stats=1
while [ $# -gt 0 ]; do
    case "$1" in
        --mode)       [ $# -ge 2 ] || die_usage "$1 needs a value"; mode_arg=$2; shift 2 ;;
        --mode=*)     mode_arg=${1#*=}; shift ;;
        --runs)       [ $# -ge 2 ] || die_usage "$1 needs a value"; runs=$2; shift 2 ;;
        --runs=*)     runs=${1#*=}; shift ;;
        --cycles)     [ $# -ge 2 ] || die_usage "$1 needs a value"; cycles=$2; shift 2 ;;
        --cycles=*)   cycles=${1#*=}; shift ;;
        --live)       [ $# -ge 2 ] || die_usage "$1 needs a value"; live=$2; shift 2 ;;
        --live=*)     live=${1#*=}; shift ;;
        --seed)       [ $# -ge 2 ] || die_usage "$1 needs a value"; seed=$2; shift 2 ;;
        --seed=*)     seed=${1#*=}; shift ;;
        --allocators) [ $# -ge 2 ] || die_usage "$1 needs a value"; allocators_arg=$2; shift 2 ;;
        --allocators=*) allocators_arg=${1#*=}; shift ;;
        --bin)        [ $# -ge 2 ] || die_usage "$1 needs a value"; bin=$2; shift 2 ;;
        --bin=*)      bin=${1#*=}; shift ;;
        --out)        [ $# -ge 2 ] || die_usage "$1 needs a value"; out=$2; shift 2 ;;
        --out=*)      out=${1#*=}; shift ;;
        --calloc)     use_calloc=1; shift ;;
        --quick)      quick=1; shift ;;
        --no-install) install=0; shift ;;
        --no-strace)  do_strace=0; shift ;;
        --no-stats)   do_stats=0; shift ;;
        -h|--help)    usage; exit 0 ;;
        *)            die_usage "unknown argument '$1'" ;;
    esac
done

[ "$quick" = 1 ] && : "${runs:=3}"
: "${runs:=10}"

# Library paths, Debian packages, apt-get installs, argument checks, list arguments and the
# awk functions of the tables are shared with the other runners.
# shellcheck source=benchmarks/common.sh
. "$here/common.sh"

is_uint "$runs" || die_usage "--runs must be a positive integer"
[ -z "$live" ] || is_uint "$live" || die_usage "--live must be a positive integer"
[ -z "$cycles" ] || is_uint "$cycles" || die_usage "--cycles must be a positive integer"
case "$seed" in ''|*[!0-9]*) die_usage "--seed must be a non-negative integer" ;; esac

# ---- modes -----------------------------------------------------------------------------
modes=$(names_of "$modes_table" "$mode_arg" "$all_modes" mode) || exit 2
mode_field() { # mode column(2=cycles 3=quick cycles 4=timeout s/cycle 5=runs at most
               #              6..=description)
    echo "$modes_table" | awk -v m="$1" -v c="$2" '$1 == m {
        if (c < 6) { print $c; exit }
        d = $6; for (i = 7; i <= NF; i++) d = d " " $i; print d }'
}
runs_of() { # MODE: --runs, or the mode's cap when that is lower
    local cap
    cap=$(mode_field "$1" 5)
    if [ "$cap" != "-" ] && [ "$cap" -lt "$runs" ]; then echo "$cap"; else echo "$runs"; fi
}
cycles_of() {
    if [ -n "$cycles" ]; then echo "$cycles"
    elif [ "$quick" = 1 ]; then mode_field "$1" 3
    else mode_field "$1" 2
    fi
}
# Generous: a run that takes this long hangs (an allocator that faults every page of a
# 32 MiB block takes ~15 ms a cycle here; the factor leaves room for a loaded machine).
live_of() { # MODE: --live, else the mode's own (vm.c: 20 for fullwrite, 4 for the others)
    if [ -n "$live" ]; then echo "$live"
    elif [ "$1" = fullwrite ]; then echo 20
    else echo 4
    fi
}
timeout_of() { # MODE SCALE (the warm-up: vm.c's, 2 * live cycles, 400 for fullwrite)
    local w=0
    [ "$1" = fullwrite ] && w=400
    awk -v c="$(cycles_of "$1")" -v s="$(mode_field "$1" 4)" -v k="$2" -v l="$(live_of "$1")" \
        -v w="$w" 'BEGIN { print int(60 + k * (c + 2 * l + w) * s * (l > 4 ? l / 4 : 1)) }'
}

# ---- allocators ------------------------------------------------------------------------
policy_of() { case "$1" in hakmem-*) echo "${1#hakmem-}" ;; *) echo "" ;; esac; }

wanted=$(names_of "$(printf '%s\n' $all_allocators)" "${allocators_arg:-all}" "$all_allocators" \
                  allocator) || exit 2
vm_corrupt="a block was corrupted while allocated (or calloc memory was not zero)"

# Missing Debian allocators (and strace for the counting pass): install them when we are
# root and may, else skip them.
bases=""
for a in $wanted; do bases="$bases $(base_of "$a")"; done
# shellcheck disable=SC2086
install_missing "$install" $bases
if [ "$do_strace" = 1 ] && ! command -v strace >/dev/null 2>&1; then
    if [ "$install" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        note "installing strace with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends strace >/dev/null 2>&1 || {
            apt-get update -qq >/dev/null 2>&1
            apt-get install -y -qq --no-install-recommends strace >/dev/null 2>&1
        } || note "apt-get install strace failed"
    fi
    command -v strace >/dev/null 2>&1 ||
        note "no strace (not root, no apt-get, or --no-install): system-call columns show -"
fi
have_strace=0
[ "$do_strace" = 1 ] && command -v strace >/dev/null 2>&1 && have_strace=1

# shellcheck disable=SC2086
keep_available $wanted

# ---- the vm binary ---------------------------------------------------------------------
tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/vm.XXXXXX") || exit 1
trap 'rm -rf "$tmpdir"' EXIT
find_bench_bin bench_vm "$here/vm.c"

# ---- output file -----------------------------------------------------------------------
# One row per timed run (pass=time), per strace pass (pass=strace) and per HAKMEM_STATS
# pass (pass=stats); columns a pass does not measure hold NA.
[ -n "$out" ] || out=$here/results/vm-$(date +%Y%m%d-%H%M%S).tsv
mkdir -p "$(dirname "$out")" || exit 1
tsv_cols="pass mode allocator run ns_per_cycle ns_per_cycle_chunk_median minflt majflt maxrss_kb $sys_names $stat_names"
echo "$tsv_cols" | tr ' ' '\t' > "$out" || exit 1
n_sys=$(echo "$sys_names" | wc -w) n_stat=$(echo "$stat_names" | wc -w)
nas() { local i s=""; for ((i = 0; i < $1; i++)); do s="$s	NA"; done; printf '%s' "$s"; }

have_timeout=0
command -v timeout >/dev/null 2>&1 && have_timeout=1

# vm_cmd ALLOCATOR MODE TIMEOUT [extra env...]: fills the array cmd with the command line.
# The environment is cleaned of the variables this runner sets, so that "hakmem" really
# runs hakmem's default policy. In the strace pass the caller puts strace in front of the
# binary and moves the variables to strace -E.
vm_args() { # MODE
    local v=(--mode "$1" --live "$(live_of "$1")" --cycles "$(cycles_of "$1")" --seed "$seed")
    [ "$use_calloc" = 1 ] && v+=(--calloc)
    printf '%s\n' "${v[@]}"
}
vm_env() { # ALLOCATOR: the variables to set, one per line
    local so pol
    so=$(preload_of "$(base_of "$1")") pol=$(policy_of "$1")
    [ -n "$so" ] && echo "LD_PRELOAD=$so"
    [ -n "$pol" ] && echo "HAKMEM_LARGE_POLICY=$pol"
    return 0
}

fail() { # ALLOCATOR MODE WHY ERRFILE COMMAND...
    local a=$1 m=$2 why=$3 errf=$4
    shift 4
    echo "vm.sh: FAILED $a/$m: $why; command: $*" >&2
    sed 's/^/    stderr: /' "$errf" | tail -n 20 >&2
}

# run_one ALLOCATOR MODE -> prints "ns chunk-median minflt majflt rss" on success; on failure
# prints nothing and explains on stderr. Returns the failure status.
run_one() {
    local a=$1 m=$2 errf=$tmpdir/err outf=$tmpdir/out rc t envs args
    t=$(timeout_of "$m" 1)
    mapfile -t envs < <(vm_env "$a")
    mapfile -t args < <(vm_args "$m")
    local cmd=()
    [ "$have_timeout" = 1 ] && cmd=(timeout -k 5 "$t")
    cmd+=(env -u LD_PRELOAD -u HAKMEM_LARGE_POLICY -u HAKMEM_STATS "${envs[@]}" "$bin" "${args[@]}")
    "${cmd[@]}" >"$outf" 2>"$errf"
    rc=$?
    local why parsed
    why=$(classify "$rc" "$errf" "$(preload_of "$(base_of "$a")")" "$t" "$vm_corrupt")
    parsed=$(awk '/^vm: / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
                 END { if (v["ns_per_cycle"] == "" || v["maxrss_kb"] == "") exit
                       n = split("ns_per_cycle ns_per_cycle_chunk_median minflt majflt maxrss_kb", k, " ")
                       for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " " : ""), (v[k[i]] == "" ? "NA" : v[k[i]])
                       print "" }' "$outf")
    [ -z "$why" ] && [ -z "$parsed" ] && why="no result line on stdout"
    if [ -n "$why" ]; then
        fail "$a" "$m" "$why" "$errf" "${cmd[@]}"
        return 1
    fi
    echo "$parsed"
}

# strace_one ALLOCATOR MODE -> prints the calls of each of $sys_names ("-" each when
# strace could not run). Not timed; a failure of the program itself is reported.
strace_one() {
    local a=$1 m=$2 errf=$tmpdir/serr outf=$tmpdir/sout sf=$tmpdir/strace rc t envs args e
    t=$(timeout_of "$m" 2)
    mapfile -t envs < <(vm_env "$a")
    mapfile -t args < <(vm_args "$m")
    local cmd=()
    [ "$have_timeout" = 1 ] && cmd=(timeout -k 5 "$t")
    # shellcheck disable=SC2054
    cmd+=(env -u LD_PRELOAD -u HAKMEM_LARGE_POLICY -u HAKMEM_STATS
          strace -f -c -o "$sf" -e trace=mmap,munmap,madvise,mremap)
    for e in "${envs[@]}"; do cmd+=(-E "$e"); done
    cmd+=(-- "$bin" "${args[@]}")
    rm -f "$sf"
    "${cmd[@]}" >"$outf" 2>"$errf"
    rc=$?
    local why
    why=$(classify "$rc" "$errf" "$(preload_of "$(base_of "$a")")" "$t" "$vm_corrupt")
    if ! grep -q total "$sf" 2>/dev/null; then
        # No summary: strace itself could not run (ptrace refused, say), or the program
        # died in a way that left none. The former only costs the columns.
        if [ -n "$why" ] && grep -q '^vm: ' "$outf"; then
            fail "$a" "$m" "strace pass: $why" "$errf" "${cmd[@]}"
        else
            note "strace gave no summary for $a/$m${why:+ ($why)}; system-call columns show -"
            sed 's/^/    stderr: /' "$errf" | tail -n 5 >&2
        fi
        echo "$sys_names" | awk '{ gsub(/[a-z]+/, "-"); print }'
        return 0
    fi
    if [ -n "$why" ]; then
        fail "$a" "$m" "strace pass: $why" "$errf" "${cmd[@]}"
        rc=1
    else
        rc=0
    fi
    # strace -c: "% time  seconds  usecs/call  calls  [errors]  syscall"; absent = 0 calls.
    awk -v names="$sys_names" '
        $NF != "total" && $4 ~ /^[0-9]+$/ { calls[$NF] = $4 }
        END { n = split(names, s, " ")
              for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? " " : ""), calls[s[i]]
              print "" }' "$sf"
    return $rc
}

# stats_one ALLOCATOR MODE -> prints the value of each of $stat_names ("-" when missing).
stats_one() {
    local a=$1 m=$2 errf=$tmpdir/xerr outf=$tmpdir/xout rc t envs args
    t=$(timeout_of "$m" 1)
    mapfile -t envs < <(vm_env "$a")
    mapfile -t args < <(vm_args "$m")
    local cmd=()
    [ "$have_timeout" = 1 ] && cmd=(timeout -k 5 "$t")
    cmd+=(env -u LD_PRELOAD -u HAKMEM_LARGE_POLICY HAKMEM_STATS=1 "${envs[@]}" "$bin" "${args[@]}")
    "${cmd[@]}" >"$outf" 2>"$errf"
    rc=$?
    local why
    why=$(classify "$rc" "$errf" "$(preload_of "$(base_of "$a")")" "$t" "$vm_corrupt")
    if [ -n "$why" ]; then
        fail "$a" "$m" "stats pass: $why" "$errf" "${cmd[@]}"
        return 1
    fi
    # "[hakmem]   name   value" lines; the last block printed wins (one process here).
    awk -v names="$stat_names" '
        $1 == "[hakmem]" && NF == 3 && $3 ~ /^[0-9]+$/ { v[$2] = $3; seen = 1 }
        END { n = split(names, s, " ")
              for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " " : ""), (s[i] in v ? v[s[i]] : (seen ? 0 : "-"))
              print "" }' "$errf"
}

human_ns() { awk -v v="$1" 'BEGIN {
    if (v >= 1e6) printf "%.2f ms", v / 1e6; else if (v >= 1e3) printf "%.1f us", v / 1e3;
    else printf "%.0f ns", v }'; }

# ---- the timed runs: round-robin, the starting allocator rotates each run ---------------
failures=0
n=${#allocators[@]}
note "binary $bin; allocators: ${allocators[*]}; modes: $modes"
note "$runs runs, live ${live:-per mode}, seed $seed$([ "$use_calloc" = 1 ] && echo ", calloc"); results: $out"
for m in $modes; do
    mruns=$(runs_of "$m")
    note "mode $m: $(cycles_of "$m") cycles per run, $mruns runs"
    for ((r = 1; r <= mruns; r++)); do
        for ((i = 0; i < n; i++)); do
            a=${allocators[$(((i + r - 1) % n))]}
            if res=$(run_one "$a" "$m"); then
                read -r ns chunk_med minflt majflt rss <<<"$res"
                printf 'time\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s%s%s\n' "$m" "$a" "$r" "$ns" "$chunk_med" \
                    "$minflt" "$majflt" "$rss" "$(nas "$n_sys")" "$(nas "$n_stat")" >> "$out"
                note "[$m $r/$mruns] $(printf '%-13s' "$a") $(human_ns "$ns")/cycle  minflt $minflt  peak RSS ${rss} KiB"
            else
                failures=$((failures + 1))
                printf 'time\t%s\t%s\t%d\tNA\tNA\tNA\tNA\tNA%s%s\n' "$m" "$a" "$r" \
                    "$(nas "$n_sys")" "$(nas "$n_stat")" >> "$out"
            fi
        done
    done
done

# ---- the counting passes (not timed) ---------------------------------------------------
for m in $modes; do
    if [ "$have_strace" = 1 ]; then
        for a in "${allocators[@]}"; do
            note "[$m strace] $a"
            res=$(strace_one "$a" "$m") || failures=$((failures + 1))
            printf 'strace\t%s\t%s\t1\tNA\tNA\tNA\tNA\tNA\t%s%s\n' "$m" "$a" \
                "$(echo "$res" | awk '{ gsub(/-/, "NA"); gsub(/ /, "\t"); print }')" \
                "$(nas "$n_stat")" >> "$out"
        done
    fi
    if [ "$do_stats" = 1 ]; then
        for a in "${allocators[@]}"; do
            [ "$(base_of "$a")" = hakmem ] || continue
            note "[$m stats] $a"
            if res=$(stats_one "$a" "$m"); then
                printf 'stats\t%s\t%s\t1\tNA\tNA\tNA\tNA\tNA%s\t%s\n' "$m" "$a" "$(nas "$n_sys")" \
                    "$(echo "$res" | tr ' ' '\t')" >> "$out"
            else
                failures=$((failures + 1))
            fi
        done
    fi
done

# ---- tables ----------------------------------------------------------------------------
echo "vm: $(uname -m), $(nproc 2>/dev/null || echo '?') CPUs, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null); $runs runs, live ${live:-4, fullwrite 20}, seed $seed$([ "$use_calloc" = 1 ] && echo ", calloc")"
echo "(a shared machine: absolute numbers are noisy, compare ratios within one run)"
for m in $modes; do
    echo
    echo "mode $m: $(mode_field "$m" 6), $(cycles_of "$m") cycles per run, $(runs_of "$m") runs"
    awk -F '\t' -v mode="$m" -v order="${allocators[*]}" -v have_strace="$have_strace" \
        -v sysn="$sys_names" -v statn="$stat_names" "$awk_lib"'
    function family(x) { return x ~ /^hakmem/ ? "hakmem" : x }
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["mode"] != mode { next }
    $col["pass"] == "time" {
        a = $col["allocator"]
        total[a]++
        if ($col["ns_per_cycle"] == "NA") next
        k = ++ok[a]
        ns = $col["ns_per_cycle"] + 0
        vals["ns" SUBSEP a, k] = ns
        vals["flt" SUBSEP a, k] = $col["minflt"] + 0
        vals["rss" SUBSEP a, k] = $col["maxrss_kb"] + 0
        if (!(a in lo) || ns < lo[a]) lo[a] = ns
        if (!(a in hi) || ns > hi[a]) hi[a] = ns
    }
    $col["pass"] == "strace" {
        nsys = split(sysn, sn, " ")
        for (i = 1; i <= nsys; i++) sc[$col["allocator"], i] = $col[sn[i]]
    }
    $col["pass"] == "stats" {
        a = $col["allocator"]; has_stats[a] = 1
        nst = split(statn, stn, " ")
        for (i = 1; i <= nst; i++) st[a, i] = $col[stn[i]]
    }
    END {
        na = split(order, names, " ")
        for (i = 1; i <= na; i++) {
            a = names[i]
            if (ok[a] > 0) {
                m[a] = med("ns" SUBSEP a, ok[a])
                flt[a] = med("flt" SUBSEP a, ok[a])
                rs[a] = med("rss" SUBSEP a, ok[a])
            }
        }
        split(sysn, sn, " ")
        printf "%-13s %5s %15s %7s %9s %-22s %13s %12s %6s %6s %7s %6s\n", "allocator", "ok",
               "median ns/cycle", "spread", "vs system", "vs best other", "median minflt",
               "peak RSS KiB", sn[1], sn[2], sn[3], sn[4]
        for (i = 1; i <= na; i++) {
            a = names[i]
            okn = ok[a] + 0
            for (j = 1; j <= 4; j++) {
                v = ((a, j) in sc) ? sc[a, j] : "-"
                sv[j] = (v == "" || v == "NA") ? "-" : v
            }
            if (okn == 0) {
                printf "%-13s %2d/%-2d %15s %7s %9s %-22s %13s %12s %6s %6s %7s %6s\n", a, 0, total[a],
                       "FAILED", "-", "-", "-", "-", "-", sv[1], sv[2], sv[3], sv[4]
                continue
            }
            # Best other: the fastest allocator of another family (hakmem variants are
            # not compared with each other here; the rows above and below do that).
            best = 0; bestname = ""
            for (j = 1; j <= na; j++) {
                b = names[j]
                if (family(b) != family(a) && (b in m) && (best == 0 || m[b] < best)) {
                    best = m[b]; bestname = b
                }
            }
            vs_sys = ("system" in m && a != "system" && m["system"] > 0) ? sprintf("%.2fx", m[a] / m["system"]) : "-"
            vs_best = best > 0 ? sprintf("%.2fx (%s)", m[a] / best, bestname) : "-"
            spread = m[a] > 0 ? sprintf("%.0f%%", 100 * (hi[a] - lo[a]) / m[a]) : "-"
            printf "%-13s %2d/%-2d %15.0f %7s %9s %-22s %13.0f %12.0f %6s %6s %7s %6s\n", a, okn,
                   total[a], m[a], spread, vs_sys, vs_best, flt[a], rs[a], sv[1], sv[2], sv[3], sv[4]
        }
        print "  ns/cycle: per run total time / cycles (vm.c says why), then the median over runs;"
        print "  spread: (max - min) / median over runs; ratios are time ratios (below 1.00x is"
        print "  faster); minflt over the measured cycles; peak RSS: median of the runs peaks;"
        if (have_strace == 1)
            print "  " sn[1] "/" sn[2] "/" sn[3] "/" sn[4] ": calls in one untimed strace -f -c run, whole process (start-up included)."
        else
            print "  " sn[1] "/" sn[2] "/" sn[3] "/" sn[4] ": - (no strace, or --no-strace)."
        nst = split(statn, stn, " ")
        hdr = 0
        for (i = 1; i <= na; i++) {
            a = names[i]
            if (!(a in has_stats)) continue
            if (!hdr) {
                printf "  hakmem counters (one untimed HAKMEM_STATS=1 run):\n"
                printf "    %-13s", "allocator"
                for (j = 1; j <= nst; j++) printf " %14s", stn[j]
                printf "\n"
                hdr = 1
            }
            printf "    %-13s", a
            for (j = 1; j <= nst; j++) printf " %14s", st[a, j]
            printf "\n"
        }
    }' "$out"
done
finish "$out" "$failures"
