/* The front door's slow paths and the hak_* allocation API. */
#include <errno.h>
#include <string.h>

#include "core/fallback.h"
#include "core/front.h"
#include "core/init.h"
#include "core/libc.h"
#include "core/options.h"
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

HAK_NOINLINE void *hak_front_alloc_slow(size_t size, size_t alignment, uintptr_t site, int zero) {
    hak_init_ensure();
    if (hak_unlikely(size > (size_t)PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = alloc_routed(size, alignment, site, zero);
    /* The OS refused memory: what the caches hold goes back, then one more try. */
    if (hak_unlikely(!p) && hak_purge_pressure())
        p = alloc_routed(size, alignment, site, zero);
    /* The purge clock: every large request looks at it (tiny refills do now and then), once
     * the block is counted live, so the budget's peak sees it. No lock is held here. */
    if (size > HAK_SMALL_MAX)
        hak_purge_tick();
    return p;
}

/* Ownership of a pointer that is not in a slab: a large or fallback block, or foreign. */
HAK_NOINLINE void hak_front_free_slow(void *p, int foreign_mode) {
    if (!p)
        return;
    hak_map_block *b = hak_map_block_remove(p);
    if (hak_likely(b != NULL)) {
        if (b->kind == HAK_BLOCK_LARGE)
            hak_large_free(b);
        else
            hak_fallback_free(b);
        hak_purge_tick();
        return;
    }
    if (foreign_mode == HAK_FOREIGN_LIBC)
        __libc_free(p);
    else
        hak_report_misuse("hak_free", p);
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
    return hak_front_alloc_slow(total, 0, site, 1);
}

void *hak_front_realloc(void *p, size_t size, uintptr_t site, int foreign_mode) {
    if (!p)
        return hak_front_malloc(size, site);
    if (size == 0) { /* glibc: frees and returns NULL */
        hak_front_free(p, foreign_mode);
        return NULL;
    }
    hak_map_block *b = NULL;
    size_t old = owned_usable_size(p, &b);
    if (hak_unlikely(old == 0)) {
        if (foreign_mode == HAK_FOREIGN_LIBC && !HAK_FRONT_IN_SMALL_HEAP(p))
            return __libc_realloc(p, size);
        hak_report_misuse(foreign_mode == HAK_FOREIGN_LIBC ? "realloc" : "hak_realloc", p);
        errno = EINVAL;
        return NULL;
    }
    if (b && b->kind == HAK_BLOCK_LARGE) {
        void *q = hak_large_realloc(b, size, site);
        if (q)
            return q;
        if (errno != EAGAIN)
            return NULL; /* a real failure: the old block stays */
    } else if (size <= old && size >= old / 2) {
        return p; /* still fits without wasting more than half */
    }
    void *q = hak_front_malloc(size, site);
    if (!q)
        return NULL;
    memcpy(q, p, old < size ? old : size);
    hak_front_free(p, foreign_mode);
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
    hak_front_free(ptr, HAK_FOREIGN_REPORT);
}

HAK_API void *hak_calloc(size_t count, size_t size) {
    return hak_front_calloc(count, size, HAK_CALLER_SITE());
}

HAK_API void *hak_realloc(void *ptr, size_t size) {
    return hak_front_realloc(ptr, size, HAK_CALLER_SITE(), HAK_FOREIGN_REPORT);
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
