/* The OS layer: the only code in hakmem that calls mmap, munmap, mremap and madvise.
 * Every call is counted (counters/). All functions return NULL / -1 on failure with errno
 * set; none of them allocates. */
#ifndef HAKMEM_CORE_OS_H
#define HAKMEM_CORE_OS_H

#include <stddef.h>
#include <stdint.h>

size_t hak_os_page_size(void);

/* Anonymous read-write mapping of size bytes (a multiple of the page size). */
void *hak_os_map(size_t size);
/* Same, with the start aligned to `alignment` (a power of two >= page size). */
void *hak_os_map_aligned(size_t size, size_t alignment);
/* hak_os_map_aligned, then the NUMA policy of numa.mode (core/numa.h): for SuperSlabs and
 * large mappings. */
void *hak_os_map_placed(size_t size, size_t alignment);
int   hak_os_unmap(void *addr, size_t size);
/* Address space only: an inaccessible, unbacked range of size bytes aligned to alignment
 * (PROT_NONE, MAP_NORESERVE), or NULL. Counts as one mmap, but no mapped bytes. */
void *hak_os_reserve(size_t size, size_t alignment);
/* Makes [addr, addr + size) of a reservation an ordinary read-write anonymous mapping
 * (zero-filled, NUMA-placed like hak_os_map_placed). NULL on failure. */
void *hak_os_commit(void *addr, size_t size);
/* Turns a committed range back into reservation: its pages and commit charge go back to
 * the OS, the addresses stay taken. Counts as an unmap. 0 on success. */
int   hak_os_decommit(void *addr, size_t size);
/* Grows or shrinks a mapping, moving it if needed (mremap MAYMOVE); NULL on failure. */
void *hak_os_remap(void *addr, size_t old_size, size_t new_size);
/* Gives the pages back to the OS, keeping the range mapped. Uses MADV_FREE unless
 * dontneed is set or the kernel refuses it, then MADV_DONTNEED. 0 on success. */
int   hak_os_reclaim(void *addr, size_t size, int dontneed);

/* Test hook: makes the next `count` hak_os_map* calls fail with ENOMEM (0 turns it off). */
void  hak_os_fail_next_maps(unsigned count);

#endif
