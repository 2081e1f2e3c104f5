#!/bin/sh
# Installs a hakmem build tree into a temporary prefix and uses it the way an outside project
# would: find_package(hakmem CONFIG) for examples/large_only, examples/tiny_only and
# tests/packaging/consumer, the same from the build tree and from a moved prefix, and
# pkg-config (hakmem, hakmem-shared) when it is installed.
#
# usage: check_install.sh <build dir> <source dir> [cmake] [C compiler] [config]
# HAKMEM_KEEP_WORK=1 keeps the temporary directory for a look after a failure.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 <build dir> <source dir> [cmake] [C compiler] [config]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
cmake=${3:-cmake}
cc=${4:-cc}
config=${5:-}

# Only the prefixes this script names may provide hakmem.
unset hakmem_DIR hakmem_ROOT HAKMEM_ROOT CMAKE_PREFIX_PATH

work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-packaging.XXXXXX")
if [ "${HAKMEM_KEEP_WORK:-0}" = 1 ]; then
    echo "keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi
prefix=$work/prefix

step() { printf '\n=== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
need() { [ -e "$1" ] || fail "missing $1"; }

# configure + build a CMake project against hakmem: <source> <build> <cmake args...>
build_project() {
    s=$1 b=$2
    shift 2
    "$cmake" -S "$s" -B "$b" -DCMAKE_C_COMPILER="$cc" ${config:+-DCMAKE_BUILD_TYPE="$config"} \
        "$@" || fail "configuring $s"
    "$cmake" --build "$b" || fail "building $s"
}

# the hakmem package the project in <build> found must be the one in <dir>
found_in() {
    dir=$(sed -n 's/^hakmem_DIR:[A-Z]*=//p' "$1/CMakeCache.txt")
    case "$dir" in
    "$2"*) echo "hakmem_DIR=$dir" ;;
    *) fail "$1 found hakmem in '$dir', not under $2" ;;
    esac
}

run() {
    echo "--- $*"
    "$@" || fail "$* exited with $?"
}

step "install $build into $prefix"
"$cmake" --install "$build" --prefix "$prefix" ${config:+--config "$config"} ||
    fail "cmake --install"

step "installed files"
libdir=$(dirname "$(find "$prefix" -name libhakmem_core.a | head -n 1)")
if [ ! -d "$libdir" ] || [ "$libdir" = . ]; then fail "libhakmem_core.a was not installed"; fi
for c in core tiny superslab large bigcache batch policy counters; do
    need "$libdir/libhakmem_$c.a"
done
need "$libdir/libhakmem.so"
[ -L "$libdir/libhakmem.so" ] || fail "libhakmem.so is not a symlink to the versioned library"
soname=$(readelf -d "$libdir/libhakmem.so" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ -n "$soname" ] || fail "libhakmem.so has no SONAME"
need "$libdir/$soname"
need "$prefix/include/hakmem/hakmem.h"
for f in hakmemConfig.cmake hakmemConfigVersion.cmake hakmemTargets.cmake; do
    need "$libdir/cmake/hakmem/$f"
done
need "$libdir/pkgconfig/hakmem.pc"
need "$libdir/pkgconfig/hakmem-shared.pc"
# The CMake package must be relocatable: no path of the build or source tree in it.
if grep -rlF -e "$build" -e "$src" "$libdir/cmake/hakmem"; then
    fail "the installed CMake package names the build or source tree"
fi
grep -qx "prefix=$prefix" "$libdir/pkgconfig/hakmem.pc" ||
    fail "hakmem.pc does not name the install prefix $prefix"
(cd "$prefix" && find . \( -type f -o -type l \) | sort)

for ex in large_only tiny_only; do
    step "examples/$ex against the installed package"
    build_project "$src/examples/$ex" "$work/$ex" -DCMAKE_PREFIX_PATH="$prefix"
    found_in "$work/$ex" "$prefix"
    run "$work/$ex/$ex"
done

step "every target, hakmem::hakmem and hakmem::shared against the installed package"
build_project "$src/tests/packaging/consumer" "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix"
found_in "$work/consumer" "$prefix"
run "$work/consumer/consumer_static"
run "$work/consumer/consumer_shared"

step "the package still works after the prefix moved"
moved=$work/moved
mv "$prefix" "$moved"
build_project "$src/tests/packaging/consumer" "$work/consumer-moved" -DCMAKE_PREFIX_PATH="$moved"
found_in "$work/consumer-moved" "$moved"
run "$work/consumer-moved/consumer_static"
run "$work/consumer-moved/consumer_shared"
mv "$moved" "$prefix"

step "the build tree as a package (hakmem_DIR=$build)"
build_project "$src/tests/packaging/consumer" "$work/consumer-buildtree" -Dhakmem_DIR="$build"
found_in "$work/consumer-buildtree" "$build"
run "$work/consumer-buildtree/consumer_static"
run "$work/consumer-buildtree/consumer_shared"

step "pkg-config"
if ! command -v pkg-config >/dev/null 2>&1; then
    # Everything else passed; ctest reports the test skipped (SKIP_RETURN_CODE), not green.
    echo "SKIP: pkg-config is not installed (scripts/deps.sh installs it); pkg-config not checked"
    exit 77
fi
PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
version=$(sed -n 's/^hakmem_VERSION:[A-Z]*=//p' "$work/consumer/CMakeCache.txt")
pc_version=$(pkg-config --modversion hakmem) || fail "pkg-config does not find hakmem"
echo "hakmem.pc: version $pc_version"
if [ -n "$version" ] && [ "$version" != "$pc_version" ]; then
    fail "hakmem.pc says $pc_version, the CMake package $version"
fi
flags=$(pkg-config --cflags --libs hakmem) || fail "pkg-config --cflags --libs hakmem"
echo "pkg-config --cflags --libs hakmem: $flags"
# shellcheck disable=SC2086 # the flags are a list of words
"$cc" "$src/tests/packaging/consumer/consumer.c" $flags -o "$work/pc_static" ||
    fail "compiling with pkg-config hakmem"
run "$work/pc_static"

flags=$(pkg-config --cflags --libs hakmem-shared) || fail "pkg-config --cflags --libs hakmem-shared"
shared_libdir=$(pkg-config --variable=libdir hakmem-shared)
echo "pkg-config --cflags --libs hakmem-shared: $flags"
# shellcheck disable=SC2086
"$cc" -DCONSUMER_SHARED=1 "$src/tests/packaging/consumer/consumer.c" $flags \
    -Wl,-rpath,"$shared_libdir" -o "$work/pc_shared" || fail "compiling with pkg-config hakmem-shared"
run "$work/pc_shared"

step "packaging checks passed"
