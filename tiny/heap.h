/* Internal to the tiny room: a thread heap owns the slabs of one thread. Heaps are never
 * freed: when a thread exits its heap is abandoned with the slabs that still have blocks
 * out, and the next new thread adopts it. Cross-thread frees keep reaching an abandoned
 * heap through its ready stack, so nothing is lost, and a program that creates threads
 * forever reuses heaps instead of growing. */
#ifndef HAKMEM_TINY_HEAP_H
#define HAKMEM_TINY_HEAP_H

#include <stdatomic.h>

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
    struct hak_tiny_heap *next_all;
    struct hak_tiny_heap *next_abandoned;
    atomic_int abandoned; /* its thread exited; changed under the heaps lock */
} hak_tiny_heap;

hak_tiny_heap *hak_tiny_heap_attach(hak_tiny_cache *t);

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
/* The slab's blocks are all back: give it to the provider unless it is still queued. */
void hak_tiny_slab_retire_if_empty(hak_tiny_heap *h, hak_slab *s);
/* A slab after blocks came back to it: retired when empty, else on the partial list;
 * nothing for its class's current slab. */
void hak_tiny_slab_settle(hak_tiny_heap *h, hak_slab *s);
/* A slab for a class: from the heap's empty reserve, else from the provider. */
hak_slab *hak_tiny_slab_get(hak_tiny_heap *h, unsigned cls);
/* Gives the empty reserve back to the provider (thread exit). */
void hak_tiny_release_empty(hak_tiny_heap *h);

/* A cross-thread free queued a slab on an abandoned heap: the freeing thread takes over
 * that heap's slabs, so memory comes back even when no new thread adopts the heap. */
void hak_tiny_adopt_abandoned(hak_tiny_heap *a);
/* Refill stage 4b: a partial slab of class cls taken over from an abandoned heap. */
hak_slab *hak_tiny_adopt_slab(hak_tiny_heap *h, unsigned cls);

void hak_tiny_heaps_init(void);
void hak_tiny_heaps_fork_prepare(void);
void hak_tiny_heaps_fork_parent(void);
void hak_tiny_heaps_fork_child(void);

#endif
