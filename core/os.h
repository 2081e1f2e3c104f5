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
/* The start of a free range of size bytes of address space, aligned to alignment, found by
 * mapping and unmapping it (nothing stays mapped: the range is free for anyone), or NULL. */
void *hak_os_find_free(size_t size, size_t alignment);
/* A read-write anonymous mapping at exactly addr (NUMA-placed like hak_os_map_placed), or
 * NULL with errno EEXIST when something is mapped there, ENOMEM when the OS refuses.
 * Never replaces an existing mapping. */
void *hak_os_map_at(void *addr, size_t size);
/* Pages and commit charge of [addr, addr + size) go back to the OS, the addresses stay
 * taken (an inaccessible, unbacked mapping). Counts as an unmap. 0 on success; -1 if the
 * range is still mapped as before; -2 if the OS left a hole there that nothing could fill
 * again (the addresses are no longer ours). */
int   hak_os_decommit(void *addr, size_t size);
/* Unmaps a decommitted range: its address space goes back too (not counted again: the
 * decommit counted it as unmapped). */
int   hak_os_unreserve(void *addr, size_t size);
/* Makes a decommitted range read-write again (zero-filled); mapped bytes count it. */
int   hak_os_recommit(void *addr, size_t size);
/* Asks for transparent huge pages on [addr, addr + size) (MADV_HUGEPAGE); 0 on success, -1
 * on a kernel without them (EINVAL; ENOTSUP where the headers lack MADV_HUGEPAGE). Under
 * THP "never" the range is only flagged (and no longer merges with unflagged neighbours). */
int   hak_os_advise_huge(void *addr, size_t size);
/* Grows or shrinks a mapping, moving it if needed (mremap MAYMOVE); NULL on failure. */
void *hak_os_remap(void *addr, size_t old_size, size_t new_size);
/* Gives the pages back to the OS, keeping the range mapped. Uses MADV_FREE unless
 * dontneed is set or the kernel refuses it, then MADV_DONTNEED. 0 on success. */
int   hak_os_reclaim(void *addr, size_t size, int dontneed);

/* Test hook: makes the next `count` calls that map memory (hak_os_map*, hak_os_recommit)
 * fail with ENOMEM (0 turns it off). */
void  hak_os_fail_next_maps(unsigned count);

#endif
