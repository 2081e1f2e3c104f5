/* Tiny room: small blocks (up to 32 KiB) from per-thread free lists (tls_sll) in front of
 * per-slab free lists. The fast paths are here, inline; libhakmem.so inlines them into
 * malloc and free, static builds call hak_tiny_alloc_cached / hak_tiny_free.
 *
 *   alloc hit: size -> class (one table load), pop from the thread's list. No lock, no
 *              atomic, no indirect call, no counter.
 *   free by the owner: push on the thread's list; past the class limit, flush half back.
 *   free by another thread: one atomic push on the slab's remote queue (tiny/free.c).
 *
 * Misuse checks on every free, before anything is written (about 8 instructions):
 *   - interior pointer: the offset in the 64 KiB-aligned slab must be k * block size with
 *     k below the number of blocks carved so far, tested with one multiply and one compare
 *     (a variant of Lemire et al.'s divisibility test, tiny/slabs.c);
 *   - double free: a free block carries its slab owner's heap address in its second word
 *     (set on free and when carved, cleared on allocation), the way glibc's tcache keeps a
 *     key there; a block that already carries it is looked for in the lists it could be on
 *     before it is reported. The owner's free path has that address in a register already
 *     (it compared the slab's owner with it), so the key costs no load; a slab that changes
 *     owner gets its free blocks' keys rewritten (tiny/heap.c, tiny/slabs.c). Heaps are
 *     hakmem's own metadata, never handed to a program, so no program data holds that value
 *     by accident. The price: a program that reads a freed block learns where a heap lies,
 *     as it learns block addresses from the free-list link beside it (glibc's tcache moved
 *     to a random key to hide its metadata; hakmem does not claim that hardening).
 * A suspect goes to hak_tiny_free_suspect, which confirms, reports and applies
 * core.foreign_free; tiny.checks=0 turns these reports off (a pointer into no allocated
 * slab, or past the blocks handed out in its slab, is reported all the same: it cannot be
 * freed). */
#ifndef HAKMEM_TINY_TINY_H
#define HAKMEM_TINY_TINY_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "counters/counters.h"
#include "superslab/slab.h"
#include "tiny/size_class.h"

struct hak_tiny_heap;

typedef struct hak_tiny_cache {
    void *head[HAK_TINY_CLASSES];      /* tls_sll: intrusive singly-linked lists */
    /* Frees left before the list passes its limit: limit - length. Counting down lets the
     * free path test the limit without loading it. Set when the heap attaches. */
    int32_t room[HAK_TINY_CLASSES];
    struct hak_tiny_heap *heap;        /* owner of this thread's slabs; NULL until first use */
} hak_tiny_cache;

extern HAK_TLS hak_tiny_cache hak_tiny_tls;
extern uint32_t hak_tiny_limit[HAK_TINY_CLASSES]; /* flush when a list grows past this */

static inline uint32_t hak_tiny_cached(const hak_tiny_cache *t, unsigned cls) {
    return (uint32_t)((int32_t)hak_tiny_limit[cls] - t->room[cls]);
}

/* Slow paths (tiny/refill.c, tiny/free.c). */
void *hak_tiny_refill(size_t size);                /* NULL: tiny cannot serve it */
void  hak_tiny_flush(unsigned cls);                /* list over its limit */
void  hak_tiny_free_remote(void *p, hak_slab *s, int check); /* another thread's slab */
void  hak_tiny_free_suspect(void *p, hak_slab *s); /* failed a misuse check */

/* Pops a cached block, or NULL when the list is empty (then hak_tiny_refill). */
HAK_INLINE void *hak_tiny_pop(size_t size) {
    unsigned cls = hak_tiny_size_to_class(size);
    hak_tiny_cache *t = &hak_tiny_tls;
    void *p = t->head[cls];
    if (hak_likely(p != NULL)) {
        t->head[cls] = *(void **)p;
        ((uintptr_t *)p)[1] = 0; /* no longer free: drop the double-free key */
        t->room[cls]++;
    }
    return p;
}

HAK_INLINE void *hak_tiny_alloc_fast(size_t size) {
    void *p = hak_tiny_pop(size);
    return hak_likely(p != NULL) ? p : hak_tiny_refill(size);
}

/* The double-free key of a free block: the address of its slab owner's heap. */
static inline uintptr_t hak_tiny_free_key(const struct hak_tiny_heap *owner) {
    return (uintptr_t)owner;
}

/* Pushes a block start on the owner's list or the slab's remote queue. With check set, a
 * block that already carries the free key goes to hak_tiny_free_suspect instead (the
 * remote path checks it there too). */
HAK_INLINE void hak_tiny_push(void *p, hak_slab *s, int check) {
    hak_tiny_cache *t = &hak_tiny_tls;
    struct hak_tiny_heap *h = t->heap;
    if (hak_likely(s->owner == h)) {
        unsigned cls = s->class_idx;
        uintptr_t key = hak_tiny_free_key(h);
        if (hak_unlikely(check && ((uintptr_t *)p)[1] == key)) {
            hak_tiny_free_suspect(p, s);
            return;
        }
        ((uintptr_t *)p)[1] = key;
        *(void **)p = t->head[cls];
        t->head[cls] = p;
        HAK_COUNT_HOT(tiny_free_tls_sll); /* nothing unless HAKMEM_DEBUG_COUNTERS */
        if (hak_unlikely(--t->room[cls] < 0))
            hak_tiny_flush(cls);
        return;
    }
    hak_tiny_free_remote(p, s, check);
}

HAK_INLINE void hak_tiny_free_fast(void *p, void *slab) {
    hak_slab *s = (hak_slab *)slab;
    /* Slabs are 64 KiB-aligned: the offset is the low bits. Only a block start (hence a
     * multiple of 16 below 64 KiB) may be read or written. */
    uint64_t off = (uintptr_t)p & (HAK_SLAB_SIZE - 1);
    if (hak_unlikely(off * s->div_mul >= s->div_lim)) {
        hak_tiny_free_suspect(p, s);
        return;
    }
    hak_tiny_push(p, s, 1);
}

/* Out-of-line entry points for core (weak references in core/components.h). */
void  *hak_tiny_alloc(size_t size);        /* refills on a miss */
void  *hak_tiny_alloc_cached(size_t size); /* NULL on a miss (the caller's slow path refills) */
void  *hak_tiny_alloc_aligned(size_t size, size_t alignment);
void   hak_tiny_free(void *p, void *slab);
size_t hak_tiny_usable_size(const void *p, void *slab);

#endif
