/* SuperSlabs: 2 MiB-aligned regions of 32 slabs of 64 KiB. Slab 0 holds the SuperSlab
 * header (only its first page is touched, three outside the region); slabs 1..31 are
 * handed out. The 32 descriptors of a SuperSlab in the region (superslab/region.c) lie in
 * the region's descriptor table, where the free path computes a slab's from p alone
 * (hak_superslab_slab_of); a SuperSlab mapped on its own keeps them in its header.
 *
 * A released slab stays dirty (its pages resident), and an acquire takes a dirty slab
 * before any other, so reusing costs no page fault. A slab left dirty for
 * tiny.purge_delay_ms (50 ms) gives its pages back with MADV_DONTNEED, which lowers RSS at
 * once (MADV_FREE'd pages stay in RSS until the kernel is short of memory): a program whose
 * slab needs shrink stops holding them, while one that empties and refills slabs quickly
 * (a producer/consumer churn) reuses them before they age and does not refault. Once more
 * than DIRTY_MAX slabs are dirty, all of them are given back at once with MADV_FREE.
 * A SuperSlab whose 31 slabs are all free is kept mapped, up to SS_RESERVE of them, so a
 * program that frees everything and allocates again does not map again; beyond that it is
 * unmapped, or decommitted when it lies in the region (superslab/region.c), whose slot the
 * next SuperSlab takes. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "core/compiler.h"
#include "core/lock.h"
#include "core/map.h"
#include "core/options.h"
#include "core/os.h"
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
    uint32_t in_avail;
    uint32_t dirty_ms[HAK_SLABS_PER_SS]; /* when slab i became dirty (now_ms) */
    hak_slab_desc own_desc[HAK_SLABS_PER_SS]; /* a SuperSlab outside the region */
} hak_superslab;

_Static_assert(sizeof(hak_superslab) <= HAK_SLAB_SIZE, "the header must fit in slab 0");

static hak_lock ss_lock = HAK_LOCK_INIT;
static hak_superslab *avail;  /* SuperSlabs with at least one free slab */
static size_t ss_empty;       /* mapped with every slab free */
static size_t ss_dirty;       /* free slabs not yet given back to the OS */
static uint32_t last_age_scan; /* now_ms of the last scan for aged dirty slabs */

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

/* Takes the slabs of mask off the dirty list and gives their pages back, one call per run
 * of adjacent slabs. */
static void reclaim_slabs_locked(hak_superslab *ss, uint32_t mask, int dontneed) {
    ss->dirty_mask &= ~mask;
    ss_dirty -= (size_t)__builtin_popcount(mask);
    while (mask) {
        unsigned first = (unsigned)__builtin_ctz(mask);
        unsigned run = (unsigned)__builtin_ctz(~(mask >> first));
        hak_os_reclaim((char *)ss + ((size_t)first << HAK_SLAB_SHIFT),
                       (size_t)run << HAK_SLAB_SHIFT, dontneed);
        mask &= run >= 32 ? 0 : ~(((1u << run) - 1) << first);
    }
}

static uint32_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* a vDSO read; ms precision is plenty */
    return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Gives back, with MADV_DONTNEED, the dirty slabs older than the purge delay. Runs from a
 * slab release or acquire, at most twice per delay, so its walk over the SuperSlabs stays
 * off the common path. (A program that stops allocating keeps its dirty slabs: there is no
 * background thread.) */
static void purge_aged_locked(uint32_t now) {
    int64_t delay = hak_option(HAK_OPT_TINY_PURGE_MS);
    if (delay < 0 || ss_dirty == 0 || now - last_age_scan < (uint32_t)delay / 2)
        return;
    last_age_scan = now;
    for (hak_superslab *ss = avail; ss && ss_dirty; ss = ss->next) {
        uint32_t m = ss->dirty_mask, old = 0;
        while (m) {
            unsigned i = (unsigned)__builtin_ctz(m);
            m &= m - 1;
            if (now - ss->dirty_ms[i] >= (uint32_t)delay)
                old |= 1u << i;
        }
        if (old)
            reclaim_slabs_locked(ss, old, 1);
    }
}

hak_slab *hak_superslab_acquire(void) {
    hak_lock_acquire(&ss_lock);
    purge_aged_locked(now_ms());
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
     * footprint. */
    if (ss_dirty && !ss->dirty_mask)
        for (hak_superslab *x = ss->next; x; x = x->next)
            if (x->dirty_mask) {
                ss = x;
                break;
            }
    if (ss->free_mask == SS_ALL_FREE)
        ss_empty--;
    uint32_t pick = ss->dirty_mask ? ss->dirty_mask : ss->free_mask;
    unsigned i = (unsigned)__builtin_ctz(pick);
    if (ss->dirty_mask & (1u << i)) {
        ss->dirty_mask &= ~(1u << i);
        ss_dirty--;
    }
    ss->free_mask &= ~(1u << i);
    if (ss->free_mask == 0)
        avail_remove(ss);
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

/* Gives every dirty slab back to the OS. Under the lock: a slab must not be handed out
 * between the decision and the madvise (its new owner's data would be dropped). */
static void purge_dirty_locked(void) {
    for (hak_superslab *ss = avail; ss && ss_dirty; ss = ss->next)
        if (ss->dirty_mask)
            reclaim_slabs_locked(ss, ss->dirty_mask, 0);
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
    hak_lock_acquire(&ss_lock);
    uint32_t now = now_ms();
    purge_aged_locked(now);
    ss->free_mask |= 1u << i;
    ss->dirty_mask |= 1u << i;
    ss->dirty_ms[i] = now;
    ss_dirty++;
    if (!ss->in_avail)
        avail_push(ss);
    if (ss->free_mask == SS_ALL_FREE) {
        if (ss_empty >= SS_RESERVE) {
            avail_remove(ss);
            ss_dirty -= (size_t)__builtin_popcount(ss->dirty_mask);
            unmap = ss;
        } else {
            ss_empty++; /* its slabs are dirty: they age and are purged like any other */
        }
    }
    if (ss_dirty > DIRTY_MAX)
        purge_dirty_locked();
    hak_lock_release(&ss_lock);
    if (unmap) {
        if (hak_superslab_region_has(unmap))
            hak_superslab_region_give_back(unmap);
        else
            hak_os_unmap(unmap, HAK_SUPERSLAB_SIZE);
        HAK_COUNT(superslab_release);
    }
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
