/* SuperSlabs: 2 MiB-aligned regions of 32 slabs of 64 KiB. Slab 0 holds the SuperSlab
 * header (only its first page is touched, three outside the region); slabs 1..31 are
 * handed out. The 32 descriptors of a SuperSlab in the region (superslab/region.c) lie in
 * the region's descriptor table, where the free path computes a slab's from p alone
 * (hak_superslab_slab_of); a SuperSlab mapped on its own keeps them in its header.
 *
 * A released slab stays dirty (its pages resident), and an acquire takes a dirty slab
 * before any other, so reusing costs no page fault. A free slab left unused for
 * tiny.purge_delay_ms (50 ms) gives its pages back with MADV_DONTNEED, which lowers RSS at
 * once: a program whose slab needs shrink stops holding them, while one that empties and
 * refills slabs quickly (a producer/consumer churn) reuses them before they age and does
 * not refault. Once more than DIRTY_MAX slabs are dirty, the older half of them become
 * lazy: MADV_FREE, which costs nothing if the slab is taken again soon (its pages are
 * still there, the next choice after a dirty slab) and lets the kernel take them under
 * pressure; they stay in RSS meanwhile, so they age like dirty slabs and go with
 * MADV_DONTNEED after the delay (jemalloc's dirty and muzzy pages are the model).
 * A SuperSlab whose 31 slabs are all free is kept mapped for tiny.unmap_delay_ms, and never
 * more than SS_RESERVE of them, so a program that frees everything and allocates again
 * does not map again; then it is unmapped, or decommitted when it lies in the region
 * (superslab/region.c), whose slot the next SuperSlab takes. The clock is core's purge
 * clock (core/purge.h): the scans run from a slab release or acquire and from its passes;
 * on pressure or request every dirty slab and every empty SuperSlab goes back at once. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "core/compiler.h"
#include "core/lock.h"
#include "core/map.h"
#include "core/options.h"
#include "core/os.h"
#include "core/purge.h"
#include "counters/counters.h"
#include "superslab/provider.h"
#include "superslab/region.h"

#define SS_ALL_FREE   (~(uint32_t)1)        /* slabs 1..31 */
#define SS_RESERVE    64                    /* fully empty SuperSlabs kept (128 MiB) */
#define DIRTY_MAX     64                    /* free slabs with resident pages (4 MiB) */

typedef union hak_slab_desc {
    hak_slab slab;
    unsigned char stride[(size_t)1 << HAK_SLAB_DESC_SHIFT];
} hak_slab_desc;

typedef struct hak_superslab {
    hak_slab_desc *desc;               /* its 32: in the region's table, else own_desc */
    struct hak_superslab *next, *prev; /* provider's list of SuperSlabs with a free slab */
    uint32_t free_mask;                /* bit i: slab i is free */
    uint32_t dirty_mask;               /* bit i: slab i is free and its pages resident */
    uint32_t lazy_mask;                /* bit i: slab i is free and MADV_FREE'd */
    uint32_t in_avail;
    uint64_t empty_since;              /* when its last slab came back (all free) */
    uint64_t dirty_ms[HAK_SLABS_PER_SS]; /* when slab i became free (hak_clock_ms) */
    hak_slab_desc own_desc[HAK_SLABS_PER_SS]; /* a SuperSlab outside the region */
} hak_superslab;

_Static_assert(sizeof(hak_superslab) <= HAK_SLAB_SIZE, "the header must fit in slab 0");

static hak_lock ss_lock = HAK_LOCK_INIT;
static hak_superslab *avail;  /* SuperSlabs with at least one free slab */
static size_t ss_empty;       /* mapped with every slab free */
static size_t ss_dirty;       /* free slabs with resident pages, no madvise yet */
static size_t ss_lazy;        /* free slabs MADV_FREE'd, not yet MADV_DONTNEED'd */
static uint64_t last_age_scan; /* hak_clock_ms of the last scan for aged dirty slabs */
static size_t shown_dirty, shown_empty; /* what the gauges show */

/* Under the lock: the gauges follow the counts (resident free slabs are retained bytes,
 * empty SuperSlabs kept address space). */
static void show_gauges_locked(void) {
    size_t kept = ss_dirty + ss_lazy;
    HAK_GAUGE_ADD(retained_slab_bytes, ((int64_t)kept - (int64_t)shown_dirty) *
                                           (int64_t)HAK_SLAB_SIZE);
    HAK_GAUGE_ADD(kept_superslab_bytes, ((int64_t)ss_empty - (int64_t)shown_empty) *
                                            (int64_t)HAK_SUPERSLAB_SIZE);
    shown_dirty = kept;
    shown_empty = ss_empty;
}

static void avail_push(hak_superslab *ss) {
    ss->prev = NULL;
    ss->next = avail;
    if (avail)
        avail->prev = ss;
    avail = ss;
    ss->in_avail = 1;
}

static void avail_remove(hak_superslab *ss) {
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        avail = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    ss->next = ss->prev = NULL;
    ss->in_avail = 0;
}

static hak_superslab *superslab_new(void) {
    hak_superslab *ss = hak_superslab_region_take();
    if (ss) {
        /* A reused slot reads zero unless its decommit was refused. own_desc stays
         * untouched: the descriptors are the table's. */
        memset(ss, 0, offsetof(hak_superslab, own_desc));
        ss->desc = (hak_slab_desc *)hak_superslab_slab_of(ss);
    } else {
        ss = hak_os_map_placed(HAK_SUPERSLAB_SIZE, HAK_SUPERSLAB_SIZE);
        if (!ss)
            return NULL;
        ss->desc = ss->own_desc;
    }
    ss->free_mask = SS_ALL_FREE;
    HAK_COUNT(superslab_new);
    return ss;
}

/* Takes the slabs of mask (dirty or lazy) off their lists and gives their pages back,
 * one madvise per run of adjacent slabs: with MADV_DONTNEED (they are clean then; returns
 * the bytes) or MADV_FREE (they become lazy; returns 0: their pages still count). */
static size_t reclaim_slabs_locked(hak_superslab *ss, uint32_t mask, int dontneed) {
    size_t dirty = (size_t)__builtin_popcount(mask & ss->dirty_mask);
    size_t lazy = (size_t)__builtin_popcount(mask & ss->lazy_mask);
    ss->dirty_mask &= ~mask;
    ss->lazy_mask &= ~mask;
    ss_dirty -= dirty;
    ss_lazy -= lazy;
    if (!dontneed) {
        ss->lazy_mask |= mask;
        ss_lazy += dirty + lazy;
    }
    for (uint32_t m = mask; m;) {
        unsigned first = (unsigned)__builtin_ctz(m);
        unsigned run = (unsigned)__builtin_ctz(~(m >> first));
        hak_os_reclaim((char *)ss + ((size_t)first << HAK_SLAB_SHIFT),
                       (size_t)run << HAK_SLAB_SHIFT, dontneed);
        m &= run >= 32 ? 0 : ~(((1u << run) - 1) << first);
    }
    return dontneed ? (dirty + lazy) << HAK_SLAB_SHIFT : 0;
}

/* Gives back the dirty slabs older than the purge delay. Runs from a slab release or
 * acquire at most twice per delay, so its walk over the SuperSlabs stays off the common
 * path, and from the purge clock's passes. */
static size_t purge_aged_locked(uint64_t now) {
    int64_t delay = hak_option(HAK_OPT_TINY_PURGE_MS);
    if (delay < 0 || ss_dirty + ss_lazy == 0 || now - last_age_scan < (uint64_t)delay / 2)
        return 0;
    last_age_scan = now;
    size_t bytes = 0;
    for (hak_superslab *ss = avail; ss && ss_dirty + ss_lazy; ss = ss->next) {
        uint32_t m = ss->dirty_mask | ss->lazy_mask, old = 0;
        while (m) {
            unsigned i = (unsigned)__builtin_ctz(m);
            m &= m - 1;
            if (hak_purge_due(now, ss->dirty_ms[i], delay))
                old |= 1u << i;
        }
        if (old)
            bytes += reclaim_slabs_locked(ss, old, 1);
    }
    return bytes;
}

hak_slab *hak_superslab_acquire(void) {
    hak_lock_acquire(&ss_lock);
    hak_purge_count(HAK_PURGE_TIME, purge_aged_locked(hak_clock_ms()));
    hak_superslab *ss = avail;
    if (!ss) {
        hak_lock_release(&ss_lock);
        hak_superslab *fresh = superslab_new(); /* the system call outside the lock */
        if (!fresh)
            return NULL;
        hak_lock_acquire(&ss_lock);
        ss_empty++;
        avail_push(fresh);
        ss = avail;
    }
    /* A dirty slab first, in whichever SuperSlab it is: its pages are resident, reusing it
     * costs no page fault, while a never-touched slab would add its pages to the
     * footprint; else a lazy one, whose pages are likely still there. */
    if ((ss_dirty || ss_lazy) && !(ss->dirty_mask | ss->lazy_mask))
        for (hak_superslab *x = ss->next; x; x = x->next)
            if (x->dirty_mask | x->lazy_mask) {
                ss = x;
                break;
            }
    if (ss->free_mask == SS_ALL_FREE)
        ss_empty--;
    uint32_t pick = ss->dirty_mask ? ss->dirty_mask : ss->lazy_mask ? ss->lazy_mask : ss->free_mask;
    unsigned i = (unsigned)__builtin_ctz(pick);
    if (ss->dirty_mask & (1u << i)) {
        ss->dirty_mask &= ~(1u << i);
        ss_dirty--;
    } else if (ss->lazy_mask & (1u << i)) {
        ss->lazy_mask &= ~(1u << i);
        ss_lazy--;
    }
    ss->free_mask &= ~(1u << i);
    if (ss->free_mask == 0)
        avail_remove(ss);
    show_gauges_locked();
    hak_lock_release(&ss_lock);

    hak_slab *s = &ss->desc[i].slab;
    memset(s, 0, sizeof *s);
    s->ss = ss;
    s->start = (char *)ss + ((size_t)i << HAK_SLAB_SHIFT);
    if (hak_map_slab_set(s->start, HAK_SLAB_SIZE, s) != 0) {
        hak_superslab_release(s);
        errno = ENOMEM;
        return NULL;
    }
    return s;
}

/* Gives every dirty and lazy slab back to the OS; returns the bytes. Under the lock: a slab
 * must not be handed out between the decision and the madvise (its new owner's data would
 * be dropped). */
static size_t purge_dirty_locked(void) {
    size_t bytes = 0;
    for (hak_superslab *ss = avail; ss && ss_dirty + ss_lazy; ss = ss->next)
        if (ss->dirty_mask | ss->lazy_mask)
            bytes += reclaim_slabs_locked(ss, ss->dirty_mask | ss->lazy_mask, 1);
    return bytes;
}

/* Over DIRTY_MAX: the oldest dirty slabs become lazy until DIRTY_MAX / 2 are left dirty (the
 * young ones are those a churning program takes again next). The walk sees at most
 * DIRTY_MAX + 1 slabs. */
static void lazy_oldest_dirty_locked(void) {
    uint64_t ages[DIRTY_MAX + 1];
    size_t n = 0;
    for (hak_superslab *ss = avail; ss && n <= DIRTY_MAX; ss = ss->next)
        for (uint32_t m = ss->dirty_mask; m && n <= DIRTY_MAX; m &= m - 1)
            ages[n++] = ss->dirty_ms[__builtin_ctz(m)];
    if (n <= DIRTY_MAX / 2)
        return;
    /* The time of the (n - DIRTY_MAX / 2)-th oldest: an insertion sort of 65 values. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && ages[j - 1] > ages[j]; j--) {
            uint64_t t = ages[j];
            ages[j] = ages[j - 1];
            ages[j - 1] = t;
        }
    uint64_t cutoff = ages[n - DIRTY_MAX / 2 - 1];
    for (hak_superslab *ss = avail; ss && ss_dirty > DIRTY_MAX / 2; ss = ss->next) {
        uint32_t old = 0;
        for (uint32_t m = ss->dirty_mask; m; m &= m - 1) {
            unsigned i = (unsigned)__builtin_ctz(m);
            if (ss->dirty_ms[i] <= cutoff)
                old |= 1u << i;
        }
        if (old)
            reclaim_slabs_locked(ss, old, 0);
    }
}

/* The budget (core/purge.h): the oldest dirty or lazy slabs go with MADV_DONTNEED until
 * `bytes` are covered; returns the bytes. A cap pass is rare and the slabs few (DIRTY_MAX
 * dirty ones, and the lazy ones younger than the purge delay): each round finds the oldest
 * by a walk. */
static size_t purge_oldest_locked(size_t bytes) {
    if (bytes >= (ss_dirty + ss_lazy) << HAK_SLAB_SHIFT)
        return purge_dirty_locked();
    size_t done = 0;
    while (done < bytes && ss_dirty + ss_lazy) {
        hak_superslab *oldest = NULL;
        unsigned at = 0;
        for (hak_superslab *ss = avail; ss; ss = ss->next)
            for (uint32_t m = ss->dirty_mask | ss->lazy_mask; m; m &= m - 1) {
                unsigned i = (unsigned)__builtin_ctz(m);
                if (!oldest || ss->dirty_ms[i] < oldest->dirty_ms[at]) {
                    oldest = ss;
                    at = i;
                }
            }
        if (!oldest)
            break;
        done += reclaim_slabs_locked(oldest, 1u << at, 1);
    }
    return done;
}

/* An empty SuperSlab out of the provider's books, given back to the OS with no lock held. */
static void superslab_give_back(hak_superslab *ss) {
    if (hak_superslab_region_has(ss))
        hak_superslab_region_give_back(ss);
    else
        hak_os_unmap(ss, HAK_SUPERSLAB_SIZE);
    HAK_COUNT(superslab_release);
}

/* Under the lock: takes an empty SuperSlab off the books (its dirty slabs count as given
 * back with it); returns the resident bytes it held. */
static size_t take_empty_locked(hak_superslab *ss) {
    avail_remove(ss);
    size_t dirty = (size_t)__builtin_popcount(ss->dirty_mask);
    size_t lazy = (size_t)__builtin_popcount(ss->lazy_mask);
    ss_dirty -= dirty;
    ss_lazy -= lazy;
    ss_empty--;
    return (dirty + lazy) << HAK_SLAB_SHIFT;
}

void hak_superslab_release(hak_slab *s) {
    hak_superslab *ss = s->ss;
    unsigned i = (unsigned)(((uintptr_t)s->start >> HAK_SLAB_SHIFT) & (HAK_SLABS_PER_SS - 1));
    /* A free of a pointer into this slab can still reach the descriptor by address (the
     * SuperSlab region): div_lim 0 fails its block-start check, and tiny/free.c reports it
     * as no allocated block. Set before the slab leaves the map. */
    s->div_lim = 0;
    hak_map_slab_set(s->start, HAK_SLAB_SIZE, NULL);

    hak_superslab *unmap = NULL;
    size_t aged = 0, capped = 0;
    hak_lock_acquire(&ss_lock);
    uint64_t now = hak_clock_ms();
    aged = purge_aged_locked(now);
    ss->free_mask |= 1u << i;
    ss->dirty_mask |= 1u << i;
    ss->dirty_ms[i] = now;
    ss_dirty++;
    if (!ss->in_avail)
        avail_push(ss);
    if (ss->free_mask == SS_ALL_FREE) {
        ss->empty_since = now;
        ss_empty++; /* its slabs are dirty: they age and are purged like any other */
        if (ss_empty > SS_RESERVE) {
            capped += take_empty_locked(ss);
            unmap = ss;
        }
    }
    if (ss_dirty > DIRTY_MAX)
        lazy_oldest_dirty_locked();
    show_gauges_locked();
    hak_lock_release(&ss_lock);
    hak_purge_count(HAK_PURGE_TIME, aged);
    hak_purge_count(HAK_PURGE_CAP, capped);
    if (unmap)
        superslab_give_back(unmap);
}

/* The purge hook (core/purge.h). The clock: aged dirty slabs, and empty SuperSlabs unused
 * for tiny.unmap_delay_ms. The budget: the oldest dirty and lazy slabs, as many as the
 * excess asks for. All: every dirty and lazy slab and every empty SuperSlab, and the region's unused end is unmapped (its
 * address space counts under RLIMIT_AS). */
size_t hak_superslab_purge(hak_purge_req *req) {
    enum { BATCH = 16 };
    hak_superslab *gone[BATCH];
    size_t total = 0;
    int more;
    do {
        size_t n = 0, resident = 0;
        hak_lock_acquire(&ss_lock);
        if (req->all)
            resident += purge_dirty_locked();
        else if (req->cause == HAK_PURGE_CAP)
            resident += req->excess ? purge_oldest_locked(req->excess) : 0;
        else
            resident += purge_aged_locked(req->now);
        int64_t delay = hak_option(HAK_OPT_TINY_UNMAP_MS);
        if (req->all || (req->cause == HAK_PURGE_TIME && delay >= 0)) {
            for (hak_superslab *ss = avail, *next; ss && n < BATCH; ss = next) {
                next = ss->next;
                if (ss->free_mask == SS_ALL_FREE &&
                    (req->all || hak_purge_due(req->now, ss->empty_since, delay))) {
                    resident += take_empty_locked(ss);
                    gone[n++] = ss;
                }
            }
        }
        show_gauges_locked();
        hak_lock_release(&ss_lock);
        for (size_t k = 0; k < n; k++)
            superslab_give_back(gone[k]);
        hak_purge_count(req->cause, resident);
        if (req->cause == HAK_PURGE_CAP)
            req->excess = resident < req->excess ? req->excess - resident : 0;
        total += resident + n * HAK_SUPERSLAB_SIZE;
        more = n == BATCH;
    } while (more);
    if (req->all)
        total += hak_superslab_region_shrink();
    return total;
}

void hak_superslab_lock_all(void) {
    hak_lock_acquire(&ss_lock);
    hak_superslab_region_lock();
}

void hak_superslab_unlock_all(void) {
    hak_superslab_region_unlock();
    hak_lock_release(&ss_lock);
}

void hak_superslab_reset_locks(void) {
    hak_lock_reset(&ss_lock);
    hak_superslab_region_reset_lock();
}
