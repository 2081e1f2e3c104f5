/* The malloc backend: the C library's allocator (its own functions, so this works inside
 * libhakmem.so too) with hakmem's 64-byte header in front of the user pointer. */
#include <errno.h>
#include <string.h>

#include "core/libc.h"
#include "core/limits.h"
#include "counters/counters.h"
#include "large/large.h"

void *hak_large_malloc_alloc(size_t size, size_t alignment, uintptr_t site, int zero) {
    size_t off = hak_large_header_offset(alignment);
    if (size > (size_t)PTRDIFF_MAX - off) {
        errno = ENOMEM;
        return NULL;
    }
    char *base;
    if (alignment > HAK_MIN_ALIGN)
        base = __libc_memalign(alignment, size + off);
    else
        base = zero ? __libc_calloc(1, size + off) : __libc_malloc(size + off);
    if (!base) {
        errno = ENOMEM;
        return NULL;
    }
    if (zero && alignment > HAK_MIN_ALIGN)
        memset(base + off, 0, size);
    HAK_COUNT(large_alloc_malloc);
    hak_large_hdr_init(base + off, base, size + off, HAK_BACKEND_MALLOC, site, 0);
    return base + off;
}

void hak_large_malloc_free(hak_large_hdr *h) {
    __libc_free(h->base);
}

void *hak_large_malloc_realloc(hak_large_hdr *h, size_t size) {
    size_t off = (size_t)((char *)h->node.key - h->base);
    if (off != HAK_LARGE_HDR_SIZE) {
        errno = EAGAIN; /* over-aligned: libc realloc would not keep the alignment */
        return NULL;
    }
    uintptr_t site = h->site;
    char *old_user = (char *)h->node.key;
    hak_map_block_remove(old_user);
    size_t old_total = h->total;
    char *base = __libc_realloc(h->base, size + off);
    if (!base) {
        hak_map_block_insert(&h->node); /* the old block stays valid */
        errno = ENOMEM;
        return NULL;
    }
    HAK_GAUGE_ADD(live_large_bytes, -(int64_t)old_total);
    HAK_GAUGE_ADD(live_large_blocks, -1); /* hak_large_hdr_init counts the moved block */
    hak_large_hdr_init(base + off, base, size + off, HAK_BACKEND_MALLOC, site, 0);
    return base + off;
}
