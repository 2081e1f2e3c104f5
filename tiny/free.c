/* Tiny free slow paths: flushing a thread list that grew past its limit, and frees of
 * blocks that belong to another thread's slab. */
#include "core/map.h"
#include "core/options.h"
#include "core/report.h"
#include "counters/counters.h"
#include "tiny/heap.h"

/* Gives the older half of the list back to the slabs (the list keeps limit/2 blocks). */
HAK_NOINLINE void hak_tiny_flush(unsigned cls) {
    hak_purge_tick_sometimes(); /* before any lock: a program that only frees still purges */
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
    hak_tiny_heap *h = t->heap;
    hak_tiny_heap_lock(h);
    while (n-- && p) {
        void *next = *(void **)p;
        hak_slab *s = hak_map_slab_lookup(p);
        hak_tiny_return_block(h, s, p);
        HAK_COUNT_HOT(tiny_free_ss_local);
        p = next;
    }
    hak_tiny_heap_unlock(h);
}

/* Slabs queued on a live heap since its owner last processed its ready stack, past which
 * the freeing thread processes it (hak_tiny_drain_idle). An owner at work looks at its
 * ready stack whenever a refill finds its current slab used up; one that stays blocked
 * would keep those blocks from everyone. Past this many, each further queued slab tries
 * again (a try fails while another thread holds the lock); what a drain leaves with the
 * idle heap is its slabs still partly in use, each class's current slab, two empty ones in
 * its reserve, and slabs queued again while it ran. */
#define DRAIN_AT 32

/* One atomic push onto the slab's MPSC queue. The push that finds the queue empty also
 * sets the queued flag (same CAS) and puts the slab on its owner's ready stack, so the
 * owner finds it even when the slab is full and on no list. */
HAK_NOINLINE void hak_tiny_free_remote(void *p, hak_slab *s, int check) {
    uintptr_t word0 = ((uintptr_t *)p)[0], word1 = ((uintptr_t *)p)[1];
    /* The key is the owner's (tiny/tiny.h), and an adoption may be changing the owner
     * (take_slab in tiny/heap.c: it sets the queued flag, stores the new owner, then
     * empties the queue, rewriting the keys of what it takes). So the owner is read after
     * each load of the queue word (acquire, which sees the adopter's owner store once it
     * sees its take), and the CAS fails if the queue was taken since that load: the word's
     * generation (tiny/heap.h) differs even when the queue is back to empty. A push that
     * lands thus carries the key of the owner that will take it, except inside the
     * adoption itself (take_slab says which double free that leaves unseen). */
    uintptr_t old = atomic_load_explicit(&s->remote_free, memory_order_acquire);
    do {
        uintptr_t key = hak_tiny_free_key(__atomic_load_n(&s->owner, __ATOMIC_RELAXED));
        if (check && word1 == key) {
            ((uintptr_t *)p)[0] = word0; /* as the program left it */
            ((uintptr_t *)p)[1] = word1;
            hak_tiny_free_suspect(p, s);
            return;
        }
        ((uintptr_t *)p)[1] = key;
        *(void **)p = hak_tiny_remote_list(old);
    } while (!atomic_compare_exchange_weak_explicit(&s->remote_free, &old,
                                                    hak_tiny_remote_pushed(old, p),
                                                    memory_order_acq_rel, memory_order_acquire));
    HAK_COUNT_HOT(tiny_free_ss_remote);
    if (hak_tiny_remote_busy(old))
        return; /* already queued */
    hak_tiny_heap *h = s->owner; /* read after our CAS: sees an adopter's store (acq_rel) */
    hak_tiny_ready_push(h, s);
    /* seq_cst push, then seq_cst load; the exiting owner stores the flag, then looks at its
     * ready stack: one of the two sees the other, so the slab is never left behind. */
    if (hak_unlikely(atomic_load(&h->abandoned)))
        hak_tiny_adopt_abandoned(h);
    else if (atomic_fetch_add_explicit(&h->queued, 1, memory_order_relaxed) + 1 >= DRAIN_AT)
        hak_tiny_drain_idle(h);
}

static int list_contains(void *list, const void *p, size_t max) {
    for (size_t i = 0; list && i < max; i++, list = *(void **)list)
        if (list == p)
            return 1;
    return 0;
}

/* p failed a fast check: it is not a block start, or it carries the free-block key. */
HAK_NOINLINE void hak_tiny_free_suspect(void *p, hak_slab *s) {
    HAK_COUNT(tiny_check_suspect);
    /* Reached by address through the SuperSlab region, s may be a free slab's descriptor,
     * slab 0's (which holds no blocks) or a decommitted SuperSlab's, or one just acquired
     * and not yet set up for a class: div_lim 0 says so in every case (released slabs get
     * it, descriptors start zeroed, hak_tiny_slab_init sets it first). So does a live slab
     * nothing has been carved from yet. Nothing there was allocated. Never pushed and
     * always reported, whatever tiny.checks says: pushing would hand the same memory out
     * twice. (block_size 0: a stale free racing the slab's reuse saw an old div_lim.) */
    uint32_t bs = s->block_size;
    if (s->div_lim == 0 || bs == 0) {
        hak_misuse("free(%p): not an allocated block (it lies in a free part of the small-block "
                   "heap)", p);
        return;
    }
    unsigned cls = s->class_idx;
    size_t off = (size_t)((char *)p - s->start);
    /* Past the blocks carved so far, or where a block would run past the slab's end:
     * nothing there was handed out, and pushing it would hand out memory twice or beyond
     * the slab. Reported whatever tiny.checks says, like the case above. */
    if (off / bs >= s->carved || off + bs > (size_t)s->capacity * bs) {
        if (off % bs == 0 && off / bs < s->capacity)
            hak_misuse("free(%p): pointer to a %u-byte block that was never allocated", p, bs);
        else
            hak_misuse("free(%p): not a block: it lies past the %u-byte blocks handed out in "
                       "its slab", p, bs);
        return;
    }
    if (!hak_option(HAK_OPT_TINY_CHECKS)) {
        hak_tiny_push(p, s, 0);
        return;
    }
    if (off % bs != 0) {
        hak_misuse("free(%p): pointer into the middle of a %u-byte block (block starts at %p)",
                   p, bs, (void *)(s->start + off / bs * bs));
        return;
    }
    /* Carries the key: free already, unless the program stored that value there. The owner
     * looks where a free block can be (its list, the slab's local list and remote queue:
     * their consumers hold the heap's lock, as it does while it walks them). Another thread
     * does not walk those; for it the key alone is the evidence: the owner heap's address,
     * which is hakmem's own metadata and no program's data. */
    hak_tiny_cache *t = &hak_tiny_tls;
    size_t cap = (size_t)s->capacity + 1;
    hak_tiny_heap *h = t->heap;
    int found = !h || s->owner != h || list_contains(t->head[cls], p, hak_tiny_limit[cls] + 2);
    if (!found) {
        /* The slab's lists are the heap's, under its lock: a drainer may be splicing into
         * them, or may have retired the slab since the owner test (then p is no block of
         * ours to free: reported as a double free, its first free having emptied it). */
        hak_tiny_heap_lock(h);
        found = s->owner != h || s->div_lim == 0 || list_contains(s->local_free, p, cap) ||
                list_contains(hak_tiny_remote_list(atomic_load(&s->remote_free)), p, cap);
        hak_tiny_heap_unlock(h);
    }
    if (found) {
        hak_misuse("free(%p): double free of a %u-byte block", p, bs);
        return;
    }
    hak_tiny_push(p, s, 0); /* the program's own data looked like the key */
}
