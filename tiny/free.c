/* Tiny free slow paths: flushing a thread list that grew past its limit, and frees of
 * blocks that belong to another thread's slab. */
#include "core/map.h"
#include "counters/counters.h"
#include "tiny/heap.h"

/* Gives the older half of the list back to the slabs (the list keeps limit/2 blocks). */
HAK_NOINLINE void hak_tiny_flush(unsigned cls) {
    hak_tiny_cache *t = &hak_tiny_tls;
    uint32_t keep = hak_tiny_limit[cls] / 2;
    uint32_t n = hak_tiny_cached(t, cls) - keep;
    /* The first `keep` blocks were freed last: they stay (warm in cache). */
    void **link = &t->head[cls];
    for (uint32_t i = 0; i < keep; i++)
        link = (void **)*link;
    void *p = *link;
    *link = NULL;
    t->room[cls] = (int32_t)(hak_tiny_limit[cls] - keep);
    while (n-- && p) {
        void *next = *(void **)p;
        hak_slab *s = hak_map_slab_lookup(p);
        hak_tiny_return_block(t->heap, s, p);
        HAK_COUNT_HOT(tiny_free_ss_local);
        p = next;
    }
}

/* One atomic push onto the slab's MPSC queue. The push that finds the queue empty also
 * sets the queued flag (same CAS) and puts the slab on its owner's ready stack, so the
 * owner finds it even when the slab is full and on no list. */
HAK_NOINLINE void hak_tiny_free_remote(void *p, hak_slab *s) {
    HAK_COUNT_HOT(tiny_free_ss_remote);
    uintptr_t old = atomic_load_explicit(&s->remote_free, memory_order_relaxed);
    do {
        *(void **)p = (void *)(old & ~(uintptr_t)1);
    } while (!atomic_compare_exchange_weak_explicit(&s->remote_free, &old, (uintptr_t)p | 1,
                                                    memory_order_release, memory_order_relaxed));
    if (old != 0)
        return; /* already queued */
    hak_tiny_heap *h = s->owner;
    hak_slab *top = atomic_load_explicit(&h->ready, memory_order_relaxed);
    do {
        s->ready_next = top;
    } while (!atomic_compare_exchange_weak_explicit(&h->ready, &top, s, memory_order_release,
                                                    memory_order_relaxed));
}
