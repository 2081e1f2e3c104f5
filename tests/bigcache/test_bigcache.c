/* BigCache room: hits by (site, size class), misses for any other key, the byte cap with
 * least-recently-inserted eviction into the batch, threads with integrity checks, fork.
 *
 * Every test starts from an empty cache and an empty, quiet batch. */
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch/batch.h"
#include "batch/batch_tuning.h"
#include "bigcache/bigcache.h"
#include "bigcache/bigcache_tuning.h"
#include "core/components.h"
#include "core/os.h"
#include "hakmem/hakmem.h"
#include "core/test_util.h"
#include "shim/hak_test.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define HUGE_LIMIT ((int64_t)1 << 40)

static const uintptr_t SITE_A = 0x401000, SITE_B = 0x402000;

static void reset(int64_t cap) {
    hak_batch_tuning quiet = {HUGE_LIMIT, HUGE_LIMIT, HUGE_LIMIT, 1};
    hak_batch_tune(&quiet);
    hak_option_override(HAK_OPT_LARGE_PURGE_MS, HAK_TEST_NEVER); /* the clock's own tests */
    hak_option_override(HAK_OPT_LARGE_UNMAP_MS, HAK_TEST_NEVER);
    hak_bigcache_tune_max_bytes(cap);
    hak_bigcache_clear();
    hak_batch_release_all();
}

HAK_TEST(BigCache, SizeClassesFollowTheDocumentedSteps) {
    HAK_EXPECT_EQ(hak_bigcache_size_class(1), 64 * KiB);
    HAK_EXPECT_EQ(hak_bigcache_size_class(64 * KiB), 64 * KiB);
    HAK_EXPECT_EQ(hak_bigcache_size_class(64 * KiB + 1), 128 * KiB);
    HAK_EXPECT_EQ(hak_bigcache_size_class(256 * KiB + 1), 320 * KiB);
    HAK_EXPECT_EQ(hak_bigcache_size_class(512 * KiB + 1), 640 * KiB);
    HAK_EXPECT_EQ(hak_bigcache_size_class(MiB), MiB);
    HAK_EXPECT_EQ(hak_bigcache_size_class(MiB + 1), MiB + MiB / 4);
    HAK_EXPECT_EQ(hak_bigcache_size_class(2 * MiB), 2 * MiB);
    HAK_EXPECT_EQ(hak_bigcache_size_class(5 * MiB - 1), 5 * MiB);
    HAK_EXPECT_EQ(hak_bigcache_size_class(8 * MiB + 1), 10 * MiB);
    HAK_EXPECT_EQ(hak_bigcache_size_class(SIZE_MAX), SIZE_MAX);
    /* Monotonic, never below the size, never more than 25% (or one 64 KiB step) above. */
    size_t prev = 0;
    for (size_t s = 4 * KiB; s < 64 * MiB; s += s / 7 + 4093) {
        size_t c = hak_bigcache_size_class(s);
        HAK_EXPECT(c >= s && c >= prev);
        HAK_EXPECT(c <= s + s / 4 || c - s < 64 * KiB);
        prev = c;
    }
}

HAK_TEST(BigCache, HitForTheSameSiteAndClass) {
    reset(-1);
    char *p = hak_os_map(2 * MiB);
    HAK_ASSERT(p != NULL);
    memset(p, 0x42, 2 * MiB);
    uint64_t inserts = hak_ctr("bigcache_insert"), hits = hak_ctr("bigcache_hit");
    HAK_ASSERT_EQ(hak_bigcache_put(p, 2 * MiB, SITE_A), 0);
    HAK_EXPECT_EQ(hak_ctr("bigcache_insert"), inserts + 1);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 2 * MiB);
    size_t got = 0;
    /* 1.9 MiB is in the 2 MiB class too. */
    char *q = hak_bigcache_get(2 * MiB - 100 * KiB, SITE_A, &got);
    HAK_ASSERT(q == p);
    HAK_EXPECT_EQ(got, 2 * MiB);
    HAK_EXPECT_EQ(hak_ctr("bigcache_hit"), hits + 1);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    HAK_EXPECT_EQ((unsigned char)q[2 * MiB - 1], 0x42); /* the mapping itself, untouched */
    /* Handed out once only. */
    HAK_EXPECT(hak_bigcache_get(2 * MiB, SITE_A, &got) == NULL);
    HAK_EXPECT_EQ(got, 0);
    hak_os_unmap(p, 2 * MiB);
}

HAK_TEST(BigCache, MissForAnotherSiteOrClass) {
    reset(-1);
    char *p = hak_os_map(2 * MiB);
    HAK_ASSERT(p != NULL);
    HAK_ASSERT_EQ(hak_bigcache_put(p, 2 * MiB, SITE_A), 0);
    uint64_t misses = hak_ctr("bigcache_miss"), hits = hak_ctr("bigcache_hit");
    size_t got = 0;
    HAK_EXPECT(hak_bigcache_get(2 * MiB, SITE_B, &got) == NULL);  /* other site */
    HAK_EXPECT(hak_bigcache_get(MiB, SITE_A, &got) == NULL);      /* smaller class */
    HAK_EXPECT(hak_bigcache_get(3 * MiB, SITE_A, &got) == NULL);  /* larger class */
    HAK_EXPECT_EQ(hak_ctr("bigcache_miss"), misses + 3);
    /* Many other sites: some share the entry's hash bucket, none may get it. */
    int stolen = 0;
    for (uintptr_t s = 1; s <= 2048; s++)
        stolen += hak_bigcache_get(2 * MiB, SITE_A + 16 * s, &got) != NULL;
    HAK_EXPECT_EQ(stolen, 0);
    HAK_EXPECT_EQ(hak_ctr("bigcache_hit"), hits);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 2 * MiB);
    HAK_EXPECT(hak_bigcache_get(2 * MiB, SITE_A, &got) == p);
    hak_os_unmap(p, 2 * MiB);
}

HAK_TEST(BigCache, SameClassButShorterMappingMisses) {
    reset(-1);
    /* 1.5 MiB + 4 KiB and 1.6 MiB are both in the 1.75 MiB class. */
    size_t len = MiB + MiB / 2 + 4 * KiB;
    char *p = hak_os_map(len);
    HAK_ASSERT(p != NULL);
    HAK_ASSERT_EQ(hak_bigcache_size_class(len), hak_bigcache_size_class(MiB + 600 * KiB));
    /* Another site's big entry, so that the cache holds more bytes than asked for. */
    char *other = hak_os_map(4 * MiB);
    HAK_ASSERT(other != NULL);
    HAK_ASSERT_EQ(hak_bigcache_put(other, 4 * MiB, SITE_B), 0);
    HAK_ASSERT_EQ(hak_bigcache_put(p, len, SITE_A), 0);
    size_t got = 0;
    HAK_EXPECT(hak_bigcache_get(MiB + 600 * KiB, SITE_A, &got) == NULL);
    HAK_EXPECT(hak_bigcache_get(MiB + MiB / 2 + 1, SITE_A, &got) == p);
    HAK_EXPECT_EQ(got, len);
    hak_os_unmap(p, len);
    HAK_EXPECT(hak_bigcache_get(4 * MiB, SITE_B, &got) == other);
    hak_os_unmap(other, 4 * MiB);
}

HAK_TEST(BigCache, CapEvictsLeastRecentlyInsertedIntoTheBatch) {
    reset(4 * MiB);
    char *r[7];
    for (int k = 0; k < 7; k++) {
        r[k] = hak_os_map(MiB);
        HAK_ASSERT(r[k] != NULL);
    }
    for (int k = 0; k < 4; k++)
        HAK_ASSERT_EQ(hak_bigcache_put(r[k], MiB, SITE_A + 16 * k), 0);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 4 * MiB);
    size_t got = 0;
    /* A hit frees room: B leaves by reuse, not eviction. */
    HAK_ASSERT(hak_bigcache_get(MiB, SITE_A + 16, &got) == r[1]);

    uint64_t evicts = hak_ctr("bigcache_evict"), batch_adds = hak_ctr("batch_add");
    HAK_ASSERT_EQ(hak_bigcache_put(r[4], MiB, SITE_A + 16 * 4), 0); /* fits: 4 MiB */
    HAK_EXPECT_EQ(hak_ctr("bigcache_evict"), evicts);
    HAK_ASSERT_EQ(hak_bigcache_put(r[5], MiB, SITE_A + 16 * 5), 0); /* evicts A */
    HAK_EXPECT_EQ(hak_ctr("bigcache_evict"), evicts + 1);
    HAK_EXPECT_EQ(hak_ctr("batch_add"), batch_adds + 1);
    HAK_ASSERT_EQ(hak_bigcache_put(r[6], MiB, SITE_A + 16 * 6), 0); /* evicts C (B is gone) */
    HAK_EXPECT_EQ(hak_ctr("bigcache_evict"), evicts + 2);
    HAK_EXPECT_EQ(hak_ctr("batch_add"), batch_adds + 2);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 4 * MiB);
    HAK_EXPECT_EQ(hak_bigcache_entries(), 4);

    HAK_EXPECT(hak_bigcache_get(MiB, SITE_A, &got) == NULL);
    HAK_EXPECT(hak_bigcache_get(MiB, SITE_A + 32, &got) == NULL);
    HAK_EXPECT(hak_bigcache_get(MiB, SITE_A + 48, &got) == r[3]);
    HAK_EXPECT(hak_bigcache_get(MiB, SITE_A + 64, &got) == r[4]);
    HAK_EXPECT(hak_bigcache_get(MiB, SITE_A + 80, &got) == r[5]);
    HAK_EXPECT(hak_bigcache_get(MiB, SITE_A + 96, &got) == r[6]);
    /* The evicted two sit in the batch, still mapped, in eviction order. */
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 2 * MiB);
    HAK_EXPECT_EQ(hak_range_mapped(r[0], MiB), 1);
    HAK_EXPECT_EQ(hak_range_mapped(r[2], MiB), 1);
    char *a = hak_batch_take(MiB, &got), *b = hak_batch_take(MiB, &got);
    HAK_EXPECT((a == r[0] && b == r[2]) || (a == r[2] && b == r[0]));
    for (int k = 0; k < 7; k++)
        hak_os_unmap(r[k], MiB);
}

HAK_TEST(BigCache, RefusesAboveTheCapOrWhenOff) {
    reset(4 * MiB);
    char *p = hak_os_map(8 * MiB);
    HAK_ASSERT(p != NULL);
    uint64_t inserts = hak_ctr("bigcache_insert");
    HAK_EXPECT_EQ(hak_bigcache_put(p, 8 * MiB, SITE_A), -1);
    HAK_EXPECT_EQ(hak_bigcache_put(NULL, MiB, SITE_A), -1);
    hak_bigcache_tune_max_bytes(0);
    HAK_EXPECT_EQ(hak_bigcache_put(p, MiB, SITE_A), -1);
    HAK_EXPECT_EQ(hak_ctr("bigcache_insert"), inserts);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    HAK_EXPECT_EQ(hak_range_mapped(p, 8 * MiB), 1);
    hak_os_unmap(p, 8 * MiB);
}

HAK_TEST(BigCache, EvictionIntoARefusingBatchUnmaps) {
    reset(MiB);
    hak_batch_tuning off = {HUGE_LIMIT, HUGE_LIMIT, 0, 1}; /* batch cap 0: it refuses */
    hak_batch_tune(&off);
    char *a = hak_os_map(MiB), *b = hak_os_map(MiB);
    HAK_ASSERT(a != NULL && b != NULL);
    HAK_ASSERT_EQ(hak_bigcache_put(a, MiB, SITE_A), 0);
    uint64_t unmaps = hak_ctr("os_munmap");
    HAK_ASSERT_EQ(hak_bigcache_put(b, MiB, SITE_B), 0);
    HAK_EXPECT_EQ(hak_ctr("os_munmap"), unmaps + 1);
    HAK_EXPECT_EQ(hak_range_mapped(a, MiB), 0);
    size_t got;
    HAK_EXPECT(hak_bigcache_get(MiB, SITE_B, &got) == b);
    hak_os_unmap(b, MiB);
}

HAK_TEST(BigCache, FullTableEvictsTheOldestEntry) {
    reset(HUGE_LIMIT);
    size_t page = hak_os_page_size();
    /* The table holds SLOTS - 1 entries (slot 0 is its "none") and this thread's slot one
     * more block, the last one put. */
    size_t n = HAK_BIGCACHE_SLOTS + 1;
    char *p = hak_os_map(n * page);
    HAK_ASSERT(p != NULL);
    uint64_t evicts = hak_ctr("bigcache_evict");
    for (size_t k = 0; k < n; k++)
        HAK_ASSERT_EQ(hak_bigcache_put(p + k * page, page, SITE_A + 16 * k), 0);
    /* The last put moved the one before it to the full table, which pushed out the first. */
    HAK_EXPECT_EQ(hak_ctr("bigcache_evict"), evicts + 1);
    HAK_EXPECT_EQ(hak_bigcache_entries(), n - 2);
    size_t got;
    /* The slot's block first: a miss moves it to the table (which would evict again). */
    HAK_EXPECT(hak_bigcache_get(page, SITE_A + 16 * (n - 1), &got) == p + (n - 1) * page);
    HAK_EXPECT(hak_bigcache_get(page, SITE_A, &got) == NULL);
    HAK_EXPECT(hak_bigcache_get(page, SITE_A + 16, &got) == p + page);
    HAK_EXPECT(hak_bigcache_get(page, SITE_A + 16 * (n - 2), &got) == p + (n - 2) * page);
    hak_bigcache_clear();
    HAK_EXPECT_EQ(hak_bigcache_entries(), 0);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    hak_batch_release_all();
    hak_os_unmap(p + page, page);
    hak_os_unmap(p + (n - 2) * page, 2 * page);
}

HAK_TEST(BigCache, ClearMovesEverythingToTheBatch) {
    reset(-1);
    char *r[3];
    uint64_t evicts = hak_ctr("bigcache_evict"), batch_adds = hak_ctr("batch_add");
    for (int k = 0; k < 3; k++) {
        r[k] = hak_os_map(2 * MiB);
        HAK_ASSERT(r[k] != NULL);
        HAK_ASSERT_EQ(hak_bigcache_put(r[k], 2 * MiB, SITE_A), 0); /* same key, 3 entries */
    }
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 6 * MiB);
    hak_bigcache_clear();
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    HAK_EXPECT_EQ(hak_bigcache_entries(), 0);
    HAK_EXPECT_EQ(hak_ctr("bigcache_evict"), evicts + 3);
    HAK_EXPECT_EQ(hak_ctr("batch_add"), batch_adds + 3);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 6 * MiB);
    size_t got;
    HAK_EXPECT(hak_bigcache_get(2 * MiB, SITE_A, &got) == NULL);
    HAK_EXPECT_EQ(hak_batch_release_all(), 6 * MiB);
}

/* ---- threads ------------------------------------------------------------------------- */

enum { THREADS = 4, HELD = 3 };
static _Atomic int thread_failures;

typedef struct workload {
    int rounds;
    int keys;            /* (site, size) pairs in use, shared by every thread */
} workload;
static workload current;

/* The tag a thread writes into every page of a block it holds. */
static uint64_t tag_of(uint64_t id, size_t off) {
    return (id << 48) ^ off ^ 0x5bd1e995;
}

static void give_back(char *p, size_t len, uintptr_t site) {
    if (hak_bigcache_put(p, len, site) != 0 && hak_batch_add(p, len) != 0)
        hak_os_unmap(p, len);
}

static void *cache_worker(void *arg) {
    uint64_t id = (uint64_t)(uintptr_t)arg;
    /* Sites are shared by every thread: blocks travel between threads. */
    static const uintptr_t sites[] = {0x500000, 0x500040, 0x500080};
    static const size_t sizes[] = {64 * KiB, 128 * KiB, 320 * KiB, MiB};
    size_t page = hak_os_page_size();
    char *held[HELD] = {0};
    size_t held_len[HELD] = {0};
    uintptr_t held_site[HELD] = {0};
    uint64_t seed = id * 0x9e3779b97f4a7c15ull + 7;
    for (int round = 0; round < current.rounds; round++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int slot = (int)((seed >> 33) % HELD);
        if (held[slot]) {
            /* Whoever else touched this block meanwhile broke the tags. */
            for (size_t off = 0; off < held_len[slot]; off += page)
                if (*(uint64_t *)(held[slot] + off) != tag_of(id, off))
                    atomic_fetch_add(&thread_failures, 1);
            give_back(held[slot], held_len[slot], held_site[slot]);
            held[slot] = NULL;
            continue;
        }
        unsigned key = (unsigned)((seed >> 40) % (unsigned)current.keys);
        uintptr_t site = sites[key % 3];
        size_t size = sizes[key / 3], got = 0;
        char *q = hak_bigcache_get(size, site, &got);
        if (!q)
            q = hak_batch_take(size, &got);
        if (q && got < size)
            atomic_fetch_add(&thread_failures, 1);
        if (!q) {
            q = hak_os_map(size);
            got = size;
        }
        if (!q) {
            atomic_fetch_add(&thread_failures, 1);
            continue;
        }
        for (size_t off = 0; off < got; off += page)
            *(uint64_t *)(q + off) = tag_of(id, off);
        held[slot] = q;
        held_len[slot] = got;
        held_site[slot] = site;
        if ((round & 7) == 0)
            sched_yield();
    }
    for (int k = 0; k < HELD; k++)
        if (held[k])
            give_back(held[k], held_len[k], held_site[k]);
    return NULL;
}

static int run_workers(workload w) {
    current = w;
    atomic_store(&thread_failures, 0);
    pthread_t t[THREADS];
    int started = 0;
    for (uintptr_t k = 0; k < THREADS; k++)
        started += pthread_create(&t[started], NULL, cache_worker, (void *)(k + 1)) == 0;
    for (int k = 0; k < started; k++)
        pthread_join(t[k], NULL);
    return started == THREADS ? atomic_load(&thread_failures) : -1;
}

HAK_TEST(BigCache, ConcurrentHitsNeverHandABlockToTwoThreads) {
    /* Few keys, a cache that holds them all, a quiet batch: after warm-up nearly every get
     * hits and no system call slows the threads down, so puts, gets and evictions of the
     * same buckets overlap as much as two cores allow. */
    reset(2 * MiB);
    uint64_t hits = hak_ctr("bigcache_hit"), evicts = hak_ctr("bigcache_evict");
    HAK_EXPECT_EQ(run_workers((workload){.rounds = 200000, .keys = 6}), 0);
    HAK_EXPECT(hak_ctr("bigcache_hit") > hits);
    HAK_EXPECT(hak_ctr("bigcache_evict") > evicts);
    HAK_EXPECT(hak_bigcache_bytes() <= 2 * MiB);
    hak_bigcache_clear();
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    HAK_EXPECT_EQ(hak_bigcache_entries(), 0);
    hak_batch_release_all();
}

HAK_TEST(BigCache, ConcurrentEvictionsIntoABusyBatchKeepBlocksPrivate) {
    /* A small cache and a batch that flushes (DONTNEED: a flush racing a user zeroes the
     * user's tags) and unmaps (a block unmapped under a user faults) all the time. */
    reset(3 * MiB);
    hak_batch_tuning busy = {8, 2 * MiB, 8 * MiB, 1};
    hak_batch_tune(&busy);
    uint64_t hits = hak_ctr("bigcache_hit"), evicts = hak_ctr("bigcache_evict");
    HAK_EXPECT_EQ(run_workers((workload){.rounds = 4000, .keys = 12}), 0);
    HAK_EXPECT(hak_ctr("bigcache_hit") > hits);
    HAK_EXPECT(hak_ctr("bigcache_evict") > evicts);
    HAK_EXPECT(hak_bigcache_bytes() <= 3 * MiB);
    hak_bigcache_clear();
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    hak_batch_release_all();
}

/* ---- the per-thread slot ------------------------------------------------------------- */

HAK_TEST(BigCache, SlotBlockCountsInTheBytesAndComesBackToItsThread) {
    reset(-1);
    char *p = hak_os_map(2 * MiB);
    HAK_ASSERT(p != NULL);
    uint64_t hits = hak_ctr("bigcache_hit");
    HAK_ASSERT_EQ(hak_bigcache_put(p, 2 * MiB, SITE_A), 0);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 2 * MiB);
    HAK_EXPECT_EQ(hak_bigcache_entries(), 0); /* in the slot, not the shared table */
    size_t got = 0;
    HAK_EXPECT(hak_bigcache_get(2 * MiB, SITE_A, &got) == p); /* straight from the slot */
    HAK_EXPECT_EQ(got, 2 * MiB);
    HAK_EXPECT_EQ(hak_ctr("bigcache_hit"), hits + 1);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    /* A request the slot cannot serve moves its block to the shared table, where its own
     * key still finds it. */
    HAK_ASSERT_EQ(hak_bigcache_put(p, 2 * MiB, SITE_A), 0);
    HAK_EXPECT(hak_bigcache_get(2 * MiB, SITE_B, &got) == NULL); /* another site */
    HAK_EXPECT_EQ(hak_bigcache_entries(), 1);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 2 * MiB);
    HAK_EXPECT(hak_bigcache_get(2 * MiB, SITE_A, &got) == p);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    hak_os_unmap(p, 2 * MiB);
}

typedef struct slot_job {
    char *block;
    _Atomic int stage; /* 1: block put; 2: the main thread is done, exit */
} slot_job;

static void *slot_owner(void *arg) {
    slot_job *job = arg;
    int rc = hak_bigcache_put(job->block, 2 * MiB, SITE_B);
    atomic_store(&job->stage, 1);
    while (atomic_load(&job->stage) != 2)
        sched_yield();
    return (void *)(intptr_t)rc;
}

/* Resets BigCache, maps a 2 MiB block and starts a thread that puts it in its own slot and
 * stays alive until stage 2; returns once the put is done. 0 when the thread runs. */
static int start_slot_owner(slot_job *job, pthread_t *t) {
    reset(-1);
    job->block = hak_os_map(2 * MiB);
    atomic_store(&job->stage, 0);
    if (!job->block || pthread_create(t, NULL, slot_owner, job) != 0)
        return -1;
    while (atomic_load(&job->stage) != 1)
        sched_yield();
    return 0;
}

/* Joins the slot owner: the status of its put (0: put). */
static intptr_t join_slot_owner(pthread_t t) {
    void *rc;
    pthread_join(t, &rc);
    return (intptr_t)rc;
}

/* A clear takes the block another thread's slot holds, while that thread lives. */
HAK_TEST(BigCache, ClearEmptiesTheSlotsOfOtherThreads) {
    slot_job job;
    pthread_t t;
    HAK_ASSERT_EQ(start_slot_owner(&job, &t), 0);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 2 * MiB);
    HAK_EXPECT_EQ(hak_bigcache_entries(), 0); /* in the thread's slot, not the table */
    size_t kept = hak_batch_kept_bytes();
    hak_bigcache_clear();
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), kept + 2 * MiB);
    atomic_store(&job.stage, 2);
    HAK_EXPECT_EQ(join_slot_owner(t), 0);
    hak_batch_release_all();
}

/* At thread exit the slot's block goes to the shared cache, where another thread of the
 * same site finds it. */
HAK_TEST(BigCache, ThreadExitHandsTheSlotBlockToTheSharedCache) {
    slot_job job;
    pthread_t t;
    HAK_ASSERT_EQ(start_slot_owner(&job, &t), 0);
    HAK_EXPECT_EQ(hak_bigcache_entries(), 0); /* in the thread's slot, not the table */
    atomic_store(&job.stage, 2);
    HAK_EXPECT_EQ(join_slot_owner(t), 0);
    HAK_EXPECT_EQ(hak_bigcache_entries(), 1);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 2 * MiB);
    size_t got = 0;
    HAK_EXPECT(hak_bigcache_get(2 * MiB, SITE_B, &got) == job.block);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    hak_os_unmap(job.block, 2 * MiB);
}

/* The cap holds for the slot and the table together: with room for one block, a second
 * put evicts the first, whichever of the two holds it. */
HAK_TEST(BigCache, CapCountsTheSlots) {
    reset(16 * MiB);
    char *a = hak_os_map(2 * MiB), *b = hak_os_map(16 * MiB);
    HAK_ASSERT(a != NULL && b != NULL);
    HAK_ASSERT_EQ(hak_bigcache_put(a, 2 * MiB, SITE_A), 0); /* slot: 2 MiB <= cap / 8 */
    uint64_t evicts = hak_ctr("bigcache_evict");
    HAK_ASSERT_EQ(hak_bigcache_put(b, 16 * MiB, SITE_A), 0); /* too big for a slot */
    HAK_EXPECT_EQ(hak_ctr("bigcache_evict"), evicts + 1);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 16 * MiB);
    hak_bigcache_clear();
    hak_batch_release_all();
}

/* ---- the purge clock ------------------------------------------------------------------ */

/* A time pass of BigCache, then of the batch (core runs the rooms top down), at time now. */
static void pass_at(uint64_t now) {
    hak_purge_req r = {HAK_PURGE_TIME, now, 0, 0};
    hak_component_bigcache.purge(&r);
    hak_component_batch.purge(&r);
}

static size_t resident(const char *p, size_t len) {
    unsigned char vec[1024];
    size_t page = hak_os_page_size(), n = 0;
    if (len / page > sizeof vec || mincore((void *)p, len, vec) != 0)
        return SIZE_MAX;
    for (size_t k = 0; k < len / page; k++)
        n += vec[k] & 1;
    return n;
}

/* A block unused for large.purge_delay_ms leaves BigCache, from the shared table and from
 * another thread's slot alike, and the batch gives its pages back in the same pass, since it
 * ages from the time the block was freed; a younger block stays cached. */
HAK_TEST(BigCache, ClockHandsAgedBlocksToTheBatchWhichPurgesThem) {
    slot_job job;
    pthread_t t;
    HAK_ASSERT_EQ(start_slot_owner(&job, &t), 0); /* job.block in another thread's slot */
    hak_option_override(HAK_OPT_LARGE_PURGE_MS, 100);
    hak_option_override(HAK_OPT_LARGE_UNMAP_MS, HAK_TEST_NEVER);
    char *shared = hak_os_map(4 * MiB), *young = hak_os_map(2 * MiB);
    HAK_ASSERT(shared != NULL && young != NULL);
    /* Written past the slot's record, which the block's first bytes hold while cached. */
    memset(job.block + 4096, 1, 2 * MiB - 4096);
    memset(shared, 2, 4 * MiB);
    memset(young, 3, 2 * MiB);
    HAK_ASSERT_EQ(hak_bigcache_put(shared, 4 * MiB, SITE_A), 0); /* 4 MiB: not a slot's */
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 6 * MiB);
    uint64_t t0 = hak_clock_ms();
    pass_at(t0); /* nothing is 100 ms old yet */
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 6 * MiB);
    pass_at(t0 + 150);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 0);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 6 * MiB);
    HAK_EXPECT_EQ(resident(job.block, 2 * MiB), 0);
    HAK_EXPECT_EQ(resident(shared, 4 * MiB), 0);
    /* Freed just now: cached until it too is 100 ms old. */
    HAK_ASSERT_EQ(hak_bigcache_put(young, 2 * MiB, SITE_A), 0);
    pass_at(hak_clock_ms());
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 2 * MiB);
    HAK_EXPECT_EQ(resident(young, 2 * MiB), 2 * MiB / hak_os_page_size());
    atomic_store(&job.stage, 2);
    HAK_EXPECT_EQ(join_slot_owner(t), 0);
    hak_option_override(HAK_OPT_LARGE_PURGE_MS, HAK_TEST_NEVER);
    hak_option_override(HAK_OPT_LARGE_UNMAP_MS, HAK_TEST_NEVER);
    hak_bigcache_clear();
    hak_batch_release_all();
}

/* Over the retention budget BigCache's oldest entries go first, then its slots. */
HAK_TEST(BigCache, BudgetEvictsTheOldestThenTheSlots) {
    reset(-1);
    char *a = hak_os_map(4 * MiB), *b = hak_os_map(4 * MiB), *c = hak_os_map(2 * MiB);
    HAK_ASSERT(a != NULL && b != NULL && c != NULL);
    HAK_ASSERT_EQ(hak_bigcache_put(a, 4 * MiB, SITE_A), 0);
    HAK_ASSERT_EQ(hak_bigcache_put(b, 4 * MiB, SITE_B), 0);
    HAK_ASSERT_EQ(hak_bigcache_put(c, 2 * MiB, SITE_A), 0); /* this thread's slot */
    hak_purge_req r = {HAK_PURGE_CAP, hak_clock_ms(), 0, 3 * MiB};
    hak_component_bigcache.purge(&r);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 6 * MiB); /* a went: 4 MiB cover the 3 asked */
    size_t got = 0;
    HAK_EXPECT(hak_bigcache_get(4 * MiB, SITE_A, &got) == NULL);
    r.excess = 5 * MiB;
    hak_component_bigcache.purge(&r);
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0); /* b, then the slot's c */
    hak_batch_release_all();
}

/* ---- fork ---------------------------------------------------------------------------- */

static int child_work(void) {
    alarm(20); /* a lock left held would hang the child: die instead */
    char *p = hak_os_map(2 * MiB);
    if (!p)
        return 2;
    if (hak_bigcache_put(p, 2 * MiB, SITE_B) != 0)
        return 3;
    size_t got = 0;
    if (hak_bigcache_get(2 * MiB, SITE_B, &got) != p || got != 2 * MiB)
        return 4;
    if (hak_bigcache_put(p, 2 * MiB, SITE_B) != 0)
        return 5;
    hak_bigcache_clear();
    if (hak_bigcache_bytes() != 0)
        return 6;
    hak_batch_release_all();
    return 0;
}

/* The handlers in isolation, in a child process so that a lock left held fails the test
 * (alarm) instead of hanging it: after prepare every lock is held, as in a fork child;
 * child must reset them, parent must release them. */
static int handlers_work(void) {
    alarm(20);
    hak_component_bigcache.fork_prepare();
    hak_component_bigcache.fork_child();
    char *p = hak_os_map(MiB);
    if (!p || hak_bigcache_put(p, MiB, SITE_A) != 0)
        return 2;
    hak_component_bigcache.fork_prepare();
    hak_component_bigcache.fork_parent();
    size_t got = 0;
    if (hak_bigcache_get(MiB, SITE_A, &got) != p)
        return 3;
    if (hak_bigcache_put(p, MiB, SITE_A) != 0) /* puts need the LRU lock too */
        return 4;
    hak_bigcache_clear();
    return 0;
}

HAK_TEST(BigCache, ForkHandlersResetTheLocks) {
    reset(-1);
    pid_t pid = fork();
    if (pid == 0)
        _exit(handlers_work());
    int status = 0;
    HAK_ASSERT(pid > 0 && waitpid(pid, &status, 0) == pid);
    HAK_EXPECT(WIFEXITED(status));
    HAK_EXPECT_EQ(WEXITSTATUS(status), 0);
}

static _Atomic int hammer_stop;

static void *hammer(void *arg) {
    (void)arg;
    while (!atomic_load(&hammer_stop)) {
        size_t got;
        char *q = hak_bigcache_get(256 * KiB, SITE_A, &got);
        if (!q) {
            q = hak_os_map(256 * KiB);
            got = 256 * KiB;
        }
        if (q)
            give_back(q, got, SITE_A);
    }
    return NULL;
}

HAK_TEST(BigCache, ChildOfThreadedParentCanUseTheCache) {
    /* hakmem's init (run by core's constructor already) registers the rooms' fork
     * handlers with pthread_atfork; make sure it ran. */
    hak_free(hak_malloc(100));
    reset(2 * MiB);
    atomic_store(&hammer_stop, 0);
    pthread_t t;
    HAK_ASSERT_EQ(pthread_create(&t, NULL, hammer, NULL), 0);
    int bad = hak_fork_children(20, child_work);
    atomic_store(&hammer_stop, 1);
    pthread_join(t, NULL);
    HAK_EXPECT_EQ(bad, 0);
    hak_bigcache_clear();
    hak_batch_release_all();
}

/* The clock drains thread slots while their owner frees and allocates the same size in a
 * loop: every block stays with one owner (the pattern each iteration writes is intact when
 * it comes back), and once cleared nothing stays charged. (An integrity guard: the race a
 * put-back into the slot had is too narrow for it to show reliably.) */
static _Atomic int drain_stop;

static void *slot_looper(void *arg) {
    (void)arg;
    int bad = 0;
    for (int i = 0; i < 100000 && !bad; i++) {
        size_t got = 0;
        char *b = hak_bigcache_get(2 * MiB, SITE_A, &got);
        if (!b)
            b = hak_batch_take(2 * MiB, &got); /* where the clock sent it */
        if (!b) {
            b = hak_os_map(2 * MiB);
            got = 2 * MiB;
        }
        if (!b)
            return (void *)1;
        /* Past the slot's record (the block's first bytes while it is cached). */
        memset(b + 4096, (unsigned char)i, 4096);
        for (int k = 0; k < 4096; k += 512)
            bad |= (unsigned char)b[4096 + k] != (unsigned char)i;
        if (hak_bigcache_put(b, got, SITE_A) != 0)
            hak_os_unmap(b, got);
    }
    atomic_store(&drain_stop, 1);
    return (void *)(intptr_t)bad;
}

HAK_TEST(BigCache, ClockDrainingSlotsWhileTheirOwnerLoopsLosesNothing) {
    reset(-1);
    hak_option_override(HAK_OPT_LARGE_PURGE_MS, 1);
    atomic_store(&drain_stop, 0);
    pthread_t t;
    HAK_ASSERT_EQ(pthread_create(&t, NULL, slot_looper, NULL), 0);
    uint64_t rounds = 0;
    while (!atomic_load(&drain_stop)) {
        /* Now and again a time far ahead (every block is due), else the present (most are
         * young): both ways through the drain. */
        uint64_t now = hak_clock_ms() + (rounds++ % 2 ? 10 : 0);
        hak_purge_req r = {HAK_PURGE_TIME, now, 0, 0};
        hak_component_bigcache.purge(&r);
    }
    void *bad = NULL;
    pthread_join(t, &bad);
    HAK_EXPECT(bad == NULL);
    hak_bigcache_clear();
    HAK_EXPECT_EQ(hak_bigcache_bytes(), 0);
    HAK_EXPECT_EQ(hak_ctr("retained_bigcache_bytes"), 0);
    hak_option_override(HAK_OPT_LARGE_PURGE_MS, HAK_TEST_NEVER);
    hak_batch_release_all();
}
