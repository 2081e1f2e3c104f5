/* Large room: the large-block header and the plain backends (malloc, mmap). Requests above
 * the small maximum come here; the registry's large slot picks the backend, the header
 * remembers it, and free goes back to that backend whatever the slot says by then. */
#ifndef HAKMEM_LARGE_LARGE_H
#define HAKMEM_LARGE_LARGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/map.h"
#include "hakmem/hakmem.h"

#define HAK_LARGE_MAGIC 0x48414b4c41524745ull /* "HAKLARGE" */

/* 64 bytes right before the user pointer. */
typedef struct hak_large_hdr {
    hak_map_block node; /* node.key: user pointer; node.aux: hak_large_backend */
    uint64_t magic;     /* HAK_LARGE_MAGIC ^ user pointer */
    char *base;         /* start of the mapping or of the C library's block */
    size_t total;       /* bytes from base: the mapping length for mmap blocks */
    uintptr_t site;     /* caller's return address */
    uint64_t flags;     /* HAK_LARGE_* below */
} hak_large_hdr;

/* The block's range is one kernel mapping (a fresh mmap, an mremap result, or a BigCache
 * entry), so mremap may grow it; a range from the batch may span two mappings it merged,
 * which mremap refuses: its realloc copies without trying. */
#define HAK_LARGE_ONE_MAPPING 1u

_Static_assert(sizeof(hak_large_hdr) == 64, "large header is 64 bytes");

#define HAK_LARGE_HDR_SIZE ((size_t)64)

static inline hak_large_hdr *hak_large_hdr_of(const hak_map_block *b) {
    return (hak_large_hdr *)b;
}

/* Bytes from the start of a block's memory to its user pointer: the header, or the
 * alignment when that is larger (the header then sits right before the user pointer). */
static inline size_t hak_large_header_offset(size_t alignment) {
    return alignment > HAK_LARGE_HDR_SIZE ? alignment : HAK_LARGE_HDR_SIZE;
}

static inline size_t hak_large_usable(const hak_large_hdr *h) {
    return (size_t)(h->base + h->total - (char *)h->node.key);
}

/* Entry points for core (declared weak in core/components.h). */
void  *hak_large_alloc(size_t size, size_t alignment, uintptr_t site, int zero);
void   hak_large_free(hak_map_block *b);
size_t hak_large_usable_size(const hak_map_block *b);
/* NULL with errno EAGAIN: "allocate, copy and free instead"; other errno: a failure, the
 * old block is intact. */
void  *hak_large_realloc(hak_map_block *b, size_t size, uintptr_t site);

/* Backends. Each fills the header and registers the block. */
void *hak_large_malloc_alloc(size_t size, size_t alignment, uintptr_t site, int zero);
void  hak_large_malloc_free(hak_large_hdr *h);
void *hak_large_malloc_realloc(hak_large_hdr *h, size_t size);

void *hak_large_mmap_alloc(size_t size, size_t alignment, uintptr_t site, int zero);
void  hak_large_mmap_free(hak_large_hdr *h);
void *hak_large_mmap_realloc(hak_large_hdr *h, size_t size);

/* Fills the header in front of user and registers it in the block map. */
void hak_large_hdr_init(char *user, char *base, size_t total, hak_large_backend backend,
                        uintptr_t site, uint64_t flags);

/* Gives back every cached and batched range now (BigCache to the batch, batch flush):
 * what hak_config_set("large.flush", "1") does. */
void hak_large_flush(void);

/* The built-in policies of the large slot, registered at init. */
void hak_large_register_policies(void);

#endif
