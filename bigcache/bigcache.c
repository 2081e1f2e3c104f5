/* BigCache room: freed large mappings kept whole for the call site that will ask again.
 *
 * Why: a program that frees and reallocates a large buffer in a loop (the VM scenario)
 * would pay mmap + page faults + munmap every iteration; handing the same mapping back
 * costs a hash lookup. Keying by (site, size class) rather than by size alone keeps one
 * site's buffers from being stolen by another site's sizes, the idea of the original
 * hakmem design. Evicted mappings are not unmapped but go to the batch (batch/batch.h),
 * which keeps them mapped for reuse by any size and reclaims their pages in batches.
 *
 * Data structures (all fixed, no malloc; zeroed BSS is the empty state, index 0 "none"):
 *   - an entry table of HAK_BIGCACHE_SLOTS descriptors;
 *   - HAK_BIGCACHE_BUCKETS hash buckets on hash(site, class), each a doubly linked chain
 *     under its own spin lock;
 *   - one LRU list of every entry in insertion order (head = least recently inserted), the
 *     free-slot list and the slot high-water mark, under lru_lock;
 *   - a lock-free stack of "dead" entries: taken by a hit but still linked in the LRU list.
 *
 * Locking. Order: lru_lock before any bucket lock; nobody holds two bucket locks.
 *   - A hit (get) takes only its bucket's lock: it unlinks the entry from the chain, marks
 *     it TAKEN and, after unlocking, pushes it on the dead stack with one CAS. It does not
 *     touch the LRU list, so gets of different sites never contend on a global lock.
 *   - put, eviction and clear take lru_lock, first drain the dead stack (unlinking those
 *     entries from the LRU list and freeing their slots: single consumer, pop-all with one
 *     exchange, so the stack has no ABA problem), then evict from the LRU head. Evicting an
 *     entry takes its bucket lock and skips it if a concurrent hit marked it TAKEN.
 *   - Evicted mappings are handed to the batch (or unmapped) after every lock is dropped.
 * The byte total is an atomic, charged with a compare-exchange that refuses to pass the
 * cap, so the shared cache and the thread slots together never hold more than the cap.
 *
 * Memory return (the purge hook, core/purge.h): an entry or slot block unused for
 * large.purge_delay_ms goes to the batch, which ages it from its free time and gives its
 * pages back in the same pass; over the retention budget the oldest go first; on pressure
 * or request everything goes.
 *
 * In front of the shared cache, each thread keeps the block it freed last in a slot of its
 * own (bigcache/thread_slot.c): a put goes there and moves the previous occupant to the
 * shared cache; a get looks there first. A thread that frees and allocates the same size
 * in a loop then pays two atomic exchanges and no lock per round. */
#include "bigcache/bigcache.h"

#include <stdatomic.h>
#include <stdint.h>

#include "batch/batch.h"
#include "bigcache/bigcache_tuning.h"
#include "bigcache/thread_slot.h"
#include "core/compiler.h"
#include "core/components.h"
#include "core/lock.h"
#include "core/numa.h"
#include "core/options.h"
#include "core/os.h"
#include "core/purge.h"
#include "counters/counters.h"

/* ---- options ------------------------------------------------------------------------ */

/* Option bigcache.max_bytes: hard cap; 0 turns the cache off. */
static size_t opt_max_bytes(void) {
    return (size_t)hak_option(HAK_OPT_BIGCACHE_MAX_BYTES);
}

/* ---- size classes ------------------------------------------------------------------- */

#define CLASS_MIN_STEP ((size_t)64 << 10)

size_t hak_bigcache_size_class(size_t size) {
    if (size > (size_t)1 << 62)
        return SIZE_MAX;
    if (size <= 4 * CLASS_MIN_STEP)
        return HAK_ALIGN_UP(size, CLASS_MIN_STEP);
    unsigned k = 63u - (unsigned)__builtin_clzl(size - 1); /* 2^k < size <= 2^(k+1) */
    size_t step = (size_t)1 << (k - 2);                     /* a quarter of 2^k */
    return HAK_ALIGN_UP(size, step);
}

/* ---- the entry table ---------------------------------------------------------------- */

enum { ST_FREE = 0, ST_CACHED, ST_TAKEN };

/* Evicted mappings released per round with the locks dropped. */
#define VICTIMS 32

typedef struct entry {
    char *base;
    size_t len;
    uintptr_t site;
    size_t cls;
    uint64_t since;             /* when it was freed (hak_clock_ms) */
    int node;                   /* NUMA node of the thread that freed it */
    uint32_t bprev, bnext;      /* bucket chain, under the bucket lock */
    uint32_t lru_prev, lru_next; /* LRU list or free list, under lru_lock */
    uint32_t dead_next;         /* dead stack */
    uint32_t bucket;
    uint32_t state; /* FREE->CACHED (lru+bucket), CACHED->TAKEN (bucket), CACHED->FREE
                       (lru+bucket), TAKEN->FREE (lru, once off the bucket) */
} entry;

typedef struct bucket {
    hak_lock lock;
    uint32_t head;
} __attribute__((aligned(64))) bucket; /* a line each: hits on different buckets share nothing */

typedef struct victim {
    char *base;
    size_t len;
    uint64_t since;
} victim;

static hak_lock lru_lock = HAK_LOCK_INIT;
static entry entries[HAK_BIGCACHE_SLOTS]; /* entries[0] unused: 0 is "none" */
static uint32_t entries_high, free_entries, lru_head, lru_tail, entries_used;
static bucket buckets[HAK_BIGCACHE_BUCKETS];
static _Atomic uint32_t dead_head;
static _Atomic size_t cached_bytes;

static uint32_t bucket_of(uintptr_t site, size_t cls) {
    /* Sites are return addresses (close together) and classes are round numbers: mix both
     * so neighbours spread over the buckets. */
    uint64_t h = (uint64_t)site ^ ((uint64_t)cls * 0x9e3779b97f4a7c15ull);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)(h & (HAK_BIGCACHE_BUCKETS - 1));
}

static int slot_available(void) {
    return free_entries != 0 || entries_high < HAK_BIGCACHE_SLOTS - 1;
}

static uint32_t slot_alloc(void) {
    uint32_t i = free_entries;
    if (i)
        free_entries = entries[i].lru_next;
    else if (entries_high < HAK_BIGCACHE_SLOTS - 1)
        i = ++entries_high;
    return i;
}

static void slot_free(uint32_t i) {
    entries[i].state = ST_FREE;
    entries[i].base = NULL;
    entries[i].lru_next = free_entries;
    free_entries = i;
}

static void lru_push_tail(uint32_t i) {
    entries[i].lru_next = 0;
    entries[i].lru_prev = lru_tail;
    if (lru_tail)
        entries[lru_tail].lru_next = i;
    else
        lru_head = i;
    lru_tail = i;
    entries_used++;
}

static void lru_remove(uint32_t i) {
    uint32_t p = entries[i].lru_prev, n = entries[i].lru_next;
    if (p)
        entries[p].lru_next = n;
    else
        lru_head = n;
    if (n)
        entries[n].lru_prev = p;
    else
        lru_tail = p;
    entries_used--;
}

static void chain_insert(bucket *b, uint32_t i) {
    entries[i].bprev = 0;
    entries[i].bnext = b->head;
    if (b->head)
        entries[b->head].bprev = i;
    b->head = i;
}

static void chain_remove(bucket *b, uint32_t i) {
    uint32_t p = entries[i].bprev, n = entries[i].bnext;
    if (p)
        entries[p].bnext = n;
    else
        b->head = n;
    if (n)
        entries[n].bprev = p;
    entries[i].bprev = entries[i].bnext = 0;
}

/* ---- the byte total ----------------------------------------------------------------- */

/* Adds size to the total if it stays within cap: a compare-exchange, so that puts to the
 * shared cache (under lru_lock) and to the thread slots (under no lock) never pass the cap
 * together, and a failed charge never makes another one fail. */
static int charge(size_t size, size_t cap) {
    size_t cur = atomic_load_explicit(&cached_bytes, memory_order_relaxed);
    do {
        if (cur > cap || size > cap - cur)
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(&cached_bytes, &cur, cur + size,
                                                    memory_order_relaxed, memory_order_relaxed));
    HAK_GAUGE_ADD(retained_bigcache_bytes, size);
    return 1;
}

static void uncharge(size_t size) {
    atomic_fetch_sub_explicit(&cached_bytes, size, memory_order_relaxed);
    HAK_GAUGE_ADD(retained_bigcache_bytes, -(int64_t)size);
}

static void dead_push(uint32_t i) {
    uint32_t h = atomic_load_explicit(&dead_head, memory_order_relaxed);
    do
        entries[i].dead_next = h;
    while (!atomic_compare_exchange_weak_explicit(&dead_head, &h, i, memory_order_release,
                                                  memory_order_relaxed));
}

/* Under lru_lock: the slots of entries taken by hits become free again. */
static void drain_dead(void) {
    uint32_t i = atomic_exchange_explicit(&dead_head, 0, memory_order_acquire);
    while (i) {
        uint32_t next = entries[i].dead_next;
        lru_remove(i);
        slot_free(i);
        i = next;
    }
}

/* Under lru_lock: removes the least recently inserted entry still cached and copies its
 * mapping into *v; with delay >= 0, only if it was freed at least delay ms before now.
 * 0 when nothing (due) is left to evict. */
static int evict_oldest(victim *v, uint64_t now, int64_t delay) {
    for (uint32_t i = lru_head; i; i = entries[i].lru_next) {
        bucket *b = &buckets[entries[i].bucket];
        hak_lock_acquire(&b->lock);
        if (entries[i].state != ST_CACHED) {
            hak_lock_release(&b->lock); /* a hit took it; it waits on the dead stack */
            continue;
        }
        if (delay >= 0 && !hak_purge_due(now, entries[i].since, delay)) {
            hak_lock_release(&b->lock); /* the oldest is young: so are those behind it */
            return 0;
        }
        chain_remove(b, i);
        entries[i].state = ST_FREE;
        uncharge(entries[i].len);
        hak_lock_release(&b->lock);
        v->base = entries[i].base;
        v->len = entries[i].len;
        v->since = entries[i].since;
        lru_remove(i);
        slot_free(i);
        return 1;
    }
    return 0;
}

/* With no lock held: evicted mappings stay mapped in the batch when it takes them, aging
 * from the time they were freed. */
static void release_victims(const victim *v, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (hak_batch_add_since(v[k].base, v[k].len, v[k].since) != 0)
            hak_os_unmap(v[k].base, v[k].len);
        HAK_COUNT(bigcache_evict);
    }
}

/* ---- the shared cache ----------------------------------------------------------------- */

/* Links [base, base+size) into the shared cache, evicting the oldest entries when it does
 * not fit. charged: its bytes are in the total already (a block leaving a thread slot);
 * on failure they are taken out. 0 when cached, -1 when refused. */
static int shared_put(char *base, size_t size, uintptr_t site, size_t cls, uint64_t since,
                      int charged, size_t cap) {
    uint32_t bk = bucket_of(site, cls);
    victim v[VICTIMS];
    for (;;) {
        size_t n = 0;
        int fits;
        hak_lock_acquire(&lru_lock);
        drain_dead();
        for (;;) {
            fits = slot_available() && (charged || charge(size, cap));
            if (fits || n == VICTIMS || !evict_oldest(&v[n], 0, -1))
                break;
            n++;
        }
        if (fits) {
            uint32_t i = slot_alloc();
            entry *e = &entries[i];
            e->base = base;
            e->len = size;
            e->site = site;
            e->cls = cls;
            e->since = since;
            e->node = hak_numa_current_node();
            e->bucket = bk;
            lru_push_tail(i);
            bucket *b = &buckets[bk];
            hak_lock_acquire(&b->lock);
            e->state = ST_CACHED;
            chain_insert(b, i);
            hak_lock_release(&b->lock);
        }
        hak_lock_release(&lru_lock);
        release_victims(v, n);
        if (fits)
            return 0;
        if (n < VICTIMS) {
            if (charged)
                uncharge(size);
            return -1; /* nothing left to evict: every entry is being taken right now */
        }
    }
}

/* ---- the thread slots ----------------------------------------------------------------- */

/* A slot holds at most this share of the cap, so that a few threads' slots never crowd
 * out the shared cache. */
#define SLOT_SHARE 8

/* A block out of a slot into the shared cache, else to the batch. charged: its bytes are
 * in the total already (another block took its place, or its thread exited); not so for
 * the block of a thread that did not survive a fork, whose bytes the child recounted. */
static void slot_block_home(const hak_bigcache_block *b, int charged) {
    if (shared_put(b->base, b->len, b->site, b->cls, b->since, charged, opt_max_bytes()) != 0)
        release_victims(&(victim){b->base, b->len, b->since}, 1);
}

static void slot_block_to_shared(const hak_bigcache_block *b) {
    slot_block_home(b, 1);
}

static void slot_block_adopt(const hak_bigcache_block *b) {
    slot_block_home(b, 0);
}

/* A block taken out of a slot by a clear or the clock: to the batch. */
static void slot_block_evict(const hak_bigcache_block *b) {
    uncharge(b->len);
    release_victims(&(victim){b->base, b->len, b->since}, 1);
}

/* ---- interface ---------------------------------------------------------------------- */

int hak_bigcache_put(void *base, size_t size, uintptr_t site) {
    size_t cap = opt_max_bytes();
    if (!base || size == 0 || size > cap)
        return -1; /* off (cap 0), or bigger than the whole cache may hold */
    size_t cls = hak_bigcache_size_class(size);
    uint64_t now = hak_clock_ms();
    if (size <= cap / SLOT_SHARE && charge(size, cap)) {
        hak_bigcache_block b = {base, size, site, cls, now}, old;
        if (hak_bigcache_slot_swap(&b, &old)) {
            HAK_COUNT(bigcache_insert);
            if (old.base)
                slot_block_to_shared(&old);
            return 0;
        }
        uncharge(size);
    }
    int rc = shared_put(base, size, site, cls, now, 0, cap);
    if (rc != 0 && hak_bigcache_bytes() > 0) {
        /* The table had nothing left to evict: the rest of the bytes are in thread slots.
         * They are older than this block, so they go first. */
        hak_bigcache_slot_drain_all(slot_block_evict);
        rc = shared_put(base, size, site, cls, now, 0, cap);
    }
    if (rc != 0)
        return -1;
    HAK_COUNT(bigcache_insert);
    return 0;
}

void *hak_bigcache_get(size_t size, uintptr_t site, size_t *got) {
    if (got)
        *got = 0;
    size_t cls = hak_bigcache_size_class(size);
    size_t len = 0;
    /* This thread's last freed block first: no lock. (Under numa.mode=local it is taken
     * without a node check: the thread freed it, so its pages are most likely local.) */
    char *base = size ? hak_bigcache_slot_take(size, site, cls, &len) : NULL;
    if (base) {
        uncharge(len);
        HAK_COUNT(bigcache_hit);
        if (got)
            *got = len;
        return base;
    }
    /* The slot's block is not what this thread asks for now: into the shared table, where
     * its own key finds it later, and where the mmap backend's evictions reach it (a slot
     * they could not reach would keep the most recently freed, still resident, block from
     * serving this request out of the batch). */
    hak_bigcache_block stale;
    if (hak_bigcache_slot_take_own(&stale))
        slot_block_to_shared(&stale);
    /* Cheap miss without a lock when the cache cannot hold a fit at all. */
    if (size == 0 || atomic_load_explicit(&cached_bytes, memory_order_relaxed) < size) {
        HAK_COUNT(bigcache_miss);
        return NULL;
    }
    bucket *b = &buckets[bucket_of(site, cls)];
    uint32_t found = 0, remote = 0;
    /* Under numa.mode=local a mapping freed on another node is taken only when nothing of
     * this node fits (and counted). */
    int node = hak_numa_mode() == HAK_NUMA_LOCAL ? hak_numa_current_node() : -1;
    hak_lock_acquire(&b->lock);
    for (uint32_t i = b->head; i; i = entries[i].bnext) {
        const entry *e = &entries[i];
        /* Same class is not enough: a class spans a range of lengths, and a shorter mapping
         * than asked for would be an overflow. */
        if (e->site == site && e->cls == cls && e->len >= size) {
            if (node >= 0 && e->node != node) {
                if (!remote)
                    remote = i;
                continue;
            }
            found = i;
            break;
        }
    }
    if (!found && remote) {
        found = remote;
        hak_numa_count_remote_reuse();
    }
    if (found) {
        chain_remove(b, found);
        entries[found].state = ST_TAKEN;
        base = entries[found].base;
        len = entries[found].len;
        uncharge(len);
    }
    hak_lock_release(&b->lock);
    if (!found) {
        HAK_COUNT(bigcache_miss);
        return NULL;
    }
    dead_push(found);
    HAK_COUNT(bigcache_hit);
    if (got)
        *got = len;
    return base;
}

/* Evicts the least recently inserted entries until `bytes` went, or (delay >= 0) while the
 * oldest was freed at least delay ms before now. Returns the bytes evicted. */
static size_t evict_until(size_t bytes, uint64_t now, int64_t delay) {
    victim v[VICTIMS];
    size_t done = 0;
    for (;;) {
        size_t n = 0;
        hak_lock_acquire(&lru_lock);
        drain_dead();
        while (n < VICTIMS && done < bytes && evict_oldest(&v[n], now, delay))
            done += v[n++].len;
        hak_lock_release(&lru_lock);
        release_victims(v, n);
        if (n < VICTIMS || done >= bytes)
            return done;
    }
}

size_t hak_bigcache_evict(size_t bytes) {
    return evict_until(bytes, 0, -1);
}

void hak_bigcache_clear(void) {
    hak_bigcache_slot_drain_all(slot_block_evict);
    hak_bigcache_evict(SIZE_MAX);
}

/* The purge hook (core/purge.h): everything to the batch (all), what the clock finds unused
 * for large.purge_delay_ms, or the oldest while retention is over its budget. The batch,
 * the next room down, gives their pages back in the same pass. Returns 0: what moves to
 * the batch is still retained, and the batch counts what it gives back. */
static size_t bigcache_purge(hak_purge_req *req) {
    if (atomic_load_explicit(&cached_bytes, memory_order_relaxed) == 0)
        return 0;
    if (req->all) {
        hak_bigcache_clear();
    } else if (req->cause == HAK_PURGE_CAP) {
        /* The table's oldest first; the thread slots (the blocks freed last) if that was not
         * enough. */
        if (evict_until(req->excess, 0, -1) < req->excess)
            hak_bigcache_slot_drain_all(slot_block_evict);
    } else {
        int64_t delay = hak_option(HAK_OPT_LARGE_PURGE_MS);
        if (delay >= 0) {
            /* The table's entries are in insert order, and a block from a slot enters with
             * the time it was freed, a little older than those before it: evicting stops at
             * the first young entry, so such a block may wait one pass more. */
            hak_bigcache_slot_drain_aged(req->now, delay, slot_block_evict,
                                         slot_block_to_shared);
            evict_until(SIZE_MAX, req->now, delay);
        }
    }
    return 0;
}

size_t hak_bigcache_bytes(void) {
    return atomic_load_explicit(&cached_bytes, memory_order_relaxed);
}

size_t hak_bigcache_entries(void) {
    hak_lock_acquire(&lru_lock);
    drain_dead();
    size_t n = entries_used;
    hak_lock_release(&lru_lock);
    return n;
}

/* ---- fork --------------------------------------------------------------------------- */

static void bigcache_init(void) {
    hak_bigcache_slot_init(slot_block_to_shared);
}

static void bigcache_fork_prepare(void) {
    hak_bigcache_slot_fork_prepare();
    hak_lock_acquire(&lru_lock);
    for (unsigned k = 0; k < HAK_BIGCACHE_BUCKETS; k++)
        hak_lock_acquire(&buckets[k].lock);
}

static void bigcache_fork_parent(void) {
    for (unsigned k = HAK_BIGCACHE_BUCKETS; k-- > 0;)
        hak_lock_release(&buckets[k].lock);
    hak_lock_release(&lru_lock);
    hak_bigcache_slot_fork_parent();
}

/* Only the forking thread lives on. An entry a hit of another thread marked TAKEN but had
 * not pushed on the dead stack yet would hold its slot forever: once the stack is drained,
 * every TAKEN entry left in the LRU list is such an orphan (its mapping belongs to the
 * vanished thread's caller), so its slot is freed. Mappings another thread was handing to
 * the batch are gone from the books; that is a leak of address space in the child, never a
 * corruption. */
static void bigcache_fork_child(void) {
    hak_lock_reset(&lru_lock);
    for (unsigned k = 0; k < HAK_BIGCACHE_BUCKETS; k++)
        hak_lock_reset(&buckets[k].lock);
    drain_dead();
    for (uint32_t i = lru_head; i;) {
        uint32_t next = entries[i].lru_next;
        if (entries[i].state == ST_TAKEN) {
            lru_remove(i);
            slot_free(i);
        }
        i = next;
    }
    /* The byte total may count blocks a vanished thread was putting or taking (charged and
     * not linked yet, or taken and not uncharged yet): count it again from what the child
     * has. The other threads' slot blocks are charged as they are put, last. */
    size_t bytes = hak_bigcache_slot_own_len();
    for (uint32_t i = lru_head; i; i = entries[i].lru_next)
        bytes += entries[i].len;
    atomic_store(&cached_bytes, bytes);
    HAK_GAUGE_SET(retained_bigcache_bytes, bytes); /* a delta could carry a lost update */
    hak_bigcache_slot_fork_child(slot_block_adopt);
}

const hak_component hak_component_bigcache = {
    .name = "bigcache",
    .init = bigcache_init,
    .fork_prepare = bigcache_fork_prepare,
    .fork_parent = bigcache_fork_parent,
    .fork_child = bigcache_fork_child,
    .purge = bigcache_purge,
};
