/* The front door: size routing and ownership routing, shared by the hak_* API (alloc.c)
 * and the malloc-family override of libhakmem.so (override.c). The fast paths are here,
 * inline; everything else is in alloc.c, out of line. */
#ifndef HAKMEM_CORE_FRONT_H
#define HAKMEM_CORE_FRONT_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/components.h"
#include "core/limits.h"
#include "core/map.h"

#ifdef HAKMEM_SHARED_LIBRARY
/* Every room is in the same shared object: inline tiny's fast paths into malloc/free. */
#include "tiny/tiny.h"
#define HAK_FRONT_TINY_ALLOC(n)      hak_tiny_pop(n) /* a miss refills in the slow path */
#define HAK_FRONT_TINY_FREE(p, slab) hak_tiny_free_fast((p), (slab))
/* p lies in memory of hakmem's small-block heap (the SuperSlab region): when no slab holds
 * it, it is a stale pointer, not one from the C library. */
#define HAK_FRONT_IN_SMALL_HEAP(p)   hak_superslab_region_has(p)
#else
/* A miss refills in the slow path here too: that is where the heap profile counts. */
#define HAK_FRONT_TINY_ALLOC(n)      (HAK_HAS(tiny) ? hak_tiny_alloc_cached(n) : NULL)
#define HAK_FRONT_TINY_FREE(p, slab) hak_tiny_free((p), (slab))
#define HAK_FRONT_IN_SMALL_HEAP(p)   0 /* static builds: the slab map answers alone */
#endif

/* What to do with a pointer hakmem does not own. */
enum hak_foreign_mode {
    HAK_FOREIGN_REPORT = 0, /* hak_* API: one line on stderr, then core.foreign_free */
    HAK_FOREIGN_LIBC = 1    /* override: it came from the C library before we took over */
};

/* The mode of a free: the foreign mode, and the family of the call (enum
 * hak_block_family, core/map.h) that core.check_free compares with the block's. */
#define HAK_FREE_MODE(foreign, family) ((foreign) | ((family) << 1))
#define HAK_FREE_FOREIGN(mode)         ((mode) & 1)
#define HAK_FREE_FAMILY(mode)          ((unsigned)(mode) >> 1)
#define HAK_FREE_LIBC   HAK_FREE_MODE(HAK_FOREIGN_LIBC, HAK_FAMILY_MALLOC)   /* free() */
#define HAK_FREE_REPORT HAK_FREE_MODE(HAK_FOREIGN_REPORT, HAK_FAMILY_MALLOC) /* hak_free() */

/* Flags of hak_front_alloc_slow: zeroed memory, and the family of the call. */
#define HAK_ALLOC_ZERO      1u
#define HAK_ALLOC_FAMILY(f) ((unsigned)(f) << 1)

/* Where the caller of the public entry point is (the call site BigCache keys on). */
#define HAK_CALLER_SITE() ((uintptr_t)__builtin_return_address(0))

void  *hak_front_alloc_slow(size_t size, size_t alignment, uintptr_t site, unsigned flags);
void   hak_front_free_slow(void *p, int mode);
/* free_sized, free_aligned_sized, sized and aligned delete: with core.check_free, a size
 * above the block's or an alignment it lacks is reported (alignment 0: none given). */
void   hak_front_free_sized(void *p, size_t size, size_t alignment, int mode, const char *what);
void  *hak_front_calloc(size_t count, size_t size, uintptr_t site);
void  *hak_front_realloc(void *p, size_t size, uintptr_t site, int mode);
void  *hak_front_aligned(size_t alignment, size_t size, uintptr_t site);
/* aligned_alloc and posix_memalign: their argument checks and error conventions. */
void  *hak_front_aligned_alloc(size_t alignment, size_t size, uintptr_t site);
int    hak_front_posix_memalign(void **out, size_t alignment, size_t size, uintptr_t site);
size_t hak_front_usable_size(const void *p);

/* A small block from the thread's list, or NULL (then hak_front_alloc_slow). */
HAK_INLINE void *hak_front_malloc_fast(size_t size) {
    return hak_likely(size <= HAK_SMALL_MAX) ? HAK_FRONT_TINY_ALLOC(size) : NULL;
}

HAK_INLINE void *hak_front_malloc(size_t size, uintptr_t site) {
    void *p = hak_front_malloc_fast(size);
    return hak_likely(p != NULL) ? p : hak_front_alloc_slow(size, 0, site, 0);
}

/* hak_front_malloc for the public entry points (malloc, hak_malloc): the caller's return
 * address is read only on the way to the slow path. Passed as an argument, it was loaded
 * on every call (one instruction of the 15 a hit costs). */
#define HAK_FRONT_MALLOC_ENTRY(size)                                                            \
    do {                                                                                        \
        void *hak_p_ = hak_front_malloc_fast(size);                                             \
        if (hak_likely(hak_p_ != NULL))                                                         \
            return hak_p_;                                                                      \
        return hak_front_alloc_slow((size), 0, HAK_CALLER_SITE(), 0);                           \
    } while (0)

HAK_INLINE void hak_front_free(void *p, int mode) {
#ifdef HAKMEM_SHARED_LIBRARY
    /* Nearly every small block lies in the SuperSlab region: a subtract and a compare say
     * so, and the descriptor is then an address computed from p (superslab/region.c).
     * Every address in the region keeps a readable descriptor, so a stale or foreign
     * pointer there is reported by tiny's checks rather than faulting. */
    if (hak_likely(HAK_FRONT_IN_SMALL_HEAP(p))) {
        HAK_FRONT_TINY_FREE(p, hak_superslab_slab_of(p));
        return;
    }
#endif
    /* NULL and foreign pointers find no slab (granule 0 is never registered). */
    void *slab = hak_map_slab_lookup(p);
    if (hak_likely(slab != NULL)) {
        HAK_FRONT_TINY_FREE(p, slab);
        return;
    }
    hak_front_free_slow(p, mode);
}

#endif
