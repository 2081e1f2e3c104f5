# Build options of hakmem (run-time options live in core/options.c).
option(HAKMEM_DEBUG_COUNTERS "Count tiny hot-path events (refill stages, free pipeline)" OFF)
option(HAKMEM_BUILD_TESTS "Build the GoogleTest suite" ON)
option(HAKMEM_BUILD_BENCHMARKS "Build the benchmarks" ON)
option(HAKMEM_WERROR "Treat warnings as errors" OFF)

# NUMA placement through libnuma (Debian: libnuma-dev); ON by default when it is found.
find_library(HAKMEM_LIBNUMA numa)
find_path(HAKMEM_NUMAIF_H numaif.h)
if(HAKMEM_LIBNUMA AND HAKMEM_NUMAIF_H)
  set(_hak_numa_default ON)
else()
  set(_hak_numa_default OFF)
endif()
option(HAKMEM_NUMA "Place memory on NUMA nodes with libnuma" ${_hak_numa_default})
if(HAKMEM_NUMA AND NOT (HAKMEM_LIBNUMA AND HAKMEM_NUMAIF_H))
  message(FATAL_ERROR "HAKMEM_NUMA=ON but libnuma was not found (apt-get install libnuma-dev)")
endif()
set(HAKMEM_NUMA_LIBS "")
if(HAKMEM_NUMA)
  set(HAKMEM_NUMA_LIBS numa)
endif()

set(HAKMEM_WARNINGS -Wall -Wextra)
if(HAKMEM_WERROR)
  list(APPEND HAKMEM_WARNINGS -Werror)
endif()

# Flags every hakmem object is built with.
#  - no builtin malloc: the allocator's own calls to memcpy/memset stay, but GCC must not turn
#    our malloc+memset into calloc (infinite recursion in libhakmem.so);
#  - initial-exec TLS: thread-local access never calls __tls_get_addr (which may malloc).
set(HAKMEM_COMMON_FLAGS ${HAKMEM_WARNINGS} -fno-builtin-malloc -fno-builtin-calloc
    -fno-builtin-realloc -fno-builtin-free -ftls-model=initial-exec -fno-plt)
set(HAKMEM_COMMON_DEFS $<$<BOOL:${HAKMEM_DEBUG_COUNTERS}>:HAKMEM_DEBUG_COUNTERS=1>
    $<$<BOOL:${HAKMEM_NUMA}>:HAKMEM_HAVE_NUMA=1> _GNU_SOURCE)
