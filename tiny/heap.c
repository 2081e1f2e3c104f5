/* Thread heaps: attach on a thread's first refill, abandon at thread exit, adoption by the
 * next thread, and the fork child's view. */
#include <pthread.h>
#include <string.h>

#include "core/lock.h"
#include "core/map.h"
#include "core/options.h"
#include "core/os.h"
#include "counters/counters.h"
#include "tiny/heap.h"

#define HEAP_CHUNK ((size_t)64 * 1024)

static hak_lock heaps_lock = HAK_LOCK_INIT;
static hak_tiny_heap *all_heaps;
static hak_tiny_heap *abandoned;
static hak_tiny_heap *spare;      /* carved from the current chunk, not yet used */
static size_t spare_left;
static pthread_key_t exit_key;
static int exit_key_ok;

/* Takes the heaps lock, the thread's counter shard registered first, as for a heap's lock
 * (hak_tiny_heap_lock): a count under the lock must not allocate. */
static void heaps_lock_acquire(void) {
    hak_counters_ensure_thread();
    hak_lock_acquire(&heaps_lock);
}

static hak_tiny_heap *heap_new_locked(void) {
    if (spare_left == 0) {
        hak_lock_release(&heaps_lock);
        void *chunk = hak_os_map(HEAP_CHUNK);
        heaps_lock_acquire();
        if (!chunk)
            return NULL;
        spare = chunk;
        spare_left = HEAP_CHUNK / sizeof(hak_tiny_heap);
    }
    hak_tiny_heap *h = spare++;
    spare_left--;
    h->next_all = all_heaps;
    all_heaps = h;
    return h;
}

hak_tiny_heap *hak_tiny_heap_attach(hak_tiny_cache *t) {
    heaps_lock_acquire();
    hak_tiny_heap *h = abandoned;
    if (h) {
        abandoned = h->next_abandoned;
        h->next_abandoned = NULL;
        atomic_store(&h->abandoned, 0);
        HAK_COUNT(tiny_heap_adopt);
    } else {
        h = heap_new_locked();
    }
    hak_lock_release(&heaps_lock);
    if (!h)
        return NULL;
    for (unsigned c = 0; c < HAK_TINY_CLASSES; c++)
        t->room[c] = (int32_t)hak_tiny_limit[c]; /* the lists are empty at attach */
    t->heap = h;
    /* Set after t->heap: pthread_setspecific may allocate (keys >= 32), and that
     * allocation must find a heap. */
    if (exit_key_ok)
        pthread_setspecific(exit_key, h);
    return h;
}

/* With the heaps lock and a's lock held, abandoned heap a has no other user: we act as its
 * owner. */
static void tidy_abandoned_locked(hak_tiny_heap *a) {
    hak_tiny_process_ready(a);
    hak_tiny_release_empty(a);
}

/* The same, taking a's lock for it (the heaps lock held). */
static void tidy_abandoned(hak_tiny_heap *a) {
    hak_tiny_heap_lock(a);
    tidy_abandoned_locked(a);
    hak_tiny_heap_unlock(a);
}

/* Under h's lock (the calling thread's heap): every block of the thread's lists goes back
 * to its slab; room becomes what the lists may hold from then on. */
static void return_cached_locked(hak_tiny_cache *t, hak_tiny_heap *h, int exiting) {
    for (unsigned c = 0; c < HAK_TINY_CLASSES; c++) {
        void *p = t->head[c];
        t->head[c] = NULL;
        /* Exiting: no heap, so every free is remote until the next attach. */
        t->room[c] = exiting ? 0 : (int32_t)hak_tiny_limit[c];
        while (p) {
            void *next = *(void **)p;
            hak_tiny_return_block(h, hak_map_slab_lookup(p), p);
            p = next;
        }
    }
}

/* Thread exit: every cached block goes back to its slab, empty slabs to the provider, and
 * the heap (with the slabs that still have blocks out) waits for the next thread. */
static void heap_abandon(void *arg) {
    hak_tiny_heap *h = arg;
    hak_tiny_cache *t = &hak_tiny_tls;
    if (t->heap != h)
        return;
    hak_tiny_heap_lock(h);
    return_cached_locked(t, h, 1);
    hak_tiny_process_ready(h);
    for (unsigned c = 0; c < HAK_TINY_CLASSES; c++) {
        hak_slab *cur = h->cls[c].current;
        if (!cur)
            continue;
        h->cls[c].current = NULL;
        /* Decide before retiring: a retired slab may be unmapped or owned by another
         * thread the moment it is released (when the heap's lock is dropped). */
        if (cur->used == 0 && !hak_tiny_remote_busy(atomic_load(&cur->remote_free)))
            hak_tiny_slab_retire_if_empty(h, cur);
        else
            hak_tiny_partial_push(h, cur);
    }
    hak_tiny_release_empty(h);
    t->heap = NULL;
    hak_tiny_heap_unlock(h); /* before the heaps lock: see tiny/heap.h */
    heaps_lock_acquire();
    atomic_store(&h->abandoned, 1); /* seq_cst: see hak_tiny_free_remote */
    h->next_abandoned = abandoned;
    abandoned = h;
    /* A cross-thread free may have queued a slab after our last look and before the flag:
     * it saw the heap live and left the slab to us. Look once more, as its owner. */
    tidy_abandoned(h);
    hak_lock_release(&heaps_lock);
}


#define ADOPT_SCAN 8 /* abandoned heaps looked at per attempt */

/* Takes slab s from abandoned heap a for heap h (the calling thread's). Setting the queued
 * flag first (a CAS from neither flag nor blocks) makes every cross-thread free skip the
 * notification, so none of them reads the owner to notify it while it changes; then the
 * queue is taken with the flag cleared, with the blocks that arrived meanwhile, and from
 * then on frees queue s on h. A slab already queued on a is left to a. Free blocks carry
 * their owner's key (tiny/tiny.h): those on the slab's list and those taken off the queue
 * get h's. Until the take, a block freed in this window may carry a's key while the owner
 * is h already, and a second free of it in the same window compares with h's: the one
 * double free the key cannot see (the window is this function, under a's and h's locks). */
static int take_slab(hak_tiny_heap *a, hak_tiny_heap *h, hak_slab *s) {
    uintptr_t idle = atomic_load(&s->remote_free);
    if (hak_tiny_remote_busy(idle) ||
        !atomic_compare_exchange_strong(&s->remote_free, &idle, idle | HAK_TINY_REMOTE_QUEUED))
        return 0;
    hak_tiny_partial_remove(a, s);
    __atomic_store_n(&s->owner, h, __ATOMIC_RELAXED); /* published by the take below */
    void *p = s->local_free;
    for (unsigned i = 0; p && i < s->local_count; i++, p = *(void **)p)
        ((uintptr_t *)p)[1] = hak_tiny_free_key(h);
    hak_tiny_splice_remote(s, hak_tiny_remote_list(hak_tiny_remote_take(s, 0)));
    HAK_COUNT_HOT(tiny_refill_adopt);
    return 1;
}

hak_slab *hak_tiny_adopt_slab(hak_tiny_heap *h, unsigned cls) {
    if (!__atomic_load_n(&abandoned, __ATOMIC_RELAXED)) /* a hint; checked under the lock */
        return NULL;
    hak_slab *found = NULL;
    heaps_lock_acquire();
    unsigned scanned = 0;
    for (hak_tiny_heap *a = abandoned; a && !found && scanned < ADOPT_SCAN; a = a->next_abandoned) {
        scanned++;
        hak_tiny_heap_lock(a);
        tidy_abandoned_locked(a);
        for (hak_slab *s = a->cls[cls].partial; s; s = s->next) {
            if (take_slab(a, h, s)) {
                found = s;
                break;
            }
        }
        hak_tiny_heap_unlock(a);
    }
    hak_lock_release(&heaps_lock);
    return found;
}

size_t hak_tiny_heaps_purge(hak_purge_req *req) {
    hak_tiny_cache *t = &hak_tiny_tls;
    hak_tiny_heap *mine = t->heap;
    /* Pressure or request: this thread's lists too (its blocks may keep whole slabs). */
    if (req->all && mine) {
        hak_tiny_heap_lock(mine);
        return_cached_locked(t, mine, 0);
        hak_tiny_process_ready(mine);
        /* A class's current slab with no block out goes too (the next refill takes
         * another): it may be what keeps a SuperSlab, or the region's end, in use. */
        for (unsigned c = 0; c < HAK_TINY_CLASSES; c++) {
            hak_slab *cur = mine->cls[c].current;
            if (cur && cur->used == 0 &&
                !hak_tiny_remote_busy(atomic_load(&cur->remote_free))) {
                mine->cls[c].current = NULL;
                hak_tiny_slab_retire_if_empty(mine, cur);
            }
        }
        hak_tiny_release_empty(mine);
        hak_tiny_heap_unlock(mine);
    }
    int64_t delay = hak_option(HAK_OPT_TINY_PURGE_MS);
    if (!req->all && ((req->cause == HAK_PURGE_TIME && delay < 0) ||
                      (req->cause == HAK_PURGE_CAP && req->excess == 0)))
        return 0; /* the clock is off; or the rooms above covered the budget's excess */
    heaps_lock_acquire();
    for (hak_tiny_heap *h = all_heaps; h; h = h->next_all) {
        if (atomic_load(&h->abandoned)) {
            /* Nobody else uses it: waiting for its lock is allowed. */
            if (h->empty || atomic_load_explicit(&h->ready, memory_order_relaxed))
                tidy_abandoned(h);
            continue;
        }
        if (!h->empty)
            continue; /* a hint; checked again under its lock */
        /* A live heap: only tried (tiny/heap.h); a busy one is looked at next time. */
        if (!hak_tiny_heap_trylock(h))
            continue;
        if (req->all || req->cause == HAK_PURGE_CAP ||
            hak_purge_due(req->now, h->empty_since, delay))
            hak_tiny_release_empty(h);
        hak_tiny_heap_unlock(h);
    }
    hak_lock_release(&heaps_lock);
    return 0; /* the provider counts what it gives back */
}

void hak_tiny_heaps_init(void) {
    exit_key_ok = pthread_key_create(&exit_key, heap_abandon) == 0;
}

/* The forking thread's own heap lock first (a drainer may be at work on it; the child
 * must find it whole), then the heaps lock: the order of a refill. Other heaps' locks are
 * not taken (their owners may wait for the heaps lock while holding them); in the child
 * they are reset, as any lock of a thread that is gone. A drainer that dropped the lock
 * and is giving the slabs it retired to the provider is another thread: in the child
 * those slabs are in no list, lost to it (at most the slabs one drain emptied). */
void hak_tiny_heaps_fork_prepare(void) {
    hak_tiny_heap *mine = hak_tiny_tls.heap;
    if (mine)
        hak_tiny_heap_lock(mine);
    hak_lock_acquire(&heaps_lock); /* raw: registering a counter shard may allocate */
}

void hak_tiny_heaps_fork_parent(void) {
    hak_lock_release(&heaps_lock);
    hak_tiny_heap *mine = hak_tiny_tls.heap;
    if (mine)
        hak_tiny_heap_unlock(mine);
}

/* Only the forking thread lives on: the other threads' heaps become adoptable (their
 * cached blocks are gone with them). */
void hak_tiny_heaps_fork_child(void) {
    hak_lock_reset(&heaps_lock);
    hak_tiny_heap *mine = hak_tiny_tls.heap;
    for (hak_tiny_heap *h = all_heaps; h; h = h->next_all) {
        hak_lock_reset(&h->lock);
        if (h == mine || h->abandoned)
            continue;
        for (unsigned c = 0; c < HAK_TINY_CLASSES; c++) {
            hak_slab *cur = h->cls[c].current;
            if (cur) {
                h->cls[c].current = NULL;
                hak_tiny_partial_push(h, cur);
            }
        }
        h->abandoned = 1;
        h->next_abandoned = abandoned;
        abandoned = h;
    }
}

/* A live thread freed a block of an abandoned heap: it takes over every slab of that heap
 * (its later frees to them are owner frees, and it reuses their free blocks), rather than
 * waiting for a new thread to adopt the heap. */
void hak_tiny_adopt_abandoned(hak_tiny_heap *a) {
    hak_tiny_cache *t = &hak_tiny_tls;
    hak_tiny_heap *h = t->heap ? t->heap : hak_tiny_heap_attach(t);
    heaps_lock_acquire();
    if (atomic_load(&a->abandoned) && h && h != a) {
        hak_tiny_heap_lock(h); /* our own: see tiny/heap.h for the order */
        hak_tiny_heap_lock(a);
        tidy_abandoned_locked(a);
        for (unsigned c = 0; c < HAK_TINY_CLASSES; c++) {
            hak_slab *s = a->cls[c].partial;
            while (s) {
                hak_slab *next = s->next;
                if (take_slab(a, h, s))
                    hak_tiny_slab_settle(h, s);
                s = next;
            }
        }
        hak_tiny_heap_unlock(a);
        hak_tiny_heap_unlock(h);
    } else if (atomic_load(&a->abandoned)) {
        tidy_abandoned(a);
    }
    hak_lock_release(&heaps_lock);
}

void hak_tiny_drain_idle(hak_tiny_heap *h) {
    if (!hak_tiny_heap_trylock(h))
        return;
    HAK_COUNT(tiny_heap_drain);
    hak_tiny_process_ready(h);
    hak_tiny_heap_unlock(h);
}
