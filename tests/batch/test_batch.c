/* Batch room: deferred reclaim, reuse with the 2x fit rule, thresholds, cold eviction,
 * bookkeeping limits, threads and fork.
 *
 * Every test starts from an empty batch with its own thresholds (hak_batch_tune), so the
 * tests hold whether gtest runs them in one process or ctest runs each on its own. */
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
#include "core/components.h"
#include "core/os.h"
#include "hakmem/hakmem.h"
#include "core/test_util.h"
#include "shim/hak_test.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define HUGE_LIMIT ((int64_t)1 << 40)

/* An empty batch with the given knobs, and no purge clock (the clock has tests of its own,
 * which set its delays). */
static void reset(int64_t flush_ranges, int64_t flush_bytes, int64_t max_bytes,
                  int64_t dontneed) {
    hak_batch_tuning t = {flush_ranges, flush_bytes, max_bytes, dontneed};
    hak_batch_tune(&t);
    hak_option_override(HAK_OPT_LARGE_PURGE_MS, HAK_TEST_NEVER);
    hak_option_override(HAK_OPT_LARGE_UNMAP_MS, HAK_TEST_NEVER);
    hak_batch_flush();
    hak_batch_release_all();
}

/* Thresholds out of reach: nothing flushes unless asked. */
static void reset_quiet(int64_t dontneed) {
    reset(HUGE_LIMIT, HUGE_LIMIT, HUGE_LIMIT, dontneed);
}

/* A mapping that touches no other: the batch merges kept neighbours (hak_batch_add), and
 * the kernel places consecutive mappings side by side, so each gets a one-page hole after
 * it. */
static void *map_apart(size_t len) {
    size_t page = hak_os_page_size();
    char *p = hak_os_map(len + page);
    if (p)
        hak_os_unmap(p + len, page);
    return p;
}

static size_t resident_pages(const void *p, size_t len) {
    size_t page = hak_os_page_size();
    unsigned char vec[256];
    size_t count = 0;
    for (size_t off = 0; off < len; off += 256 * page) {
        size_t chunk = len - off < 256 * page ? len - off : 256 * page;
        if (mincore((char *)p + off, chunk, vec) != 0)
            return SIZE_MAX;
        for (size_t k = 0; k < chunk / page; k++)
            count += vec[k] & 1;
    }
    return count;
}

static void fill(void *p, size_t len, uint64_t tag) {
    uint64_t *w = p;
    for (size_t k = 0; k < len / 8; k++)
        w[k] = tag ^ k;
}

static int check_fill(const void *p, size_t len, uint64_t tag) {
    const uint64_t *w = p;
    for (size_t k = 0; k < len / 8; k++)
        if (w[k] != (tag ^ k))
            return 0;
    return 1;
}

static int all_zero(const void *p, size_t len) {
    const uint64_t *w = p;
    for (size_t k = 0; k < len / 8; k++)
        if (w[k])
            return 0;
    return 1;
}

HAK_TEST(Batch, AddTakeRoundTripKeepsPendingData) {
    reset_quiet(0);
    char *p = map_apart(MiB);
    HAK_ASSERT(p != NULL);
    fill(p, MiB, 0x1234);
    uint64_t adds = hak_ctr("batch_add"), reuse = hak_ctr("batch_reuse");
    uint64_t madv = hak_ctr("os_madvise_free") + hak_ctr("os_madvise_dontneed");

    HAK_ASSERT_EQ(hak_batch_add(p, MiB), 0);
    HAK_EXPECT_EQ(hak_ctr("batch_add"), adds + 1);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), MiB);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), MiB);

    size_t got = 0;
    char *q = hak_batch_take(MiB, &got);
    HAK_ASSERT(q == p);
    HAK_EXPECT_EQ(got, MiB);
    HAK_EXPECT_EQ(hak_ctr("batch_reuse"), reuse + 1);
    /* Pending means no madvise yet: the data is all there. */
    HAK_EXPECT(check_fill(q, MiB, 0x1234));
    HAK_EXPECT_EQ(hak_ctr("os_madvise_free") + hak_ctr("os_madvise_dontneed"), madv);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 0);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 0);
    /* Handed out means no longer kept: a second take finds nothing. */
    HAK_EXPECT(hak_batch_take(MiB, &got) == NULL);
    HAK_EXPECT_EQ(got, 0);
    hak_os_unmap(q, MiB);
}

HAK_TEST(Batch, FlushDontneedZeroesPagesAndKeepsTheRangeMapped) {
    reset_quiet(1);
    char *p = map_apart(MiB);
    HAK_ASSERT(p != NULL);
    memset(p, 0xab, MiB);
    HAK_ASSERT_EQ(resident_pages(p, MiB), MiB / hak_os_page_size());
    uint64_t flushes = hak_ctr("batch_flush"), bytes = hak_ctr("batch_reclaimed_bytes");
    uint64_t dontneed = hak_ctr("os_madvise_dontneed");

    HAK_ASSERT_EQ(hak_batch_add(p, MiB), 0);
    HAK_EXPECT_EQ(hak_batch_flush(), MiB);
    HAK_EXPECT_EQ(hak_ctr("batch_flush"), flushes + 1);
    HAK_EXPECT_EQ(hak_ctr("batch_reclaimed_bytes"), bytes + MiB);
    HAK_EXPECT_EQ(hak_ctr("os_madvise_dontneed"), dontneed + 1);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 0);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), MiB);
    /* Given back, yet still mapped: mincore succeeds and finds no resident page. */
    HAK_EXPECT_EQ(hak_range_mapped(p, MiB), 1);
    HAK_EXPECT_EQ(resident_pages(p, MiB), 0);
    /* A second flush has nothing to do. */
    HAK_EXPECT_EQ(hak_batch_flush(), 0);
    HAK_EXPECT_EQ(hak_ctr("batch_flush"), flushes + 1);

    size_t got = 0;
    char *q = hak_batch_take(MiB, &got);
    HAK_ASSERT(q == p);
    HAK_EXPECT_EQ(got, MiB);
    HAK_EXPECT(all_zero(q, MiB));
    memset(q, 0x5a, MiB); /* writable again */
    hak_os_unmap(q, MiB);
}

HAK_TEST(Batch, FlushFreeModeKeepsTheRangeMappedAndReusable) {
    reset_quiet(0);
    char *p = map_apart(MiB);
    HAK_ASSERT(p != NULL);
    memset(p, 0x11, MiB);
    uint64_t madv = hak_ctr("os_madvise_free") + hak_ctr("os_madvise_free_refused");
    HAK_ASSERT_EQ(hak_batch_add(p, MiB), 0);
    HAK_EXPECT_EQ(hak_batch_flush(), MiB);
    /* MADV_FREE was tried (the kernel may refuse it, then DONTNEED is used). */
    HAK_EXPECT_EQ(hak_ctr("os_madvise_free") + hak_ctr("os_madvise_free_refused"), madv + 1);
    HAK_EXPECT_EQ(hak_range_mapped(p, MiB), 1);
    size_t got = 0;
    char *q = hak_batch_take(MiB, &got);
    HAK_ASSERT(q == p);
    /* Old data or zeros, page by page: either is allowed, the read must not fault. */
    for (size_t off = 0; off < MiB; off += hak_os_page_size())
        HAK_EXPECT(q[off] == 0x11 || q[off] == 0);
    hak_os_unmap(q, MiB);
}

HAK_TEST(Batch, CountThresholdTriggersFlush) {
    reset(4, HUGE_LIMIT, HUGE_LIMIT, 1);
    size_t len = 64 * KiB, pages = len / hak_os_page_size();
    char *p[4];
    for (int k = 0; k < 4; k++) {
        p[k] = map_apart(len); /* apart: neighbours would merge into one range */
        HAK_ASSERT(p[k] != NULL);
        memset(p[k], 1, len);
    }
    uint64_t flushes = hak_ctr("batch_flush"), bytes = hak_ctr("batch_reclaimed_bytes");
    for (int k = 0; k < 3; k++)
        HAK_ASSERT_EQ(hak_batch_add(p[k], len), 0);
    HAK_EXPECT_EQ(hak_ctr("batch_flush"), flushes);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 3 * len);
    for (int k = 0; k < 3; k++)
        HAK_EXPECT_EQ(resident_pages(p[k], len), pages);

    HAK_ASSERT_EQ(hak_batch_add(p[3], len), 0); /* the 4th range */
    HAK_EXPECT_EQ(hak_ctr("batch_flush"), flushes + 1);
    HAK_EXPECT_EQ(hak_ctr("batch_reclaimed_bytes"), bytes + 4 * len);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 0);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 4 * len);
    for (int k = 0; k < 4; k++)
        HAK_EXPECT_EQ(resident_pages(p[k], len), 0);
    hak_batch_release_all();
}

HAK_TEST(Batch, ByteThresholdTriggersFlush) {
    reset(HUGE_LIMIT, 3 * MiB, HUGE_LIMIT, 1);
    char *p = map_apart(3 * MiB);
    HAK_ASSERT(p != NULL);
    uint64_t flushes = hak_ctr("batch_flush"), bytes = hak_ctr("batch_reclaimed_bytes");
    HAK_ASSERT_EQ(hak_batch_add(p, MiB), 0);
    HAK_ASSERT_EQ(hak_batch_add(p + MiB, MiB), 0);
    HAK_EXPECT_EQ(hak_ctr("batch_flush"), flushes);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 2 * MiB);
    HAK_ASSERT_EQ(hak_batch_add(p + 2 * MiB, MiB), 0); /* 3 MiB pending: flush */
    HAK_EXPECT_EQ(hak_ctr("batch_flush"), flushes + 1);
    HAK_EXPECT_EQ(hak_ctr("batch_reclaimed_bytes"), bytes + 3 * MiB);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 0);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 3 * MiB);
    hak_batch_release_all();
}

HAK_TEST(Batch, TakeIsBestFitAndKeepsTheRestOfALargerRange) {
    reset_quiet(0);
    size_t lens[4] = {1 * MiB, 5 * MiB, 3 * MiB, 4 * MiB};
    char *r[4];
    for (int k = 0; k < 4; k++) {
        r[k] = map_apart(lens[k]);
        HAK_ASSERT(r[k] != NULL);
        HAK_ASSERT_EQ(hak_batch_add(r[k], lens[k]), 0);
    }
    uint64_t splits = hak_ctr("batch_split");
    size_t got = 0, kept = hak_batch_kept_bytes();
    /* Best fit for 2.5 MiB is the 3 MiB range; the 512 KiB left over stays kept. */
    char *a = hak_batch_take(2 * MiB + MiB / 2, &got);
    HAK_EXPECT(a == r[2]);
    HAK_EXPECT_EQ(got, 2 * MiB + MiB / 2);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), kept - got);
    HAK_EXPECT_EQ(hak_ctr("batch_split"), splits + 1);
    /* 3 MiB: the 4 MiB range is the best fit (5 MiB is larger). */
    char *b = hak_batch_take(3 * MiB, &got);
    HAK_EXPECT(b == r[3]);
    HAK_EXPECT_EQ(got, 3 * MiB);
    /* The tail of a split range is a range like any other. */
    char *c = hak_batch_take(MiB / 2, &got);
    HAK_EXPECT(c == r[2] + 2 * MiB + MiB / 2);
    HAK_EXPECT_EQ(got, MiB / 2);
    /* Nothing kept is 6 MiB: no fit. */
    HAK_EXPECT(hak_batch_take(6 * MiB, &got) == NULL);
    HAK_EXPECT_EQ(got, 0);
    hak_batch_release_all();
    hak_os_unmap(a, 2 * MiB + MiB / 2);
    hak_os_unmap(b, 3 * MiB);
    hak_os_unmap(c, MiB / 2);
}

HAK_TEST(Batch, SmallLeftoversAreNotSplitOff) {
    reset_quiet(0);
    size_t len = MiB + 128 * KiB; /* 128 KiB over: below the 256 KiB worth keeping apart */
    char *p = map_apart(len);
    HAK_ASSERT(p != NULL);
    HAK_ASSERT_EQ(hak_batch_add(p, len), 0);
    size_t got = 0;
    HAK_EXPECT(hak_batch_take(MiB, &got) == p);
    HAK_EXPECT_EQ(got, len);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 0);
    hak_os_unmap(p, len);
}

HAK_TEST(Batch, NeighboursMergeIntoOneRange) {
    reset_quiet(0);
    char *p = map_apart(3 * MiB);
    HAK_ASSERT(p != NULL);
    uint64_t merges = hak_ctr("batch_coalesce");
    HAK_ASSERT_EQ(hak_batch_add(p, MiB), 0);
    HAK_ASSERT_EQ(hak_batch_add(p + 2 * MiB, MiB), 0);
    HAK_EXPECT_EQ(hak_ctr("batch_coalesce"), merges); /* not touching yet */
    HAK_ASSERT_EQ(hak_batch_add(p + MiB, MiB), 0);    /* joins both */
    HAK_EXPECT_EQ(hak_ctr("batch_coalesce"), merges + 2);
    size_t got = 0;
    HAK_EXPECT(hak_batch_take(3 * MiB, &got) == p);
    HAK_EXPECT_EQ(got, 3 * MiB);
    hak_os_unmap(p, 3 * MiB);
}

HAK_TEST(Batch, TakePrefersPendingRanges) {
    reset_quiet(1);
    char *cold = map_apart(2 * MiB);
    char *warm = map_apart(3 * MiB);
    HAK_ASSERT(cold != NULL && warm != NULL);
    HAK_ASSERT_EQ(hak_batch_add(cold, 2 * MiB), 0);
    hak_batch_flush(); /* cold is reclaimed: an exact fit, but its pages are gone */
    HAK_ASSERT_EQ(hak_batch_add(warm, 3 * MiB), 0);
    size_t got = 0;
    HAK_EXPECT(hak_batch_take(2 * MiB, &got) == warm); /* split: 1 MiB stays pending */
    HAK_EXPECT_EQ(got, 2 * MiB);
    HAK_EXPECT(hak_batch_take(2 * MiB, &got) == cold);
    HAK_EXPECT_EQ(got, 2 * MiB);
    hak_batch_release_all();
    hak_os_unmap(cold, 2 * MiB);
    hak_os_unmap(warm, 2 * MiB);
}

HAK_TEST(Batch, CapEvictsOnlyTheColdestReclaimed) {
    /* Every add flushes at once, so ranges become reclaimed in add order. */
    reset(1, HUGE_LIMIT, 3 * MiB, 1);
    char *r[4];
    for (int k = 0; k < 4; k++) {
        r[k] = map_apart(MiB);
        HAK_ASSERT(r[k] != NULL);
    }
    for (int k = 0; k < 3; k++)
        HAK_ASSERT_EQ(hak_batch_add(r[k], MiB), 0);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 3 * MiB);
    uint64_t unmaps = hak_ctr("os_munmap");
    HAK_ASSERT_EQ(hak_batch_add(r[3], MiB), 0); /* 4 MiB > cap: the oldest goes */
    HAK_EXPECT_EQ(hak_ctr("os_munmap"), unmaps + 1);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 3 * MiB);
    HAK_EXPECT_EQ(hak_range_mapped(r[0], MiB), 0);
    for (int k = 1; k < 4; k++)
        HAK_EXPECT_EQ(hak_range_mapped(r[k], MiB), 1);
    /* The three survivors come back, the evicted one never does. */
    int seen[4] = {0, 0, 0, 0};
    size_t got;
    for (int n = 0; n < 3; n++) {
        char *q = hak_batch_take(MiB, &got);
        for (int k = 0; k < 4; k++)
            seen[k] += q == r[k];
    }
    HAK_EXPECT(hak_batch_take(MiB, &got) == NULL);
    HAK_EXPECT_EQ(seen[0], 0);
    HAK_EXPECT(seen[1] == 1 && seen[2] == 1 && seen[3] == 1);
    for (int k = 1; k < 4; k++)
        hak_os_unmap(r[k], MiB);
}

HAK_TEST(Batch, CapReclaimsPendingExcessBeforeEvicting) {
    /* No threshold fires; only the cap does. Pending ranges are never unmapped as such:
     * they are reclaimed first, then the oldest goes. */
    reset(HUGE_LIMIT, HUGE_LIMIT, 2 * MiB, 1);
    char *r[3];
    for (int k = 0; k < 3; k++) {
        r[k] = map_apart(MiB);
        HAK_ASSERT(r[k] != NULL);
    }
    HAK_ASSERT_EQ(hak_batch_add(r[0], MiB), 0);
    HAK_ASSERT_EQ(hak_batch_add(r[1], MiB), 0);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 2 * MiB);
    uint64_t flushes = hak_ctr("batch_flush");
    HAK_ASSERT_EQ(hak_batch_add(r[2], MiB), 0);
    HAK_EXPECT_EQ(hak_ctr("batch_flush"), flushes + 1);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 2 * MiB);
    HAK_EXPECT_EQ(hak_range_mapped(r[0], MiB), 0);
    HAK_EXPECT_EQ(hak_range_mapped(r[1], MiB), 1);
    HAK_EXPECT_EQ(hak_range_mapped(r[2], MiB), 1);
    hak_batch_release_all();
    HAK_EXPECT_EQ(hak_range_mapped(r[1], MiB), 0);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 0);
}

HAK_TEST(Batch, RefusesWhatItCannotKeep) {
    reset_quiet(0);
    size_t page = hak_os_page_size();
    char *p = map_apart(4 * page);
    HAK_ASSERT(p != NULL);
    uint64_t adds = hak_ctr("batch_add");
    HAK_EXPECT_EQ(hak_batch_add(p + 1, page), -1);      /* not page-aligned */
    HAK_EXPECT_EQ(hak_batch_add(p, page + 1), -1);      /* not a page multiple */
    HAK_EXPECT_EQ(hak_batch_add(NULL, page), -1);
    HAK_EXPECT_EQ(hak_batch_add(p, 0), -1);
    reset(HUGE_LIMIT, HUGE_LIMIT, 2 * page, 0);
    HAK_EXPECT_EQ(hak_batch_add(p, 4 * page), -1);      /* alone above the cap */
    reset(HUGE_LIMIT, HUGE_LIMIT, 0, 0);
    HAK_EXPECT_EQ(hak_batch_add(p, page), -1);          /* cap 0: the batch is off */
    HAK_EXPECT_EQ(hak_ctr("batch_add"), adds);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 0);
    /* Refused ranges stayed the caller's: still mapped. */
    HAK_EXPECT_EQ(hak_range_mapped(p, 4 * page), 1);
    hak_os_unmap(p, 4 * page);
}

HAK_TEST(Batch, FullBookkeepingRefusesPendingAndEvictsColdest) {
    reset_quiet(1);
    size_t page = hak_os_page_size();
    size_t n = HAK_BATCH_SLOTS + 1;
    /* Every other page, so no two ranges touch (touching ranges merge into one). */
    char *p = map_apart(2 * n * page);
    HAK_ASSERT(p != NULL);
#define NTH(k) (p + 2 * (k) * page)
    size_t kept = 0;
    while (kept < n && hak_batch_add(NTH(kept), page) == 0)
        kept++;
    /* Slot 0 is the table's "none": one fewer than the table size. */
    HAK_EXPECT_EQ(kept, HAK_BATCH_SLOTS - 1);
    HAK_EXPECT_EQ(hak_batch_kept_ranges(), HAK_BATCH_SLOTS - 1);
    HAK_EXPECT_EQ(hak_range_mapped(NTH(kept), page), 1); /* refused: still the caller's */
    /* Once reclaimed, the coldest range may make room for a new one. */
    hak_batch_flush();
    HAK_EXPECT_EQ(hak_batch_add(NTH(kept), page), 0);
    HAK_EXPECT_EQ(hak_range_mapped(NTH(0), page), 0);
    HAK_EXPECT_EQ(hak_range_mapped(NTH(1), page), 1);
    HAK_EXPECT_EQ(hak_batch_kept_ranges(), HAK_BATCH_SLOTS - 1);
    HAK_EXPECT_EQ(hak_batch_release_all(), (HAK_BATCH_SLOTS - 1) * page);
    HAK_EXPECT_EQ(hak_batch_kept_ranges(), 0);
    hak_os_unmap(p, 2 * n * page); /* the holes, the range never added, and what was unmapped */
#undef NTH
}

/* ---- threads ------------------------------------------------------------------------- */

enum { THREADS = 4, ROUNDS = 3000, HELD = 4 };
static _Atomic int thread_failures;

static void *batch_worker(void *arg) {
    uint64_t id = (uint64_t)(uintptr_t)arg;
    static const size_t sizes[] = {64 * KiB, 96 * KiB, 192 * KiB, 256 * KiB};
    size_t page = hak_os_page_size();
    char *held[HELD] = {0};
    size_t held_len[HELD] = {0};
    uint64_t seed = id * 0x9e3779b97f4a7c15ull + 1;
    for (int round = 0; round < ROUNDS; round++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int slot = (int)((seed >> 33) % HELD);
        if (held[slot]) {
            /* Whatever happened meanwhile, the block must still hold this thread's tags. */
            for (size_t off = 0; off < held_len[slot]; off += page)
                if (*(uint64_t *)(held[slot] + off) != ((id << 48) | off))
                    atomic_fetch_add(&thread_failures, 1);
            if (hak_batch_add(held[slot], held_len[slot]) != 0)
                hak_os_unmap(held[slot], held_len[slot]);
            held[slot] = NULL;
            continue;
        }
        size_t size = sizes[(seed >> 40) % 4], got = 0;
        char *q = hak_batch_take(size, &got);
        /* A larger range is split unless under 256 KiB would be left over. */
        if (q && (got < size || got >= size + 256 * KiB))
            atomic_fetch_add(&thread_failures, 1);
        if (!q) {
            q = map_apart(size);
            got = size;
        }
        if (!q) {
            atomic_fetch_add(&thread_failures, 1);
            continue;
        }
        for (size_t off = 0; off < got; off += page)
            *(uint64_t *)(q + off) = (id << 48) | off;
        held[slot] = q;
        held_len[slot] = got;
        if ((round & 15) == 0)
            sched_yield();
    }
    for (int k = 0; k < HELD; k++)
        if (held[k] && hak_batch_add(held[k], held_len[k]) != 0)
            hak_os_unmap(held[k], held_len[k]);
    return NULL;
}

HAK_TEST(Batch, ConcurrentAddTakeNeverSharesARange) {
    /* Small thresholds and cap so that flushes (DONTNEED: a flush racing a user would zero
     * the user's tags) and cold evictions (a range unmapped under a user would fault) run
     * all the time. */
    reset(8, 1 * MiB, 4 * MiB, 1);
    atomic_store(&thread_failures, 0);
    uint64_t flushes = hak_ctr("batch_flush"), reuse = hak_ctr("batch_reuse");
    pthread_t t[THREADS];
    for (uintptr_t k = 0; k < THREADS; k++)
        HAK_ASSERT_EQ(pthread_create(&t[k], NULL, batch_worker, (void *)(k + 1)), 0);
    for (int k = 0; k < THREADS; k++)
        pthread_join(t[k], NULL);
    HAK_EXPECT_EQ(atomic_load(&thread_failures), 0);
    HAK_EXPECT(hak_ctr("batch_flush") > flushes);
    HAK_EXPECT(hak_ctr("batch_reuse") > reuse);
    HAK_EXPECT(hak_batch_kept_bytes() <= 4 * MiB);
    hak_batch_release_all();
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 0);
}

/* ---- fork ---------------------------------------------------------------------------- */

/* Work a child does after fork; 0 when the room behaved. */
static int child_work(void) {
    alarm(20); /* a lock left held would hang the child: die instead */
    reset(2, HUGE_LIMIT, HUGE_LIMIT, 1);
    char *p = map_apart(MiB), *p2 = map_apart(MiB); /* apart: two ranges, not one */
    if (!p || !p2)
        return 2;
    memset(p, 7, MiB);
    memset(p2, 7, MiB);
    if (hak_batch_add(p, MiB) != 0 || hak_batch_add(p2, MiB) != 0)
        return 3;
    if (hak_batch_pending_bytes() != 0) /* the 2-range threshold flushed */
        return 4;
    size_t got = 0;
    char *q = hak_batch_take(MiB, &got);
    if (!q || got != MiB || !all_zero(q, MiB))
        return 5;
    hak_batch_release_all();
    return 0;
}

/* The handlers in isolation, in a child process so that a lock left held fails the test
 * (alarm) instead of hanging it: after prepare the lock is held, as in a fork child; child
 * must reset it, parent must release it. */
static int handlers_work(void) {
    alarm(20);
    hak_component_batch.fork_prepare();
    hak_component_batch.fork_child();
    char *p = map_apart(MiB);
    if (!p || hak_batch_add(p, MiB) != 0)
        return 2;
    hak_component_batch.fork_prepare();
    hak_component_batch.fork_parent();
    size_t got = 0;
    if (hak_batch_take(MiB, &got) != p)
        return 3;
    if (hak_batch_add(p, MiB) != 0)
        return 4;
    hak_batch_release_all();
    return 0;
}

HAK_TEST(Batch, ForkHandlersResetTheLock) {
    reset_quiet(0);
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
    size_t len = 64 * KiB;
    while (!atomic_load(&hammer_stop)) {
        size_t got;
        char *q = hak_batch_take(len, &got);
        if (!q) {
            q = map_apart(len);
            got = len;
        }
        if (q && hak_batch_add(q, got) != 0)
            hak_os_unmap(q, got);
    }
    return NULL;
}

HAK_TEST(Batch, ChildOfThreadedParentCanUseTheBatch) {
    /* hakmem's init (run by core's constructor already) registers the rooms' fork
     * handlers with pthread_atfork; make sure it ran. */
    hak_free(hak_malloc(100));
    reset(4, HUGE_LIMIT, 16 * MiB, 1);
    atomic_store(&hammer_stop, 0);
    pthread_t t;
    HAK_ASSERT_EQ(pthread_create(&t, NULL, hammer, NULL), 0);
    int bad = hak_fork_children(20, child_work);
    atomic_store(&hammer_stop, 1);
    pthread_join(t, NULL);
    HAK_EXPECT_EQ(bad, 0);
    /* And the parent goes on. */
    char *p = map_apart(MiB);
    HAK_ASSERT(p != NULL);
    HAK_EXPECT_EQ(hak_batch_add(p, MiB), 0);
    hak_batch_release_all();
}

/* ---- the purge clock (the hook core's passes call) ------------------------------------ */

/* A time pass of the batch's hook as core would run it at time now. */
static size_t pass_at(uint64_t now) {
    hak_purge_req r = {HAK_PURGE_TIME, now, 0, 0};
    return hak_component_batch.purge(&r);
}

/* A pending range is reclaimed once unused for large.purge_delay_ms, and unmapped once
 * unused for large.unmap_delay_ms more; a younger range waits. The pass is called with a
 * time in the future rather than after a sleep. */
HAK_TEST(Batch, PendingRangesAgeIntoReclaimedThenUnmapped) {
    reset_quiet(1);
    hak_option_override(HAK_OPT_LARGE_PURGE_MS, 100);
    hak_option_override(HAK_OPT_LARGE_UNMAP_MS, 1000);
    char *old = map_apart(MiB), *young = map_apart(MiB);
    HAK_ASSERT(old != NULL && young != NULL);
    memset(old, 1, MiB);
    memset(young, 2, MiB);
    uint64_t t0 = hak_clock_ms();
    HAK_ASSERT_EQ(hak_batch_add_since(old, MiB, t0 - 150), 0); /* freed 150 ms ago */
    HAK_ASSERT_EQ(hak_batch_add(young, MiB), 0);
    uint64_t timed = hak_ctr("purge_time_bytes");
    HAK_EXPECT_EQ(pass_at(t0), MiB); /* only old is due */
    HAK_EXPECT_EQ(resident_pages(old, MiB), 0);
    HAK_EXPECT_EQ(resident_pages(young, MiB), MiB / hak_os_page_size());
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), MiB);
    HAK_EXPECT_EQ(hak_ctr("purge_time_bytes"), timed + MiB);
    /* 200 ms on: young is due as well; nothing is old enough to unmap. */
    HAK_EXPECT_EQ(pass_at(t0 + 200), MiB);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 0);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 2 * MiB);
    HAK_EXPECT_EQ(hak_range_mapped(old, MiB), 1);
    /* A second later both reclaimed ranges go: unmapped, the address space back. */
    HAK_EXPECT(pass_at(hak_clock_ms() + 1500) >= 2 * MiB);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 0);
    HAK_EXPECT_EQ(hak_range_mapped(old, MiB), 0);
    HAK_EXPECT_EQ(hak_range_mapped(young, MiB), 0);
}

/* A delay of -1: the clock never gives anything back. */
HAK_TEST(Batch, NegativeDelayNeverPurges) {
    reset_quiet(1);
    hak_option_override(HAK_OPT_LARGE_PURGE_MS, HAK_TEST_NEVER);
    char *p = map_apart(MiB);
    HAK_ASSERT(p != NULL);
    memset(p, 1, MiB);
    HAK_ASSERT_EQ(hak_batch_add_since(p, MiB, 0), 0); /* freed at the start of time */
    HAK_EXPECT_EQ(pass_at(hak_clock_ms()), 0);
    HAK_EXPECT_EQ(resident_pages(p, MiB), MiB / hak_os_page_size());
    hak_batch_release_all();
}

/* Over the budget, the oldest pending ranges are reclaimed first, as many as the excess
 * asks for, whatever their age. */
HAK_TEST(Batch, BudgetReclaimsTheOldestPendingFirst) {
    reset_quiet(1);
    char *r[3];
    for (int k = 0; k < 3; k++) {
        r[k] = map_apart(MiB);
        HAK_ASSERT(r[k] != NULL);
        memset(r[k], k + 1, MiB);
        HAK_ASSERT_EQ(hak_batch_add(r[k], MiB), 0);
    }
    hak_purge_req req = {HAK_PURGE_CAP, hak_clock_ms(), 0, MiB + 1};
    HAK_EXPECT_EQ(hak_component_batch.purge(&req), 2 * MiB);
    HAK_EXPECT_EQ(req.excess, 0);
    HAK_EXPECT_EQ(resident_pages(r[0], MiB), 0);
    HAK_EXPECT_EQ(resident_pages(r[1], MiB), 0);
    HAK_EXPECT_EQ(resident_pages(r[2], MiB), MiB / hak_os_page_size());
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), MiB);
    hak_batch_release_all();
}

/* Pressure or request: every kept range is unmapped, and the gauges read zero. */
HAK_TEST(Batch, PurgeAllUnmapsEverything) {
    reset_quiet(1);
    char *a = map_apart(MiB), *b = map_apart(2 * MiB);
    HAK_ASSERT(a != NULL && b != NULL);
    HAK_ASSERT_EQ(hak_batch_add(a, MiB), 0);
    HAK_ASSERT_EQ(hak_batch_add(b, 2 * MiB), 0);
    hak_batch_flush(); /* a and b reclaimed */
    char *c = map_apart(MiB);
    HAK_ASSERT(c != NULL);
    HAK_ASSERT_EQ(hak_batch_add(c, MiB), 0); /* c pending */
    hak_purge_req req = {HAK_PURGE_PRESSURE, hak_clock_ms(), 1, 0};
    HAK_EXPECT_EQ(hak_component_batch.purge(&req), 4 * MiB);
    HAK_EXPECT_EQ(hak_batch_kept_bytes(), 0);
    HAK_EXPECT_EQ(hak_ctr("kept_batch_bytes"), 0);
    HAK_EXPECT_EQ(hak_ctr("retained_batch_bytes"), 0);
    HAK_EXPECT_EQ(hak_range_mapped(a, MiB), 0);
    HAK_EXPECT_EQ(hak_range_mapped(b, 2 * MiB), 0);
    HAK_EXPECT_EQ(hak_range_mapped(c, MiB), 0);
}

/* A freed range that touches a reclaimed one merges with it, and the union is pending, but
 * only the part that was pending counts as resident (the budget's gauge); a range given back
 * as reclaimed (resident 0) stays reclaimed. */
HAK_TEST(Batch, UnionWithAReclaimedNeighbourCountsOnlyItsResidentPart) {
    reset_quiet(1);
    char *p = map_apart(3 * MiB);
    HAK_ASSERT(p != NULL);
    uint64_t retained = hak_ctr("retained_batch_bytes");
    HAK_ASSERT_EQ(hak_batch_add_range(p, 2 * MiB, hak_clock_ms(), 0), 0); /* reclaimed */
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 0);
    HAK_EXPECT_EQ(hak_ctr("retained_batch_bytes"), retained);
    HAK_ASSERT_EQ(hak_batch_add(p + 2 * MiB, MiB), 0); /* pending, merges */
    HAK_EXPECT_EQ(hak_batch_kept_ranges(), 1);
    HAK_EXPECT_EQ(hak_batch_pending_bytes(), 3 * MiB);
    HAK_EXPECT_EQ(hak_ctr("retained_batch_bytes"), retained + MiB);
    hak_batch_release_all();
    HAK_EXPECT_EQ(hak_ctr("retained_batch_bytes"), retained);
}

/* The clock's age test: nothing stamped after the pass's time is due (the pass read the
 * clock before other threads went on freeing), a delay of 0 makes anything older due,
 * and -1 nothing. */
HAK_TEST(Batch, AgeTestNeverWrapsAround) {
    uint64_t now = 1000000;
    HAK_EXPECT(hak_purge_due(now, now, 0));
    HAK_EXPECT(hak_purge_due(now, now - 10, 10));
    HAK_EXPECT(!hak_purge_due(now, now - 9, 10));
    HAK_EXPECT(!hak_purge_due(now, now + 5, 0));
    HAK_EXPECT(!hak_purge_due(now, now + 5, 1000));
    HAK_EXPECT(!hak_purge_due(now, 0, -1));
}
