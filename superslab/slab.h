/* The slab provider (interface of the superslab room): 64 KiB slabs, each described by a
 * hak_slab and registered in core's address map for as long as it is handed out.
 *
 * Two providers behind one interface, chosen once at init by tiny.use_superslab:
 *  - SuperSlabs (default): 2 MiB-aligned regions cut into 32 slabs of 64 KiB; slab 0 holds
 *    the SuperSlab header, slabs 1..31 hold blocks. In the SuperSlab region, the descriptor
 *    of a pointer's slab is a shift, a mask and an add away (hak_superslab_slab_of).
 *  - pages: every slab is its own 64 KiB-aligned mapping (HAKMEM_TINY_USE_SUPERSLAB=0).
 * Provider calls are slow-path only (a lock). */
#ifndef HAKMEM_SUPERSLAB_SLAB_H
#define HAKMEM_SUPERSLAB_SLAB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

#define HAK_SLAB_SHIFT        16
#define HAK_SLAB_SIZE         ((size_t)1 << HAK_SLAB_SHIFT)
#define HAK_SUPERSLAB_SHIFT   21
#define HAK_SUPERSLAB_SIZE    ((size_t)1 << HAK_SUPERSLAB_SHIFT)
#define HAK_SLABS_PER_SS      (HAK_SUPERSLAB_SIZE / HAK_SLAB_SIZE)
#define HAK_SLAB_DESC_SHIFT   8  /* descriptors lie at a 256-byte stride */

struct hak_tiny_heap;
struct hak_superslab;

typedef struct hak_slab {
    /* Written under the owner heap's lock (tiny/heap.h); the free paths read the block
     * check's fields and the owner without it. */
    void *local_free;          /* blocks returned to the slab */
    char *start;               /* first block (the slab's first byte) */
    struct hak_tiny_heap *owner; /* changes only when a thread adopts the slab (tiny/heap.c) */
    /* Block-start test in one multiply: offset * div_mul < div_lim exactly when offset is
     * k * block_size with k < carved (tiny/slabs.c explains); div_lim 0 fails all. */
    uint64_t div_mul;
    uint64_t div_lim;
    uint32_t block_size;
    uint16_t class_idx;
    uint16_t capacity;         /* blocks in the slab */
    uint16_t carved;           /* blocks carved so far (bump) */
    uint16_t used;             /* blocks out of the slab: with users or in a thread cache */
    uint16_t local_count;      /* blocks in local_free */
    uint16_t in_partial;       /* on the owner's partial list of its class */
    struct hak_slab *next, *prev; /* owner's partial list */

    /* Other threads: one atomic push per cross-thread free. The low bit is the "queued"
     * flag: set by the push that finds the queue empty (which then puts the slab on its
     * owner's ready stack), cleared only under the owner heap's lock when the slab comes off
     * that stack. Push and flag are one CAS, so a queued slab is never released. The top 16
     * bits count the takes of the queue since the slab was acquired (tiny/heap.h). */
    _Alignas(64) _Atomic uintptr_t remote_free;
    struct hak_slab *ready_next;

    /* Provider. */
    struct hak_superslab *ss;  /* NULL for the page provider */
    struct hak_slab *provider_next;
} hak_slab;

_Static_assert(sizeof(hak_slab) <= ((size_t)1 << HAK_SLAB_DESC_SHIFT), "descriptor stride");

/* SuperSlabs are placed one after another from one base when they can be
 * (superslab/region.c): a pointer is in one of them when p - base < extent, and extent is 0
 * until the first one (and if the region is ever given up), so nothing matches then. The
 * region keeps the descriptors of its slabs in a table, one per 64 KiB at a 256-byte
 * stride (hak_superslab_slab_of). */
extern HAK_HIDDEN uintptr_t hak_superslab_region_base;
extern HAK_HIDDEN uintptr_t hak_superslab_region_extent;
extern HAK_HIDDEN uintptr_t hak_superslab_region_descs; /* the table */

/* The descriptor of p's slab, computed from p alone: meaningful only when p lies in the
 * region (hak_superslab_region_has). It is table + ((p - base) >> 16) * 256, computed as
 * ((p - base) >> 8) with the low 8 bits cleared: a shift, a mask and an add, after the
 * subtraction the region test made already (the compiler shares it). Every descriptor of
 * the region is readable: that of a free slab has div_lim 0, that of slab 0 (the
 * SuperSlab header) stays zero, and both fail every block-start check. */
static inline hak_slab *hak_superslab_slab_of(const void *p) {
    uintptr_t offset = (uintptr_t)p - hak_superslab_region_base;
    uintptr_t stride = (uintptr_t)1 << HAK_SLAB_DESC_SHIFT;
    return (hak_slab *)(hak_superslab_region_descs +
                        ((offset >> (HAK_SLAB_SHIFT - HAK_SLAB_DESC_SHIFT)) & ~(stride - 1)));
}

static inline int hak_superslab_region_has(const void *p) {
    /* Plain reads, so the compare takes them as memory operands: the base never changes
     * once set, and the extent grows, except that a trim lowers it over given-back slots at
     * the end (superslab/region.c), where no block is allocated; whoever frees a block saw
     * it allocated after its SuperSlab was published, and a reader with a stale extent
     * either takes the slab map's way or reads a dead descriptor and reports the pointer. */
    return (uintptr_t)p - hak_superslab_region_base < hak_superslab_region_extent;
}

/* Returns a zeroed, registered slab (start set), or NULL with errno ENOMEM. */
hak_slab *hak_slab_acquire(void);
/* Gives back a slab none of whose blocks are in use; it is unregistered at once. */
void      hak_slab_release(hak_slab *s);

#endif
