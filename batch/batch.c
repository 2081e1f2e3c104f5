/* Batch room: deferred reclaim of freed large ranges.
 *
 * Why batch at all: munmap of a large block costs a system call, a TLB shootdown on every
 * CPU the process runs on, and page faults on the next allocation of the same size. Keeping
 * the range mapped and only handing its pages back with madvise lets the next large
 * allocation reuse the address range; doing the madvise for many ranges at once (like
 * jemalloc's purging of dirty extents) keeps the syscall count low when frees come in
 * bursts.
 *
 * A kept range is in one of three states:
 *   pending    freed, pages still resident (no madvise yet): the best ranges to reuse;
 *   flushing   taken out of every list by one thread that is calling madvise on it now,
 *              with the lock dropped; nobody else may touch it;
 *   reclaimed  madvise done: still mapped, reusable, its pages read zero (MADV_DONTNEED)
 *              or hold old data until the kernel takes them (MADV_FREE).
 * Each range carries the time it entered its state (the purge clock, core/purge.h). A
 * pending range unused for large.purge_delay_ms is reclaimed, a reclaimed one unused for
 * large.unmap_delay_ms more is unmapped (the purge hook, run by core's clock). Besides the
 * clock: every pending range is reclaimed at once when the pending ranges reach
 * batch.flush_ranges or batch.flush_bytes; the oldest pending go first when retention
 * passes its budget; the coldest reclaimed are unmapped when the address space kept passes
 * batch.max_bytes; everything goes on pressure or request.
 *
 * Bookkeeping: a fixed table of HAK_BATCH_SLOTS range descriptors (no malloc, zeroed BSS is
 * a valid empty state, so nothing needs initialising before the first add). Index 0 means
 * "none" in every link. Each used slot sits in
 *   - an order list: pending in add order (flush order), reclaimed in reclaim order (the
 *     head is the coldest: the eviction victim);
 *   - a size bin of its state (4 bins per power of two of the page count), so take scans a
 *     handful of bins instead of every range.
 *
 * Locking: one spin lock over all of it. Every critical section is a few list operations;
 * madvise and munmap run with the lock dropped (flushing ranges are private to their
 * flusher, victims of eviction are copied out first), so a flush of 64 MiB never blocks the
 * other threads' large allocations and frees. */
#include "batch/batch.h"

#include <stdatomic.h>
#include <stdint.h>

#include "batch/batch_tuning.h"
#include "core/compiler.h"
#include "core/components.h"
#include "core/lock.h"
#include "core/numa.h"
#include "core/options.h"
#include "core/os.h"
#include "core/purge.h"
#include "counters/counters.h"

/* ---- options ------------------------------------------------------------------------ */

/* The options; tests set values beyond their public range through hak_option_override. */
static size_t opt_flush_ranges(void) {
    int64_t v = hak_option(HAK_OPT_BATCH_FLUSH_RANGES);
    return v < 1 ? 1 : (size_t)v;
}

static size_t opt_flush_bytes(void) {
    int64_t v = hak_option(HAK_OPT_BATCH_FLUSH_BYTES);
    return v < 1 ? 1 : (size_t)v;
}

static size_t opt_max_bytes(void) {
    return (size_t)hak_option(HAK_OPT_BATCH_MAX_BYTES);
}

static int opt_dontneed(void) {
    return hak_option(HAK_OPT_BATCH_DONTNEED) != 0;
}

static int64_t opt_purge_ms(void) {
    return hak_option(HAK_OPT_LARGE_PURGE_MS);
}

static int64_t opt_unmap_ms(void) {
    return hak_option(HAK_OPT_LARGE_UNMAP_MS);
}

/* ---- the range table ---------------------------------------------------------------- */

enum { ST_FREE = 0, ST_PENDING, ST_RECLAIMED, ST_FLUSHING };
enum { BIN_PENDING = 0, BIN_RECLAIMED = 1 };

/* 4 bins per power of two of the page count: page counts up to 2^52 fit in 208 bins. */
#define NBINS 208
/* take splits a range when at least this much would be left over. */
#define SPLIT_MIN ((size_t)256 << 10)
/* Victims unmapped per round with the lock dropped: bounds the stack, not the work. */
#define VICTIMS 32

typedef struct range {
    char *base;
    size_t len;
    size_t resident;             /* pending: the bytes of it not given back yet (a union
                                    with a reclaimed neighbour holds fewer than len) */
    uint64_t since;              /* when it became pending (freed) or reclaimed */
    uint32_t prev, next;         /* order list, free list, or a flusher's private chain */
    uint32_t bin_prev, bin_next; /* size bin of the state */
    uint16_t bin;
    uint8_t state;
    uint8_t node; /* NUMA node of the thread that freed it */
} range;

typedef struct range_list {
    uint32_t head, tail;
} range_list;

typedef struct victim {
    char *base;
    size_t len;
} victim;

static hak_lock batch_lock = HAK_LOCK_INIT;
static range slots[HAK_BATCH_SLOTS]; /* slots[0] is never used: 0 is "none" */
static uint32_t slots_high;          /* slots 1..slots_high have been handed out once */
static uint32_t free_slots;          /* head of the free list (through .next) */
static uint32_t slots_tracked;
static range_list pending, reclaimed;
static uint32_t bins[2][NBINS];
static size_t pending_count;
/* Written under the lock, read without it by the accessors and take's empty check. */
static _Atomic size_t kept_bytes, pending_bytes_now;

/* The byte totals, and the gauges that show them (kept: address space; pending ranges'
 * length; their resident bytes are the gauge the purge budget counts). */
static void add_kept(size_t delta, int sign) {
    size_t v = atomic_load_explicit(&kept_bytes, memory_order_relaxed);
    atomic_store_explicit(&kept_bytes, sign > 0 ? v + delta : v - delta, memory_order_relaxed);
    HAK_GAUGE_ADD(kept_batch_bytes, sign > 0 ? (int64_t)delta : -(int64_t)delta);
}

static void add_pending(const range *r, int sign) {
    size_t v = atomic_load_explicit(&pending_bytes_now, memory_order_relaxed);
    atomic_store_explicit(&pending_bytes_now, sign > 0 ? v + r->len : v - r->len,
                          memory_order_relaxed);
    HAK_GAUGE_ADD(retained_batch_bytes, sign > 0 ? (int64_t)r->resident : -(int64_t)r->resident);
}

static uint32_t slot_alloc(void) {
    uint32_t i = free_slots;
    if (i) {
        free_slots = slots[i].next;
    } else if (slots_high < HAK_BATCH_SLOTS - 1) {
        i = ++slots_high;
    } else {
        return 0;
    }
    slots_tracked++;
    return i;
}

static void slot_free(uint32_t i) {
    slots[i].state = ST_FREE;
    slots[i].base = NULL;
    slots[i].len = 0;
    slots[i].next = free_slots;
    free_slots = i;
    slots_tracked--;
}

static void list_push_tail(range_list *l, uint32_t i) {
    slots[i].next = 0;
    slots[i].prev = l->tail;
    if (l->tail)
        slots[l->tail].next = i;
    else
        l->head = i;
    l->tail = i;
}

static void list_remove(range_list *l, uint32_t i) {
    uint32_t p = slots[i].prev, n = slots[i].next;
    if (p)
        slots[p].next = n;
    else
        l->head = n;
    if (n)
        slots[n].prev = p;
    else
        l->tail = p;
    slots[i].prev = slots[i].next = 0;
}

static unsigned page_shift(void) {
    return (unsigned)__builtin_ctzl(hak_os_page_size());
}

/* Monotonic in pages: every length of bin b is smaller than every length of bin b+1, so
 * take can stop at the first bin holding a fit. */
static unsigned bin_of_pages(size_t pages) {
    if (pages < 4)
        return (unsigned)pages;
    unsigned lg = 63u - (unsigned)__builtin_clzl(pages);
    unsigned b = 4 * (lg - 1) + (unsigned)((pages >> (lg - 2)) & 3);
    return b < NBINS ? b : NBINS - 1;
}

static void bin_insert(int which, uint32_t i) {
    range *r = &slots[i];
    r->bin = (uint16_t)bin_of_pages(r->len >> page_shift());
    uint32_t *head = &bins[which][r->bin];
    /* Newest first: among equal fits take returns the most recently freed range, whose
     * pages (pending) are the likeliest still in the caches. */
    r->bin_prev = 0;
    r->bin_next = *head;
    if (*head)
        slots[*head].bin_prev = i;
    *head = i;
}

static void bin_remove(int which, uint32_t i) {
    range *r = &slots[i];
    if (r->bin_prev)
        slots[r->bin_prev].bin_next = r->bin_next;
    else
        bins[which][r->bin] = r->bin_next;
    if (r->bin_next)
        slots[r->bin_next].bin_prev = r->bin_prev;
    r->bin_prev = r->bin_next = 0;
}

/* Takes a pending or reclaimed range out of every list and frees its slot. */
static void forget(uint32_t i) {
    range *r = &slots[i];
    if (r->state == ST_PENDING) {
        list_remove(&pending, i);
        bin_remove(BIN_PENDING, i);
        pending_count--;
        add_pending(r, -1);
    } else {
        list_remove(&reclaimed, i);
        bin_remove(BIN_RECLAIMED, i);
    }
    add_kept(r->len, -1);
    slot_free(i);
}

/* Lists a filled slot (base, len, node, state pending or reclaimed) and counts its bytes. */
static void relist(uint32_t t) {
    range *r = &slots[t];
    if (r->state == ST_PENDING) {
        list_push_tail(&pending, t);
        bin_insert(BIN_PENDING, t);
        pending_count++;
        add_pending(r, 1);
    } else {
        list_push_tail(&reclaimed, t);
        bin_insert(BIN_RECLAIMED, t);
    }
    add_kept(r->len, 1);
}

/* The cold-eviction rule: while more than cap bytes are kept, the oldest reclaimed ranges
 * leave (copied into v for unmapping once the lock is dropped). Returns how many. */
static size_t evict_over_cap(victim *v, size_t max, size_t cap) {
    size_t n = 0;
    while (n < max && atomic_load_explicit(&kept_bytes, memory_order_relaxed) > cap &&
           reclaimed.head) {
        uint32_t i = reclaimed.head;
        v[n].base = slots[i].base;
        v[n].len = slots[i].len;
        n++;
        forget(i);
    }
    return n;
}

static void unmap_victims(const victim *v, size_t n) {
    for (size_t k = 0; k < n; k++)
        hak_os_unmap(v[k].base, v[k].len);
}

/* Best fit among one state's ranges of at least size bytes, from bin blo up; node >= 0:
 * only ranges freed on that node. */
static uint32_t best_fit(int which, size_t size, unsigned blo, int node) {
    for (unsigned b = blo; b < NBINS; b++) {
        uint32_t best = 0;
        size_t best_len = 0;
        for (uint32_t i = bins[which][b]; i; i = slots[i].bin_next) {
            size_t len = slots[i].len;
            if (len < size || (best && len >= best_len) || (node >= 0 && slots[i].node != node))
                continue;
            best = i;
            best_len = len;
            if (len == size)
                return i;
        }
        if (best)
            return best;
    }
    return 0;
}

/* Under the lock: takes kept range i out and hands out its first size bytes, keeping the
 * tail (same state, same node) where it is when at least SPLIT_MIN would be left, else the
 * whole range. Returns the length handed out. */
static size_t take_head_locked(uint32_t i, size_t size) {
    range r = slots[i];
    forget(i);
    if (r.len - size < SPLIT_MIN)
        return r.len;
    uint32_t t = slot_alloc(); /* the slot just freed: cannot fail */
    slots[t].base = r.base + size;
    slots[t].len = r.len - size;
    /* Where the resident bytes of a partly reclaimed union lie is not known: a share. */
    slots[t].resident = r.resident == r.len ? r.len - size
                        : (size_t)((unsigned __int128)r.resident * (r.len - size) / r.len);
    slots[t].since = r.since;
    slots[t].node = r.node;
    slots[t].state = r.state;
    relist(t);
    return size;
}

/* ---- reclaim ------------------------------------------------------------------------ */

/* Unmaps the coldest reclaimed ranges while more than the cap is kept (the cap may have
 * been lowered at run time). */
static void enforce_cap(void) {
    victim v[VICTIMS];
    for (;;) {
        hak_lock_acquire(&batch_lock);
        size_t n = evict_over_cap(v, VICTIMS, opt_max_bytes());
        hak_lock_release(&batch_lock);
        unmap_victims(v, n);
        if (n < VICTIMS)
            return;
    }
}

/* Under the lock: takes pending range i out of its lists to the end of a flusher's private
 * chain (which keeps their order: they come back as reclaimed in it). */
static void detach_pending(uint32_t i, range_list *chain) {
    list_remove(&pending, i);
    bin_remove(BIN_PENDING, i);
    pending_count--;
    add_pending(&slots[i], -1);
    slots[i].state = ST_FLUSHING;
    list_push_tail(chain, i);
}

/* Which pending ranges a reclaim takes: every one (a flush), those unused for delay ms at
 * now (the clock), or the oldest until `bytes` are covered (the budget). */
typedef struct selection {
    int every;
    uint64_t now;
    int64_t delay;
    size_t bytes;
} selection;

/* Under the lock: detaches what sel selects, oldest first. */
static uint32_t select_pending(selection *sel) {
    range_list chain = {0, 0};
    for (uint32_t i = pending.head; i;) {
        uint32_t next = slots[i].next;
        if (sel->every || hak_purge_due(sel->now, slots[i].since, sel->delay)) {
            detach_pending(i, &chain);
        } else if (sel->bytes) {
            size_t r = slots[i].resident;
            sel->bytes = r < sel->bytes ? sel->bytes - r : 0;
            detach_pending(i, &chain);
        }
        i = next;
    }
    return chain.head;
}

/* Gives back the pages of the pending ranges sel selects; returns the bytes madvise took,
 * counted under cause. The chain is detached under the lock, the madvise calls run
 * unlocked (other threads keep adding and taking; none can see these ranges), then the
 * ranges come back as reclaimed, youngest at the tail, and the cap is enforced. */
static size_t reclaim(selection *sel, hak_purge_cause cause) {
    hak_lock_acquire(&batch_lock);
    uint32_t chain = select_pending(sel);
    hak_lock_release(&batch_lock);
    if (!chain) {
        enforce_cap();
        return 0;
    }
    /* The chain's links belong to this thread alone until the ranges are relisted. */
    int dontneed = opt_dontneed();
    size_t done = 0;
    for (uint32_t i = chain; i; i = slots[i].next)
        if (hak_os_reclaim(slots[i].base, slots[i].len, dontneed) == 0)
            done += slots[i].resident;
    HAK_COUNT(batch_flush);
    HAK_COUNT_ADD(batch_reclaimed_bytes, done);
    hak_purge_count(cause, done);

    /* A range madvise refused is still mapped and still ours: it is kept as reclaimed all
     * the same (its pages merely stay resident), never lost. */
    uint64_t now = hak_clock_ms();
    hak_lock_acquire(&batch_lock);
    for (uint32_t i = chain; i;) {
        uint32_t next = slots[i].next;
        slots[i].state = ST_RECLAIMED;
        slots[i].resident = 0;
        slots[i].since = now;
        list_push_tail(&reclaimed, i);
        bin_insert(BIN_RECLAIMED, i);
        i = next;
    }
    hak_lock_release(&batch_lock);
    enforce_cap();
    return done;
}

static size_t flush_pending(hak_purge_cause cause) {
    selection every = {1, 0, -1, 0};
    return reclaim(&every, cause);
}

/* Unmaps the reclaimed ranges unused for large.unmap_delay_ms (the coldest are at the head
 * of the list); returns the bytes unmapped. */
static size_t unmap_aged(uint64_t now) {
    int64_t delay = opt_unmap_ms();
    size_t total = 0;
    victim v[VICTIMS];
    for (;;) {
        size_t n = 0;
        hak_lock_acquire(&batch_lock);
        while (n < VICTIMS && reclaimed.head &&
               hak_purge_due(now, slots[reclaimed.head].since, delay)) {
            uint32_t i = reclaimed.head;
            v[n].base = slots[i].base;
            v[n].len = slots[i].len;
            n++;
            forget(i);
        }
        hak_lock_release(&batch_lock);
        unmap_victims(v, n);
        for (size_t k = 0; k < n; k++)
            total += v[k].len;
        if (n < VICTIMS)
            return total;
    }
}

/* ---- interface ---------------------------------------------------------------------- */

/* Under the lock: a kept range (pending or reclaimed) that ends at ends_at or starts at
 * starts_at (either may be NULL), or 0. It walks the ranges kept now, not every slot ever
 * used: after a burst of many small ranges the table's high-water mark stays high, and a
 * scan of it on every free cost a fifth of the time of a 33-100 KiB workload. */
static uint32_t find_kept(const char *ends_at, const char *starts_at) {
    for (int which = 0; which < 2; which++) {
        for (uint32_t k = (which ? reclaimed : pending).head; k; k = slots[k].next) {
            const range *q = &slots[k];
            if ((ends_at && q->base + q->len == ends_at) || (starts_at && q->base == starts_at))
                return k;
        }
    }
    return 0;
}

int hak_batch_add(void *base, size_t size) {
    return hak_batch_add_range(base, size, hak_clock_ms(), size);
}

int hak_batch_add_since(void *base, size_t size, uint64_t since) {
    return hak_batch_add_range(base, size, since, size);
}

int hak_batch_add_range(void *base, size_t size, uint64_t since, size_t resident) {
    size_t page = hak_os_page_size();
    /* madvise needs page-aligned ranges; anything else is not ours to keep. */
    if (!base || size == 0 || (((uintptr_t)base | size) & (page - 1)))
        return -1;
    size_t cap = opt_max_bytes();
    if (size > cap)
        return -1; /* the batch is off (cap 0), or this range alone would exceed the cap */

    victim v[VICTIMS];
    size_t n = 0;
    hak_lock_acquire(&batch_lock);
    uint32_t i = slot_alloc();
    if (!i && reclaimed.head) {
        /* Table full: the coldest reclaimed range is worth less than this fresh one. */
        uint32_t cold = reclaimed.head;
        v[n].base = slots[cold].base;
        v[n].len = slots[cold].len;
        n++;
        forget(cold);
        i = slot_alloc();
    }
    if (!i) {
        /* Every slot is pending or being flushed: nothing may be dropped, so refuse. */
        hak_lock_release(&batch_lock);
        unmap_victims(v, n);
        return -1;
    }
    /* Coalesce with kept neighbours, so ranges split by take grow back whole: a later
     * large request finds one range instead of pieces. The union is pending when a part of
     * it is (madvise on pages already reclaimed is harmless), reclaimed otherwise; its
     * resident bytes are those of its pending parts. */
    for (uint32_t k = find_kept(base, (char *)base + size); k;
         k = find_kept(base, (char *)base + size)) {
        range *q = &slots[k];
        char *lo = q->base < (char *)base ? q->base : (char *)base;
        size_t merged = size + q->len;
        if (q->state == ST_PENDING) {
            resident += q->resident;
            if (q->since > since)
                since = q->since; /* the union ages from its youngest part */
        }
        forget(k); /* its bytes come back with the union below */
        base = lo;
        size = merged;
        HAK_COUNT(batch_coalesce);
    }
    range *r = &slots[i];
    r->base = base;
    r->len = size;
    r->resident = resident;
    r->since = since;
    r->node = (uint8_t)hak_numa_current_node();
    r->state = resident ? ST_PENDING : ST_RECLAIMED;
    relist(i);
    int flush = pending_count >= opt_flush_ranges() ||
                atomic_load_explicit(&pending_bytes_now, memory_order_relaxed) >=
                    opt_flush_bytes();
    n += evict_over_cap(v + n, VICTIMS - n, cap);
    /* Still over the cap: the excess is pending, which is never unmapped; reclaiming it
     * makes it evictable (the flush enforces the cap again). */
    if (atomic_load_explicit(&kept_bytes, memory_order_relaxed) > cap)
        flush = 1;
    hak_lock_release(&batch_lock);

    HAK_COUNT(batch_add);
    unmap_victims(v, n);
    if (flush)
        flush_pending(HAK_PURGE_CAP);
    return 0;
}

void *hak_batch_take(size_t size, size_t *got) {
    if (got)
        *got = 0;
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    /* An empty batch (the common case for a program with few large blocks) costs no lock. */
    if (atomic_load_explicit(&kept_bytes, memory_order_relaxed) < size)
        return NULL;
    unsigned shift = page_shift();
    size_t page = (size_t)1 << shift;
    size = HAK_ALIGN_UP(size, page);
    unsigned blo = bin_of_pages(size >> shift);

    /* Under numa.mode=local, ranges of this node first; another node's only when nothing
     * else fits (counted). */
    int node = hak_numa_mode() == HAK_NUMA_LOCAL ? hak_numa_current_node() : -1;
    hak_lock_acquire(&batch_lock);
    /* Pending first: its pages are resident, reuse costs no page faults. */
    uint32_t i = best_fit(BIN_PENDING, size, blo, node);
    if (!i)
        i = best_fit(BIN_RECLAIMED, size, blo, node);
    if (!i && node >= 0) {
        i = best_fit(BIN_PENDING, size, blo, -1);
        if (!i)
            i = best_fit(BIN_RECLAIMED, size, blo, -1);
        if (i)
            hak_numa_count_remote_reuse();
    }
    if (!i) {
        hak_lock_release(&batch_lock);
        return NULL;
    }
    char *base = slots[i].base;
    size_t whole = slots[i].len;
    /* Much larger than asked: hand out the head, keep the tail for later. */
    size_t len = take_head_locked(i, size);
    if (len < whole)
        HAK_COUNT(batch_split);
    hak_lock_release(&batch_lock);

    HAK_COUNT(batch_reuse);
    if (got)
        *got = len;
    return base;
}

size_t hak_batch_take_at(void *addr, size_t size) {
    size_t page = hak_os_page_size();
    size = HAK_ALIGN_UP(size, page);
    if (size == 0 || atomic_load_explicit(&kept_bytes, memory_order_relaxed) < size)
        return 0;
    size_t taken = 0;
    hak_lock_acquire(&batch_lock);
    uint32_t i = find_kept(NULL, addr);
    if (i && slots[i].len >= size)
        taken = take_head_locked(i, size); /* its tail stays kept where it is */
    hak_lock_release(&batch_lock);
    if (taken)
        HAK_COUNT(batch_reuse);
    return taken;
}

void *hak_batch_take_largest(size_t *got, uint64_t *since, size_t *resident) {
    *got = 0;
    if (atomic_load_explicit(&kept_bytes, memory_order_relaxed) == 0)
        return NULL;
    hak_lock_acquire(&batch_lock);
    uint32_t best = 0;
    /* Pending first (resident pages are what is worth extending), else reclaimed. */
    for (int which = BIN_PENDING; which <= BIN_RECLAIMED && !best; which++) {
        for (int b = NBINS - 1; b >= 0 && !best; b--)
            for (uint32_t i = bins[which][b]; i; i = slots[i].bin_next)
                if (!best || slots[i].len > slots[best].len)
                    best = i; /* bins are ordered: the highest non-empty holds the largest */
    }
    char *base = NULL;
    if (best) {
        base = slots[best].base;
        *got = slots[best].len;
        *since = slots[best].since;
        *resident = slots[best].state == ST_PENDING ? slots[best].resident : 0;
        forget(best);
    }
    hak_lock_release(&batch_lock);
    if (base)
        HAK_COUNT(batch_reuse);
    return base;
}

size_t hak_batch_flush(void) {
    return flush_pending(HAK_PURGE_REQUEST);
}

size_t hak_batch_kept_bytes(void) {
    return atomic_load_explicit(&kept_bytes, memory_order_relaxed);
}

size_t hak_batch_pending_bytes(void) {
    return atomic_load_explicit(&pending_bytes_now, memory_order_relaxed);
}

size_t hak_batch_kept_ranges(void) {
    hak_lock_acquire(&batch_lock);
    size_t n = slots_tracked;
    hak_lock_release(&batch_lock);
    return n;
}

/* Unmaps every kept range; returns the bytes unmapped, and in *resident those of ranges
 * that were pending (their pages were still resident). */
static size_t release_all(size_t *resident) {
    size_t total = 0;
    *resident = 0;
    victim v[VICTIMS];
    for (;;) {
        size_t n = 0;
        hak_lock_acquire(&batch_lock);
        while (n < VICTIMS && (reclaimed.head || pending.head)) {
            uint32_t i = reclaimed.head ? reclaimed.head : pending.head;
            v[n].base = slots[i].base;
            v[n].len = slots[i].len;
            if (slots[i].state == ST_PENDING)
                *resident += slots[i].resident;
            n++;
            forget(i);
        }
        hak_lock_release(&batch_lock);
        unmap_victims(v, n);
        for (size_t k = 0; k < n; k++)
            total += v[k].len;
        if (n < VICTIMS)
            return total;
    }
}

size_t hak_batch_release_all(void) {
    size_t resident;
    return release_all(&resident);
}

/* The purge hook (core/purge.h). All: every kept range is unmapped, address space and
 * pages go back (under RLIMIT_AS the address space is what a retry needs). The clock:
 * pending ranges past large.purge_delay_ms are reclaimed, reclaimed ones past
 * large.unmap_delay_ms unmapped. The budget: the oldest pending ranges are reclaimed. */
static size_t batch_purge(hak_purge_req *req) {
    if (req->all) {
        size_t resident;
        size_t total = release_all(&resident);
        hak_purge_count(req->cause, resident);
        return total;
    }
    if (req->cause == HAK_PURGE_CAP) {
        selection oldest = {0, 0, -1, req->excess};
        size_t done = reclaim(&oldest, HAK_PURGE_CAP);
        req->excess = done < req->excess ? req->excess - done : 0;
        return done;
    }
    size_t done = 0;
    if (atomic_load_explicit(&pending_bytes_now, memory_order_relaxed) > 0) {
        selection aged = {0, req->now, opt_purge_ms(), 0};
        done = reclaim(&aged, HAK_PURGE_TIME);
    }
    if (atomic_load_explicit(&kept_bytes, memory_order_relaxed) > 0)
        done += unmap_aged(req->now);
    return done;
}

/* ---- fork --------------------------------------------------------------------------- */

static void batch_fork_prepare(void) {
    hak_lock_acquire(&batch_lock);
}

static void batch_fork_parent(void) {
    hak_lock_release(&batch_lock);
}

/* Only the forking thread lives on. Ranges another thread was flushing are still mapped in
 * the child (the madvise may or may not have run, which reclaimed allows): relist them as
 * reclaimed rather than leak them. Victims another thread had copied out for munmap are
 * simply gone from the books: unmapping them here could hit a mapping made since. */
static void batch_fork_child(void) {
    hak_lock_reset(&batch_lock);
    hak_lock_acquire(&batch_lock);
    for (uint32_t i = 1; i <= slots_high; i++) {
        if (slots[i].state != ST_FLUSHING)
            continue;
        slots[i].state = ST_RECLAIMED;
        slots[i].resident = 0;
        list_push_tail(&reclaimed, i);
        bin_insert(BIN_RECLAIMED, i);
    }
    hak_lock_release(&batch_lock);
}

const hak_component hak_component_batch = {
    .name = "batch",
    .fork_prepare = batch_fork_prepare,
    .fork_parent = batch_fork_parent,
    .fork_child = batch_fork_child,
    .purge = batch_purge,
};
