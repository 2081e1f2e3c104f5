/* Slab bookkeeping of a thread heap: partial lists, remote drains, returns, retirement.
 * Callers hold the heap's lock (tiny/heap.h), except hak_tiny_ready_push (any thread). */
#include "tiny/heap.h"

#include <string.h>

#define EMPTY_KEEP 2 /* empty slabs a heap keeps back from the provider */

void hak_tiny_slab_init(hak_slab *s, hak_tiny_heap *h, unsigned cls) {
    uint32_t bs = hak_tiny_class_size[cls];
    /* A slab from the empty reserve still has its old bound: dropped before the class
     * changes, which narrows (plain stores do not close) the window in which a stale free
     * racing this reuse would check against the old bound. */
    s->div_lim = 0;
    s->owner = h;
    s->class_idx = (uint16_t)cls;
    s->block_size = bs;
    s->capacity = (uint16_t)(HAK_SLAB_SIZE / bs);
    /* M = floor((2^64 - 1) / bs) + 2, so bs * M = 2^64 + e with bs < e <= 2 bs. Modulo 2^64,
     * (k bs + r) M = k e + r M: for r = 0 it is k e, below n * e exactly when k < n; for
     * 0 < r < bs it is at least M (about 2^64 / bs, far above n * e, and k e + r M cannot
     * wrap since offsets stay below 2^16). So one multiply and one compare against
     * div_lim = n * e reject an interior pointer and a pointer past block n - 1 alike; n is
     * the number of blocks carved so far (hak_tiny_slab_accept_carved), 0 until the first
     * carve. */
    s->div_mul = UINT64_MAX / bs + 2;
}

void hak_tiny_slab_accept_carved(hak_slab *s) {
    /* A plain store read by other threads' frees: a block reaches another thread only
     * through the program, after the carve that made it. */
    s->div_lim = (uint64_t)s->carved * (s->div_mul * s->block_size); /* carved * e */
}

void hak_tiny_partial_push(hak_tiny_heap *h, hak_slab *s) {
    hak_tiny_class_slabs *cs = &h->cls[s->class_idx];
    s->prev = NULL;
    s->next = cs->partial;
    if (cs->partial)
        cs->partial->prev = s;
    cs->partial = s;
    s->in_partial = 1;
}

void hak_tiny_partial_remove(hak_tiny_heap *h, hak_slab *s) {
    if (!s->in_partial)
        return;
    hak_tiny_class_slabs *cs = &h->cls[s->class_idx];
    if (s->prev)
        s->prev->next = s->next;
    else
        cs->partial = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->in_partial = 0;
}

void hak_tiny_splice_remote(hak_slab *s, void *list) {
    if (!list)
        return;
    /* Queued by other threads with the owner they saw, which an adoption may have changed
     * since: every block gets the current owner's key. */
    uintptr_t key = hak_tiny_free_key(s->owner);
    unsigned n = 1;
    void *tail = list;
    ((uintptr_t *)tail)[1] = key;
    while (*(void **)tail) {
        tail = *(void **)tail;
        ((uintptr_t *)tail)[1] = key;
        n++;
    }
    *(void **)tail = s->local_free;
    s->local_free = list;
    s->local_count = (uint16_t)(s->local_count + n);
    s->used = (uint16_t)(s->used - n);
}

/* Moves the remote queue to the local list, keeping the queued flag. 1 if it held blocks. */
int hak_tiny_drain_remote(hak_slab *s) {
    if (!hak_tiny_remote_list(atomic_load_explicit(&s->remote_free, memory_order_relaxed)))
        return 0;
    /* Only frees fill the queue meanwhile: it is still not empty. */
    hak_tiny_splice_remote(s, hak_tiny_remote_list(hak_tiny_remote_take(s, 1)));
    return 1;
}

/* Queues s for the provider, which gets it when h's lock is dropped (hak_tiny_heap_unlock).
 * Until then it is already no block's slab: div_lim 0 fails the block-start check, so a
 * stale free meanwhile is reported as it would be once the slab is released. */
static void retire_for_release(hak_tiny_heap *h, hak_slab *s) {
    s->div_lim = 0;
    s->next = h->releasing;
    h->releasing = s;
}

void hak_tiny_slab_retire_if_empty(hak_tiny_heap *h, hak_slab *s) {
    if (s->used != 0 || h->cls[s->class_idx].current == s)
        return;
    /* Still on the ready stack: it is retired when the stack is processed. */
    if (hak_tiny_remote_busy(atomic_load_explicit(&s->remote_free, memory_order_acquire)))
        return;
    hak_tiny_partial_remove(h, s);
    if (h->empty_count < EMPTY_KEEP) {
        s->next = h->empty;
        h->empty = s;
        h->empty_count++;
        h->empty_since = hak_clock_ms();
        return;
    }
    retire_for_release(h, s);
}

void hak_tiny_slab_settle(hak_tiny_heap *h, hak_slab *s) {
    if (h->cls[s->class_idx].current == s)
        return; /* the class's current slab is on no list */
    if (s->used == 0)
        hak_tiny_slab_retire_if_empty(h, s);
    else if (!s->in_partial)
        hak_tiny_partial_push(h, s);
}

hak_slab *hak_tiny_slab_get(hak_tiny_heap *h, unsigned cls) {
    hak_slab *s = h->empty;
    if (s) {
        h->empty = s->next;
        h->empty_count--;
        s->next = NULL;
        s->local_free = NULL;
        s->carved = s->used = s->local_count = 0;
    } else {
        s = hak_slab_acquire();
        if (!s)
            return NULL;
    }
    hak_tiny_slab_init(s, h, cls);
    return s;
}

void hak_tiny_release_empty(hak_tiny_heap *h) {
    while (h->empty) {
        hak_slab *s = h->empty;
        h->empty = s->next;
        h->empty_count--;
        retire_for_release(h, s);
    }
}

void hak_tiny_release_slabs(hak_slab *list) {
    while (list) {
        hak_slab *next = list->next;
        hak_slab_release(list);
        list = next;
    }
}

void hak_tiny_ready_push(hak_tiny_heap *h, hak_slab *s) {
    hak_slab *top = atomic_load_explicit(&h->ready, memory_order_relaxed);
    do {
        s->ready_next = top;
    } while (!atomic_compare_exchange_weak_explicit(&h->ready, &top, s, memory_order_seq_cst,
                                                    memory_order_relaxed));
}

/* Takes every slab that received cross-thread frees since the last call. */
void hak_tiny_process_ready(hak_tiny_heap *h) {
    atomic_store_explicit(&h->queued, 0, memory_order_relaxed);
    hak_slab *s = atomic_exchange_explicit(&h->ready, NULL, memory_order_acquire);
    while (s) {
        hak_slab *next = s->ready_next; /* before the flag clears: a push may requeue s */
        hak_tiny_splice_remote(s, hak_tiny_remote_list(hak_tiny_remote_take(s, 0)));
        hak_tiny_slab_settle(h, s);
        s = next;
    }
}

void hak_tiny_return_block(hak_tiny_heap *h, hak_slab *s, void *p) {
    *(void **)p = s->local_free;
    s->local_free = p;
    s->local_count++;
    s->used--;
    hak_tiny_slab_settle(h, s);
}
