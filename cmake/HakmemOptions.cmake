# Build options of hakmem (run-time options live in core/options.c).
option(HAKMEM_DEBUG_COUNTERS "Count tiny hot-path events (refill stages, free pipeline)" OFF)
option(HAKMEM_BUILD_TESTS "Build the GoogleTest suite" ON)
option(HAKMEM_BUILD_BENCHMARKS "Build the benchmarks" ON)
option(HAKMEM_WERROR "Treat warnings as errors" OFF)

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
set(HAKMEM_COMMON_DEFS $<$<BOOL:${HAKMEM_DEBUG_COUNTERS}>:HAKMEM_DEBUG_COUNTERS=1> _GNU_SOURCE)
