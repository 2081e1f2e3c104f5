/* Internal to the tiny room: a thread heap owns the slabs of one thread. Heaps are never
 * freed: when a thread exits its heap is abandoned with the slabs that still have blocks
 * out, and the next new thread adopts it. Cross-thread frees keep reaching an abandoned
 * heap through its ready stack, so nothing is lost, and a program that creates threads
 * forever reuses heaps instead of growing. A live heap whose thread stays away from its slow
 * paths while other threads free into its slabs gets its ready stack processed by one of
 * them (hak_tiny_drain_idle), so those blocks are not kept from everyone else.
 *
 * Locks: every slab structure of a heap (lists, counts, the ready stack's consumer side) is
 * touched under heap->lock; the thread cache is not, so the fast paths take no lock. Only a
 * heap's owner blocks on its lock (the exception: a heap on the abandoned list, whose lock
 * holders of the heaps lock take); any other thread only tries it. So the two orders in
 * use, heap lock then heaps lock (a refill adopting a slab) and heaps lock then own heap
 * lock (hak_tiny_adopt_abandoned), never wait on each other across threads. */
#ifndef HAKMEM_TINY_HEAP_H
#define HAKMEM_TINY_HEAP_H

#include <stdatomic.h>

#include "core/lock.h"
#include "core/purge.h"
#include "tiny/tiny.h"

typedef struct hak_tiny_class_slabs {
    hak_slab *current; /* refills come from here first */
    hak_slab *partial; /* other slabs with free blocks (doubly linked) */
} hak_tiny_class_slabs;

typedef struct hak_tiny_heap {
    hak_tiny_class_slabs cls[HAK_TINY_CLASSES];
    /* Slabs whose remote queue went from empty to non-empty (MPSC stack via ready_next). */
    hak_slab *_Atomic ready;
    /* A few empty slabs kept back from the provider, so a class that empties and refills
     * in a loop does not pay a release (madvise) and an acquire each time. */
    hak_slab *empty;
    unsigned empty_count;
    uint64_t empty_since; /* when a slab last went into the reserve (hak_clock_ms) */
    /* Slabs retired under the lock, given to the provider by hak_tiny_heap_unlock once the
     * lock is dropped: a release takes the provider's lock and may madvise, and the heap's
     * owner would spin on its lock meanwhile (a drainer's retirements, say). */
    hak_slab *releasing;
    struct hak_tiny_heap *next_all;
    struct hak_tiny_heap *next_abandoned;
    atomic_int abandoned; /* its thread exited; changed under the heaps lock */
    hak_lock lock;        /* the heap's slab structures (above) */
    atomic_uint queued;   /* slabs pushed on the ready stack since it was last processed */
} hak_tiny_heap;

hak_tiny_heap *hak_tiny_heap_attach(hak_tiny_cache *t);

/* A slab's remote-free word (hak_slab.remote_free): the queue's first block (bits 4-47:
 * blocks are 16-aligned), the queued flag (bit 0), and in bits 48-63 a generation that
 * every take of the queue raises. A cross-thread free reads the word and the slab's owner
 * (whose address is the free key it writes), then CASes the word; without the generation,
 * a free that read the word just before an adoption (which sets the flag, changes the
 * owner, and empties the queue back to zero) could still land after it with the old
 * owner's key, and a second free of that block would go unseen. With it, that CAS fails
 * and the free reads the owner again (unless exactly 65536 takes ran while it stalled
 * between its load and its CAS). Block addresses fit in 48 bits: core/map.c registers no
 * slab above 2^47 (HAK_MAP_ADDR_BITS). */
_Static_assert(sizeof(uintptr_t) == 8, "the remote-free word packs a generation above bit 48");
#define HAK_TINY_REMOTE_QUEUED ((uintptr_t)1)
#define HAK_TINY_REMOTE_GEN    ((uintptr_t)1 << 48)

static inline void *hak_tiny_remote_list(uintptr_t word) {
    return (void *)(word & (HAK_TINY_REMOTE_GEN - 1) & ~HAK_TINY_REMOTE_QUEUED);
}

/* Queued, or blocks waiting: such a slab is not given back to the provider. */
static inline int hak_tiny_remote_busy(uintptr_t word) {
    return (word & (HAK_TINY_REMOTE_GEN - 1)) != 0;
}

/* The word after pushing block p onto the queue `word` holds (the flag set). */
static inline uintptr_t hak_tiny_remote_pushed(uintptr_t word, void *p) {
    return (word & ~(HAK_TINY_REMOTE_GEN - 1)) | (uintptr_t)p | HAK_TINY_REMOTE_QUEUED;
}

/* Empties s's queue, keeping the queued flag only if keep_flag, and returns the old word.
 * Acquire: the blocks' links are the pushers' writes. Release: take_slab's owner store is
 * published by its take, for every free that reads the word after it. */
static inline uintptr_t hak_tiny_remote_take(hak_slab *s, int keep_flag) {
    uintptr_t old = atomic_load_explicit(&s->remote_free, memory_order_relaxed), next;
    do {
        next = ((old & ~(HAK_TINY_REMOTE_GEN - 1)) + HAK_TINY_REMOTE_GEN) |
               (keep_flag ? old & HAK_TINY_REMOTE_QUEUED : 0);
    } while (!atomic_compare_exchange_weak_explicit(&s->remote_free, &old, next,
                                                    memory_order_acq_rel, memory_order_relaxed));
    return old;
}

/* Takes heap h's lock, blocking (its owner, or a holder of the heaps lock for an abandoned
 * heap). The thread's counter shard is registered first: registering may allocate, and an
 * allocation under the lock would wait for it forever (a refill takes it). */
static inline void hak_tiny_heap_lock(hak_tiny_heap *h) {
    hak_counters_ensure_thread();
    hak_lock_acquire(&h->lock);
}

/* The same without waiting (any thread but the owner): 1 if taken. */
static inline int hak_tiny_heap_trylock(hak_tiny_heap *h) {
    hak_counters_ensure_thread();
    return hak_lock_try(&h->lock);
}

void hak_tiny_release_slabs(hak_slab *list);

/* Drops h's lock, then gives back what was retired under it. */
static inline void hak_tiny_heap_unlock(hak_tiny_heap *h) {
    hak_slab *retired = h->releasing;
    h->releasing = NULL;
    hak_lock_release(&h->lock);
    if (retired)
        hak_tiny_release_slabs(retired);
}

/* Slab bookkeeping shared by refill, flush and thread exit (tiny/slabs.c). */
void hak_tiny_slab_init(hak_slab *s, hak_tiny_heap *h, unsigned cls);
/* The block-start check accepts the slab's blocks up to s->carved (after a carve). */
void hak_tiny_slab_accept_carved(hak_slab *s);
int  hak_tiny_drain_remote(hak_slab *s);
/* Appends a list taken off the remote queue to the local list (NULL: nothing). */
void hak_tiny_splice_remote(hak_slab *s, void *list);
void hak_tiny_process_ready(hak_tiny_heap *h);
/* Puts a slab whose queued flag the caller set on h's ready stack (any thread). */
void hak_tiny_ready_push(hak_tiny_heap *h, hak_slab *s);
void hak_tiny_return_block(hak_tiny_heap *h, hak_slab *s, void *p);
void hak_tiny_partial_remove(hak_tiny_heap *h, hak_slab *s);
void hak_tiny_partial_push(hak_tiny_heap *h, hak_slab *s);
/* The slab's blocks are all back: into the empty reserve, or for the provider when the
 * heap's lock is dropped, unless it is still queued. */
void hak_tiny_slab_retire_if_empty(hak_tiny_heap *h, hak_slab *s);
/* A slab after blocks came back to it: retired when empty, else on the partial list;
 * nothing for its class's current slab. */
void hak_tiny_slab_settle(hak_tiny_heap *h, hak_slab *s);
/* A slab for a class: from the heap's empty reserve, else from the provider. */
hak_slab *hak_tiny_slab_get(hak_tiny_heap *h, unsigned cls);
/* Gives the empty reserve back to the provider, when the heap's lock is dropped (thread
 * exit, tidying an abandoned heap). */
void hak_tiny_release_empty(hak_tiny_heap *h);

/* A cross-thread free queued a slab on an abandoned heap: the freeing thread takes over
 * that heap's slabs, so memory comes back even when no new thread adopts the heap. */
void hak_tiny_adopt_abandoned(hak_tiny_heap *a);
/* Cross-thread frees queued many slabs on live heap h since its owner last looked: process
 * h's ready stack for it (empty slabs go back to the provider, past the heap's reserve of
 * two), unless another thread holds h's lock (the owner at work, or another drainer); the
 * next slab queued on h tries again. */
void hak_tiny_drain_idle(hak_tiny_heap *h);
/* Refill stage 4b: a partial slab of class cls taken over from an abandoned heap. */
hak_slab *hak_tiny_adopt_slab(hak_tiny_heap *h, unsigned cls);

/* The room's purge hook (core/purge.h): heaps' empty reserves back to the provider (those
 * unused for tiny.purge_delay_ms, or all), and on pressure or request the calling thread's
 * own lists too. */
size_t hak_tiny_heaps_purge(hak_purge_req *req);

void hak_tiny_heaps_init(void);
void hak_tiny_heaps_fork_prepare(void);
void hak_tiny_heaps_fork_parent(void);
void hak_tiny_heaps_fork_child(void);

#endif
