/* Refill: the thread's list for a class is empty. Stages, in order (each counted when
 * built with debug counters):
 *   1 the current slab's local free list      3 carve fresh blocks from the current slab
 *   2 the current slab's remote-free queue    4 another slab of the class (ready, partial)
 *   5 a new slab from the provider, which maps a new SuperSlab when it has none (6).
 * Blocks move in batches: a whole local list when it fits under the class limit, else up to
 * half the limit. */
#include <errno.h>

#include "core/init.h"
#include "core/options.h"
#include "counters/counters.h"
#include "tiny/heap.h"

static inline uint32_t batch_of(unsigned cls) {
    uint32_t b = hak_tiny_limit[cls] / 2;
    return b ? b : 1;
}

/* Stage 1: moves local blocks to the (empty) thread list. */
static int take_local(hak_tiny_cache *t, unsigned cls, hak_slab *s) {
    if (!s->local_free)
        return 0;
    uint32_t n = s->local_count;
    void *head = s->local_free;
    if (n <= hak_tiny_limit[cls]) {
        s->local_free = NULL;
    } else {
        n = batch_of(cls);
        void *last = head;
        for (uint32_t i = 1; i < n; i++)
            last = *(void **)last;
        s->local_free = *(void **)last;
        *(void **)last = NULL;
    }
    s->local_count = (uint16_t)(s->local_count - n);
    s->used = (uint16_t)(s->used + n);
    t->head[cls] = head;
    t->room[cls] = (int32_t)(hak_tiny_limit[cls] - n);
    return 1;
}

/* Stage 3: links never-used blocks: a batch, but no more than a page's worth (at least 4),
 * so that a class used for a few blocks does not fault in pages it will not use. Carved
 * blocks are free blocks like any other: each gets the owner's free key (word 1 may hold
 * another heap's key from the slab's previous life), and the block-start check accepts
 * them from now on (div_lim covers the carved blocks only: a stale pointer to a block not
 * carved yet fails the check and is reported, never pushed). */
static int carve(hak_tiny_cache *t, unsigned cls, hak_slab *s) {
    uint32_t left = (uint32_t)s->capacity - s->carved;
    if (left == 0)
        return 0;
    uint32_t n = batch_of(cls);
    uint32_t page_worth = (uint32_t)(4096 / s->block_size);
    if (page_worth < 4)
        page_worth = 4;
    if (n > page_worth)
        n = page_worth;
    if (n > left)
        n = left;
    uint32_t bs = s->block_size;
    uintptr_t key = hak_tiny_free_key(s->owner);
    char *first = s->start + (size_t)s->carved * bs;
    char *p = first;
    for (uint32_t i = 0; i < n; i++, p += bs) {
        ((void **)p)[0] = i + 1 < n ? p + bs : NULL;
        ((uintptr_t *)p)[1] = key;
    }
    s->carved = (uint16_t)(s->carved + n);
    s->used = (uint16_t)(s->used + n);
    hak_tiny_slab_accept_carved(s);
    t->head[cls] = first;
    t->room[cls] = (int32_t)(hak_tiny_limit[cls] - n);
    return 1;
}

static int refill_class(hak_tiny_cache *t, unsigned cls) {
    hak_tiny_heap *h = t->heap;
    hak_tiny_class_slabs *cs = &h->cls[cls];
    HAK_COUNT_HOT(tiny_refill);
    for (;;) {
        hak_slab *s = cs->current;
        if (s) {
            if (take_local(t, cls, s)) {
                HAK_COUNT_HOT(tiny_refill_local);
                return 1;
            }
            if (hak_tiny_drain_remote(s) && take_local(t, cls, s)) {
                HAK_COUNT_HOT(tiny_refill_remote);
                return 1;
            }
            if (carve(t, cls, s)) {
                HAK_COUNT_HOT(tiny_refill_carve);
                return 1;
            }
            cs->current = NULL; /* every block is out; frees bring it back */
        }
        hak_tiny_process_ready(h);
        if (cs->partial) {
            s = cs->partial;
            hak_tiny_partial_remove(h, s);
            cs->current = s;
            HAK_COUNT_HOT(tiny_refill_other_slab);
            continue;
        }
        s = hak_tiny_adopt_slab(h, cls);
        if (!s) {
            s = hak_tiny_slab_get(h, cls);
            if (!s)
                return 0;
        }
        cs->current = s;
        HAK_COUNT_HOT(tiny_refill_new_slab);
    }
}

HAK_NOINLINE void *hak_tiny_refill(size_t size) {
    hak_init_ensure();
    if (hak_unlikely(!hak_option(HAK_OPT_TINY_ENABLED) || size > HAK_TINY_MAX_SIZE)) {
        HAK_COUNT_HOT(tiny_refill_disabled);
        return NULL;
    }
    hak_purge_tick_sometimes(); /* the purge clock, before any lock (core/purge.h) */
    hak_tiny_cache *t = &hak_tiny_tls;
    if (hak_unlikely(!t->heap) && !hak_tiny_heap_attach(t)) {
        HAK_COUNT_HOT(tiny_refill_no_heap);
        errno = ENOMEM;
        return NULL;
    }
    unsigned cls = hak_tiny_size_to_class(size);
    if (!t->head[cls]) {
        hak_tiny_heap *h = t->heap;
        hak_tiny_heap_lock(h);
        int ok = refill_class(t, cls);
        hak_tiny_heap_unlock(h);
        if (!ok) {
            HAK_COUNT_HOT(tiny_refill_no_slab);
            errno = ENOMEM;
            return NULL;
        }
    }
    return hak_tiny_pop(size);
}
