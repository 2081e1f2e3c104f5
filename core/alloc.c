/* The front door's slow paths and the hak_* allocation API. */
#include <errno.h>
#include <string.h>

#include "core/fallback.h"
#include "core/front.h"
#include "core/init.h"
#include "core/libc.h"
#include "core/options.h"
#include "core/prof.h"
#include "core/purge.h"
#include "core/report.h"
#include "hakmem/hakmem.h"

/* Marker of the core room (core is always linked; the symbol only keeps the naming). */
const char hak_component_core[] = "core";

static void *large_alloc(size_t size, size_t alignment, uintptr_t site, int zero) {
    if (HAK_HAS(large))
        return hak_large_alloc(size, alignment, site, zero);
    return hak_fallback_alloc(size, alignment, zero);
}

/* Size routing: tiny for small requests (the large path when tiny refuses), large above. */
static void *alloc_routed(size_t size, size_t alignment, uintptr_t site, int zero) {
    if (size <= HAK_SMALL_MAX && HAK_HAS(tiny)) {
        void *p = alignment > HAK_MIN_ALIGN ? hak_tiny_alloc_aligned(size, alignment)
                                            : hak_tiny_alloc(size);
        if (p) {
            if (zero)
                memset(p, 0, size);
            return p;
        }
    }
    return large_alloc(size, alignment, site, zero);
}

/* A sampled request of the heap profile: a small one gets a fallback block, whose free
 * comes to the slow path (a tiny block's would not). */
static void *alloc_sampled(size_t size, size_t alignment, uintptr_t site, int zero) {
    void *p = size <= HAK_SMALL_MAX ? hak_fallback_alloc(size, alignment, zero)
                                    : alloc_routed(size, alignment, site, zero);
    if (p)
        hak_prof_record(p, size, site);
    return p;
}

/* core.check_free: the block remembers which family of calls made it. Small blocks carry
 * no header: only blocks of the block map (large, fallback) can. */
static void set_family(void *p, unsigned family) {
    if (hak_map_slab_lookup(p) || HAK_FRONT_IN_SMALL_HEAP(p))
        return;
    hak_map_block *b = hak_map_block_find(p);
    if (b)
        b->family = (uint16_t)family;
}

HAK_NOINLINE void *hak_front_alloc_slow(size_t size, size_t alignment, uintptr_t site,
                                        unsigned flags) {
    hak_init_ensure();
    if (hak_unlikely(size > (size_t)PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    int zero = flags & HAK_ALLOC_ZERO;
    void *p = hak_unlikely(hak_prof_active) && hak_prof_tick(size)
                  ? alloc_sampled(size, alignment, site, zero)
                  : alloc_routed(size, alignment, site, zero);
    /* The OS refused memory: what the caches hold goes back, then one more try. */
    if (hak_unlikely(!p) && hak_purge_pressure())
        p = alloc_routed(size, alignment, site, zero);
    if (hak_unlikely(hak_option(HAK_OPT_CORE_CHECK_FREE)) && p)
        set_family(p, (flags >> 1) ? (flags >> 1) : HAK_FAMILY_MALLOC);
    /* The purge clock: every large request looks at it (tiny refills do now and then), once
     * the block is counted live, so the budget's peak sees it. No lock is held here. */
    if (size > HAK_SMALL_MAX)
        hak_purge_tick();
    return p;
}

static const char *family_name(unsigned family, int freeing) {
    switch (family) {
    case HAK_FAMILY_NEW: return freeing ? "delete" : "new";
    case HAK_FAMILY_NEW_ARRAY: return freeing ? "delete[]" : "new[]";
    default: return freeing ? "free" : "malloc";
    }
}

/* Ownership of a pointer that is not in a slab: a large or fallback block, or foreign. */
HAK_NOINLINE void hak_front_free_slow(void *p, int mode) {
    if (!p)
        return;
    hak_map_block *b = hak_map_block_remove(p);
    if (hak_likely(b != NULL)) {
        /* Set only under core.check_free: a block of one family freed by another. */
        unsigned family = HAK_FREE_FAMILY(mode);
        if (hak_unlikely(b->family != family) && b->family && family &&
            hak_option(HAK_OPT_CORE_CHECK_FREE))
            hak_misuse("%s(%p): the block was made by %s", family_name(family, 1), p,
                       family_name(b->family, 0));
        if (hak_unlikely(hak_prof_active))
            hak_prof_forget(p);
        if (b->kind == HAK_BLOCK_LARGE)
            hak_large_free(b);
        else
            hak_fallback_free(b);
        hak_purge_tick();
        return;
    }
    if (HAK_FREE_FOREIGN(mode) == HAK_FOREIGN_LIBC)
        __libc_free(p);
    else
        hak_report_misuse("hak_free", p);
}

void hak_front_free_sized(void *p, size_t size, size_t alignment, int mode, const char *what) {
    if (hak_unlikely(hak_option(HAK_OPT_CORE_CHECK_FREE)) && p) {
        size_t usable = hak_front_usable_size(p);
        /* A foreign pointer is told apart by the free itself. */
        if (usable && size > usable)
            hak_misuse("%s(%p, %zu): the block holds %zu bytes (a wrong size)", what, p, size,
                       usable);
        else if (usable && alignment && (!HAK_IS_POW2(alignment) ||
                                         (uintptr_t)p % alignment != 0))
            hak_misuse("%s(%p, %zu): the block is not aligned to %zu (a wrong alignment)", what,
                       p, size, alignment);
    }
    hak_front_free(p, mode);
}

/* 0 for a pointer hakmem does not own. */
static size_t owned_usable_size(const void *p, hak_map_block **block_out) {
    void *slab = hak_map_slab_lookup(p);
    if (slab)
        return hak_tiny_usable_size(p, slab);
    hak_map_block *b = p ? hak_map_block_find(p) : NULL;
    if (block_out)
        *block_out = b;
    if (!b)
        return 0;
    return b->kind == HAK_BLOCK_LARGE ? hak_large_usable_size(b) : hak_fallback_usable_size(b);
}

/* 0 for a pointer hakmem does not own (the override then asks the C library). */
size_t hak_front_usable_size(const void *p) {
    return p ? owned_usable_size(p, NULL) : 0;
}

void *hak_front_calloc(size_t count, size_t size, uintptr_t site) {
    size_t total;
    if (hak_unlikely(__builtin_mul_overflow(count, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = hak_front_malloc_fast(total);
    if (hak_likely(p != NULL))
        return memset(p, 0, total);
    return hak_front_alloc_slow(total, 0, site, HAK_ALLOC_ZERO);
}

void *hak_front_realloc(void *p, size_t size, uintptr_t site, int mode) {
    if (!p)
        return hak_front_malloc(size, site);
    if (size == 0) { /* glibc: frees and returns NULL */
        hak_front_free(p, mode);
        return NULL;
    }
    hak_map_block *b = NULL;
    size_t old = owned_usable_size(p, &b);
    int libc = HAK_FREE_FOREIGN(mode) == HAK_FOREIGN_LIBC;
    if (hak_unlikely(old == 0)) {
        if (libc && !HAK_FRONT_IN_SMALL_HEAP(p))
            return __libc_realloc(p, size);
        hak_report_misuse(libc ? "realloc" : "hak_realloc", p);
        errno = EINVAL;
        return NULL;
    }
    if (b && hak_unlikely(b->family > HAK_FAMILY_MALLOC) && hak_option(HAK_OPT_CORE_CHECK_FREE))
        hak_misuse("realloc(%p): the block was made by %s", p, family_name(b->family, 0));
    if (b && b->kind == HAK_BLOCK_LARGE) {
        /* To the profile a large realloc is a free and an allocation of the new size: the
         * old sample goes first, before another thread can be handed the address. */
        if (hak_unlikely(hak_prof_active))
            hak_prof_forget(p);
        void *q = hak_large_realloc(b, size, site);
        if (q) {
            if (hak_unlikely(hak_prof_active) && hak_prof_tick(size))
                hak_prof_record(q, size, site);
            /* Moved or grown in place, the block has a new header: the family is gone. */
            if (hak_unlikely(hak_option(HAK_OPT_CORE_CHECK_FREE)))
                set_family(q, HAK_FAMILY_MALLOC);
            return q;
        }
        if (errno != EAGAIN)
            return NULL; /* a real failure: the old block stays */
    } else if (size <= old && size >= old / 2) {
        return p; /* still fits without wasting more than half */
    }
    void *q = hak_front_malloc(size, site);
    if (!q)
        return NULL;
    memcpy(q, p, old < size ? old : size);
    hak_front_free(p, mode);
    return q;
}

void *hak_front_aligned(size_t alignment, size_t size, uintptr_t site) {
    if (alignment <= HAK_MIN_ALIGN)
        return hak_front_malloc(size, site);
    return hak_front_alloc_slow(size, alignment, site, 0);
}

void *hak_front_aligned_alloc(size_t alignment, size_t size, uintptr_t site) {
    if (!HAK_IS_POW2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return hak_front_aligned(alignment, size, site);
}

int hak_front_posix_memalign(void **out, size_t alignment, size_t size, uintptr_t site) {
    if (!out || !HAK_IS_POW2(alignment) || alignment % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno; /* posix_memalign reports through its result, not errno */
    void *p = hak_front_aligned(alignment, size, site);
    if (!p) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

/* ---- public API ---- */

HAK_API void *hak_malloc(size_t size) {
    HAK_FRONT_MALLOC_ENTRY(size);
}

HAK_API void hak_free(void *ptr) {
    hak_front_free(ptr, HAK_FREE_REPORT);
}

HAK_API void hak_free_sized(void *ptr, size_t size) {
    hak_front_free_sized(ptr, size, 0, HAK_FREE_REPORT, "hak_free_sized");
}

HAK_API void hak_free_aligned_sized(void *ptr, size_t alignment, size_t size) {
    hak_front_free_sized(ptr, size, alignment, HAK_FREE_REPORT, "hak_free_aligned_sized");
}

HAK_API void *hak_new(size_t size, size_t alignment, int array, const void *site) {
    unsigned flags = HAK_ALLOC_FAMILY(array ? HAK_FAMILY_NEW_ARRAY : HAK_FAMILY_NEW);
    uintptr_t at = site ? (uintptr_t)site : HAK_CALLER_SITE();
    if (alignment > HAK_MIN_ALIGN)
        return HAK_IS_POW2(alignment) ? hak_front_alloc_slow(size, alignment, at, flags) : NULL;
    void *p = hak_front_malloc_fast(size);
    return hak_likely(p != NULL) ? p : hak_front_alloc_slow(size, 0, at, flags);
}

HAK_API void hak_delete(void *ptr, size_t size, size_t alignment, int array) {
    int mode = HAK_FREE_MODE(HAK_FOREIGN_REPORT, array ? HAK_FAMILY_NEW_ARRAY : HAK_FAMILY_NEW);
    if (size || alignment)
        hak_front_free_sized(ptr, size, alignment, mode, array ? "delete[]" : "delete");
    else
        hak_front_free(ptr, mode);
}

HAK_API void *hak_calloc(size_t count, size_t size) {
    return hak_front_calloc(count, size, HAK_CALLER_SITE());
}

HAK_API void *hak_realloc(void *ptr, size_t size) {
    return hak_front_realloc(ptr, size, HAK_CALLER_SITE(), HAK_FREE_REPORT);
}

HAK_API void *hak_aligned_alloc(size_t alignment, size_t size) {
    return hak_front_aligned_alloc(alignment, size, HAK_CALLER_SITE());
}

HAK_API int hak_posix_memalign(void **out, size_t alignment, size_t size) {
    return hak_front_posix_memalign(out, alignment, size, HAK_CALLER_SITE());
}

HAK_API size_t hak_usable_size(const void *ptr) {
    return hak_front_usable_size(ptr);
}
