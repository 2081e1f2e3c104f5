#include "core/fallback.h"

#include <errno.h>
#include <string.h>

#include "core/compiler.h"
#include "core/libc.h"
#include "core/limits.h"

/* 32 bytes: keeps the user pointer 16-byte aligned after a 16-aligned libc block. */
typedef struct fallback_hdr {
    hak_map_block node; /* node.aux: offset from the libc block to the user pointer */
    size_t size;
} fallback_hdr;

_Static_assert(sizeof(fallback_hdr) == 32, "fallback header must keep 16-byte alignment");

void *hak_fallback_alloc(size_t size, size_t alignment, int zero) {
    size_t offset = alignment > sizeof(fallback_hdr) ? alignment : sizeof(fallback_hdr);
    if (size > (size_t)PTRDIFF_MAX - offset || offset > UINT32_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    char *base = alignment > HAK_MIN_ALIGN ? __libc_memalign(alignment, size + offset)
                                           : __libc_malloc(size + offset);
    if (!base) {
        errno = ENOMEM;
        return NULL;
    }
    if (zero)
        memset(base + offset, 0, size);
    fallback_hdr *h = (fallback_hdr *)(base + offset) - 1;
    h->node.key = (uintptr_t)(base + offset);
    h->node.kind = HAK_BLOCK_FALLBACK;
    h->node.family = HAK_FAMILY_UNKNOWN;
    h->node.aux = (uint32_t)offset;
    h->size = size;
    hak_map_block_insert(&h->node);
    return base + offset;
}

void hak_fallback_free(hak_map_block *b) {
    __libc_free((char *)b->key - b->aux);
}

size_t hak_fallback_usable_size(const hak_map_block *b) {
    return ((const fallback_hdr *)b)->size;
}
