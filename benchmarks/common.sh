# shellcheck shell=bash
# common.sh: what the benchmark runners (larson.sh, vm.sh, elo.sh, report.sh, callgrind.sh)
# share; sourced, not run.
#   - the awk functions their tables use (median, human-readable numbers);
#   - a list argument ("all" or a comma list) checked against a runner's table;
#   - where each allocator's library lives and which Debian package ships it;
#   - installing the missing ones with apt-get (root only, unless the runner says not to);
#   - the path of libhakmem.so made absolute.
# The sourcing script defines note() (a progress line on stderr) and sets root= (the
# repository) before it sources this file.

libdir=/usr/lib/x86_64-linux-gnu

# awk functions, put in front of a runner's own awk program:
#   med(key, cnt): the median of vals[key, 1..cnt] (insertion sort: a handful of values);
#   human(x): 1.23G, 4.56M, 7.8k, or x itself below a thousand.
awk_lib='function med(key, cnt,   i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = vals[key, i]
    for (i = 2; i <= cnt; i++) {
        t = v[i]
        for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]
        v[j + 1] = t
    }
    return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
}
function human(x) {
    if (x >= 1e9) return sprintf("%.2fG", x / 1e9)
    if (x >= 1e6) return sprintf("%.2fM", x / 1e6)
    if (x >= 1e3) return sprintf("%.1fk", x / 1e3)
    return sprintf("%.3g", x)
}
'

# is_uint VALUE: a positive integer?
is_uint() { case "$1" in ''|*[!0-9]*) return 1 ;; *) [ "$1" -gt 0 ] ;; esac; }

# classify STATUS ERRFILE SO TIMEOUT CORRUPT: why a benchmark run failed, or nothing. The
# benchmark binaries exit 3 when they find a block changed (CORRUPT says what that means
# for the runner); SO is the library preloaded ("" for none).
classify() {
    local rc=$1
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "timed out after ${4}s (hang?)"
    elif [ "$rc" -gt 128 ]; then
        echo "killed by signal $((rc - 128))"
    elif [ "$rc" -eq 3 ]; then
        echo "$5"
    elif [ "$rc" -ne 0 ]; then
        echo "exit status $rc"
    elif [ -n "$3" ] && grep -q 'cannot be preloaded' "$2"; then
        echo "the dynamic loader refused $3"
    fi
}

# finish OUT FAILURES: a runner's last lines (where its TSV is) and its exit status: 1 when
# a run failed.
finish() {
    echo
    echo "results: $1"
    if [ "$2" -gt 0 ]; then
        note "$2 run(s) failed; see the FAILED lines above"
        exit 1
    fi
    exit 0
}

# names_of TABLE ARG ALL WHAT: the names ARG asks for ("all" gives ALL, else a comma list),
# each checked against the first column of TABLE; an unknown one is a usage error
# (die_usage, defined by the runner, with WHAT in the message).
names_of() {
    local table=$1 arg=$2 all=$3 what=$4 names n
    if [ "$arg" = all ]; then names=$all; else names=${arg//,/ }; fi
    for n in $names; do
        echo "$table" | awk -v n="$n" '$1 == n { found = 1 } END { exit !found }' ||
            die_usage "unknown $what '$n'"
    done
    echo "$names"
}

hakmem_so=${HAKMEM_SO:-$root/build/libhakmem.so}
# LD_PRELOAD resolves a relative name against each run's directory: make it absolute.
[ -r "$hakmem_so" ] && hakmem_so=$(cd "$(dirname "$hakmem_so")" && pwd)/$(basename "$hakmem_so")

# preload_of ALLOCATOR: the library to LD_PRELOAD ("" for the system allocator).
preload_of() {
    case "$1" in
        hakmem)   echo "$hakmem_so" ;;
        system)   echo "" ;;
        mimalloc) echo "$libdir/libmimalloc.so.2" ;;
        jemalloc) echo "$libdir/libjemalloc.so.2" ;;
        tcmalloc) echo "$libdir/libtcmalloc_minimal.so.4" ;;
    esac
}

# package_of ALLOCATOR: the Debian package that ships it ("" for hakmem and system).
package_of() {
    case "$1" in
        mimalloc) echo libmimalloc2.0 ;;
        jemalloc) echo libjemalloc2 ;;
        tcmalloc) echo libtcmalloc-minimal4 ;;
    esac
}

# install_missing INSTALL(0|1) ALLOCATOR...: apt-get installs the packages of the listed
# allocators whose library is missing, when INSTALL is 1, we are root and apt-get exists;
# otherwise it only says what it did not install. The caller skips what is still missing.
install_missing() {
    local install=$1 a pkg missing_pkgs=""
    shift
    for a in "$@"; do
        pkg=$(package_of "$a")
        [ -n "$pkg" ] && [ ! -r "$(preload_of "$a")" ] && missing_pkgs="$missing_pkgs $pkg"
    done
    [ -n "$missing_pkgs" ] || return 0
    if [ "$install" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        note "installing${missing_pkgs} with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null 2>&1 || note "apt-get update failed"
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing_pkgs >/dev/null 2>&1 ||
            note "apt-get install${missing_pkgs} failed"
    else
        note "not installing${missing_pkgs} (not root, no apt-get, or --no-install)"
    fi
}

# base_of NAME: the allocator behind a runner's name (hakmem-mmap -> hakmem).
base_of() { case "$1" in hakmem*) echo hakmem ;; *) echo "$1" ;; esac; }

# keep_available NAME...: sets allocators=(...) to the names whose library can be
# preloaded, with a note for each one skipped; exits when none is left.
keep_available() {
    local a so
    allocators=()
    for a in "$@"; do
        so=$(preload_of "$(base_of "$a")")
        if [ -n "$so" ] && [ ! -r "$so" ]; then
            if [ "$(base_of "$a")" = hakmem ]; then
                note "skipping $a: $so not found (build it, or set HAKMEM_SO)"
            else
                note "skipping $a: $so not found (Debian package $(package_of "$a"))"
            fi
            continue
        fi
        allocators+=("$a")
    done
    [ ${#allocators[@]} -gt 0 ] || { note "no allocator to run"; exit 1; }
}

# find_bench_bin NAME SOURCE [CFLAGS...]: sets bin= to build/benchmarks/NAME (or the
# build-bench one) unless --bin gave one, else compiles SOURCE into $tmpdir (the runner's
# temporary folder, which it sets first).
find_bench_bin() {
    local name=$1 src=$2 cand
    shift 2
    if [ -z "$bin" ]; then
        for cand in "$root/build/benchmarks/$name" "$root/build-bench/benchmarks/$name"; do
            [ -x "$cand" ] && { bin=$cand; break; }
        done
    fi
    if [ -z "$bin" ]; then
        bin=${tmpdir:?}/$name
        note "no $name found; compiling $src"
        ${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -fno-builtin-malloc -fno-builtin-calloc \
            -fno-builtin-free "$@" -o "$bin" "$src" || { note "cannot compile $src"; exit 1; }
    fi
    [ -x "$bin" ] || { note "$name binary '$bin' is not executable"; exit 1; }
}
