/* The address map: which room owns a pointer, learned without reading memory hakmem does
 * not own.
 *
 *  - Slab map: a two-level radix table over the 47-bit user address space at 64 KiB
 *    granularity (HAK_MAP_GRANULE). The slab provider registers every slab it hands out;
 *    a lookup returns the slab's descriptor or NULL. Two dependent loads, no locks.
 *  - Block map: a hash set of individually allocated blocks (large blocks, and core's own
 *    fallback blocks when the large room is not linked), keyed by the user pointer. The
 *    node lives in the block's header, so the set never allocates. Striped locks; only
 *    slow paths use it. */
#ifndef HAKMEM_CORE_MAP_H
#define HAKMEM_CORE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

#define HAK_MAP_GRANULE_SHIFT 16
#define HAK_MAP_GRANULE       ((size_t)1 << HAK_MAP_GRANULE_SHIFT)
#define HAK_MAP_ADDR_BITS     47
#define HAK_MAP_TOP_SHIFT     32
#define HAK_MAP_TOP_COUNT     ((size_t)1 << (HAK_MAP_ADDR_BITS - HAK_MAP_TOP_SHIFT))
#define HAK_MAP_LEAF_COUNT    ((size_t)1 << (HAK_MAP_TOP_SHIFT - HAK_MAP_GRANULE_SHIFT))

extern void **hak_map_top[HAK_MAP_TOP_COUNT];

/* Returns what was registered for p's 64 KiB granule (a slab descriptor) or NULL. */
HAK_INLINE void *hak_map_slab_lookup(const void *p) {
    uintptr_t a = (uintptr_t)p;
    uintptr_t top = a >> HAK_MAP_TOP_SHIFT;
    if (hak_unlikely(top >= HAK_MAP_TOP_COUNT))
        return NULL;
    void **leaf = __atomic_load_n(&hak_map_top[top], __ATOMIC_ACQUIRE);
    if (hak_unlikely(!leaf))
        return NULL;
    /* The leaf index is bits 16..31: a 32-bit shift of the low half does it. */
    return leaf[(uint32_t)a >> HAK_MAP_GRANULE_SHIFT];
}

/* Registers owner for every granule of [start, start + size) (start granule-aligned).
 * 0 on success, -1 (ENOMEM) if a leaf could not be mapped. owner NULL unregisters. */
int hak_map_slab_set(void *start, size_t size, void *owner);

/* ---- block map ---- */
enum hak_block_kind {
    HAK_BLOCK_LARGE = 1,    /* large room: header is a hak_large_hdr */
    HAK_BLOCK_FALLBACK = 2  /* core's fallback when the large room is absent */
};

/* Which family of calls made a block, set by the front door when core.check_free is on
 * (0 when it was off), so that a free by another family can be reported. */
enum hak_block_family {
    HAK_FAMILY_UNKNOWN = 0,
    HAK_FAMILY_MALLOC = 1,   /* the malloc family and the hak_* API */
    HAK_FAMILY_NEW = 2,      /* operator new */
    HAK_FAMILY_NEW_ARRAY = 3 /* operator new[] */
};

typedef struct hak_map_block {
    struct hak_map_block *next;
    uintptr_t key;   /* the user pointer */
    uint16_t kind;   /* enum hak_block_kind */
    uint16_t family; /* enum hak_block_family */
    uint32_t aux;    /* free for the owner's use */
} hak_map_block;

void           hak_map_block_insert(hak_map_block *b);
hak_map_block *hak_map_block_find(const void *p);
/* Finds and unlinks in one step, so two racing frees of one block cannot both succeed. */
hak_map_block *hak_map_block_remove(const void *p);

void hak_map_fork_prepare(void);
void hak_map_fork_parent(void);
void hak_map_fork_child(void);

#endif
