/* The rules of the mmap policy's caches (large.policy=mmap), seen from the public API and the
 * counters:
 *   - a freed block is not unmapped: its range stays mapped in BigCache (1 MiB and more) or
 *     in the batch (smaller) until it is evicted; the original hakmem unmapped the range
 *     right after adding it to the batch;
 *   - with nothing cached to serve it, a failed mmap gives NULL with errno ENOMEM; both
 *     caps 0 and a large.flush leave nothing cached;
 *   - after every large block is freed and large.flush runs, RSS is back near its start
 *     (MADV_DONTNEED at once; MADV_FREE pages are LazyFree until the kernel takes them);
 *   - realloc of a large block moves or grows its pages with mremap and keeps the data;
 *   - same site and size is served by BigCache; ever-changing sizes by the batch. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/os.h"
#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

#define MiB ((size_t)1 << 20)
#define KiB ((size_t)1 << 10)

/* ---- helpers ------------------------------------------------------------------------ */

/* An option set for one test and put back afterwards. */
typedef struct saved_opt {
    const char *key;
    char old[64];
    int ok;
} saved_opt;

static int opt_set(saved_opt *s, const char *key, const char *value) {
    s->key = key;
    s->ok = hak_config_get(key, s->old, sizeof s->old) == 0;
    return hak_config_set(key, value);
}

static void opt_restore(saved_opt *s) {
    if (s->ok)
        hak_config_set(s->key, s->old);
}

__attribute__((noinline)) static unsigned char *alloc_same_site(size_t n) {
    return hak_malloc(n);
}

static size_t page_size(void) {
    return hak_os_page_size();
}

/* The pages of a block: from the page holding its first byte to the end of its usable
 * size (the 64-byte header is on the first page). */
static void block_pages(const void *p, size_t usable, uintptr_t *start, size_t *len) {
    size_t page = page_size();
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page - 1);
    uintptr_t hi = ((uintptr_t)p + usable + page - 1) & ~(uintptr_t)(page - 1);
    *start = lo;
    *len = hi - lo;
}

static void touch_pages(unsigned char *p, size_t n, unsigned char v) {
    for (size_t off = 0; off < n; off += 4096)
        p[off] = v;
    p[n - 1] = v;
}


/* Both caches off (bigcache.max_bytes=0, batch.max_bytes=0) and flushed, then drained: 4 MiB
 * blocks are allocated and held until one is a fresh mapping, which hakmem makes only when
 * neither cache has anything left to give (BigCache hit, batch fit, eviction into the batch,
 * the batch's largest range grown by mremap all come first). The drain is needed because
 * the flush alone may leave ranges in the batch (see ZeroCapsAndFlushLeaveNothingCached).
 * The held blocks go back with caches_restore. */
typedef struct caches_off {
    saved_opt bc, bt;
    void *held[256];
    size_t nheld;
} caches_off;

static int caches_off_and_drained(caches_off *c) {
    c->nheld = 0;
    int ok = opt_set(&c->bc, "bigcache.max_bytes", "0") == 0;
    ok &= opt_set(&c->bt, "batch.max_bytes", "0") == 0;
    ok &= hak_config_set("large.flush", "1") == 0;
    while (ok && c->nheld < sizeof c->held / sizeof c->held[0]) {
        uint64_t maps = hak_ctr("os_mmap");
        void *p = hak_malloc(4 * MiB);
        if (!p)
            return 0;
        c->held[c->nheld++] = p;
        if (hak_ctr("os_mmap") > maps)
            return 1; /* a fresh mapping: nothing cached was left */
    }
    return 0;
}

static void caches_restore(caches_off *c) {
    for (size_t i = 0; i < c->nheld; i++)
        hak_free(c->held[i]);
    opt_restore(&c->bt);
    opt_restore(&c->bc);
}

/* ---- a. freed ranges stay mapped until evicted --------------------------------------- */

static void freed_range_case(size_t size, const char *kept_counter) {
    unsigned char *p = alloc_same_site(size);
    HAK_ASSERT(p != NULL);
    touch_pages(p, size, 0x5a);
    size_t usable = hak_usable_size(p);
    HAK_ASSERT(usable >= size);
    uintptr_t start;
    size_t len;
    block_pages(p, usable, &start, &len);
    HAK_ASSERT_EQ(hak_range_mapped((const void *)start, len), 1);

    uint64_t unmaps = hak_ctr("os_munmap"), kept = hak_ctr(kept_counter);
    hak_free(p);
    /* Right after the free: kept (BigCache or batch), nothing unmapped, every page of the
     * block still mapped. */
    HAK_EXPECT_EQ(hak_ctr(kept_counter), kept + 1);
    HAK_EXPECT_EQ(hak_ctr("os_munmap"), unmaps);
    int mapped = hak_range_mapped((const void *)start, len);
    if (mapped != 1)
        hak_test_note("%zu-byte block: range %#lx+%zu no longer mapped after hak_free", size,
                      (unsigned long)start, len);
    HAK_EXPECT_EQ(mapped, 1);

    /* Evicted with both caches off: then, and only then, the range is unmapped. */
    saved_opt bc, bt;
    HAK_EXPECT_EQ(opt_set(&bc, "bigcache.max_bytes", "0"), 0);
    HAK_EXPECT_EQ(opt_set(&bt, "batch.max_bytes", "0"), 0);
    HAK_EXPECT_EQ(hak_config_set("large.flush", "1"), 0);
    HAK_EXPECT(hak_ctr("os_munmap") > unmaps);
    HAK_EXPECT_EQ(hak_range_mapped((const void *)start, len), 0);
    opt_restore(&bt);
    opt_restore(&bc);
}

HAK_TEST(LargeRules, FreedRangeStaysMappedUntilEvicted) {
    saved_opt pol;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    freed_range_case(2 * MiB, "bigcache_insert"); /* 1 MiB and more: BigCache */
    freed_range_case(256 * KiB, "batch_add");     /* below: the batch */
    opt_restore(&pol);
}

/* ---- b. a failed mmap ---------------------------------------------------------------- */

HAK_TEST(LargeRules, FailedMapGivesNullAndEnomem) {
    saved_opt pol;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    /* Nothing cached may serve the request. */
    caches_off off;
    HAK_EXPECT(caches_off_and_drained(&off));

    static const size_t sizes[] = {40000, 256 * KiB, 4 * MiB, 64 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t allocs = hak_ctr("large_alloc_mmap");
        hak_os_fail_next_maps(1);
        errno = 0;
        void *p = hak_malloc(sizes[i]);
        int err = errno;
        hak_os_fail_next_maps(0);
        if (p || err != ENOMEM)
            hak_test_note("hak_malloc(%zu) with a failing mmap: %p, errno %d", sizes[i], p, err);
        HAK_EXPECT(p == NULL);
        HAK_EXPECT_EQ(err, ENOMEM);
        HAK_EXPECT_EQ(hak_ctr("large_alloc_mmap"), allocs);
        hak_free(p);

        hak_os_fail_next_maps(1);
        errno = 0;
        p = hak_calloc(1, sizes[i]);
        err = errno;
        hak_os_fail_next_maps(0);
        HAK_EXPECT(p == NULL);
        HAK_EXPECT_EQ(err, ENOMEM);
        hak_free(p);
    }
    /* Over-aligned requests map with alignment: the same failure. */
    hak_os_fail_next_maps(1);
    errno = 0;
    void *a = hak_aligned_alloc(1 * MiB, 3 * MiB);
    int err = errno;
    hak_os_fail_next_maps(0);
    HAK_EXPECT(a == NULL);
    HAK_EXPECT_EQ(err, ENOMEM);
    hak_free(a);
    void *m = (void *)1;
    hak_os_fail_next_maps(1);
    HAK_EXPECT_EQ(hak_posix_memalign(&m, 4096, 2 * MiB), ENOMEM);
    hak_os_fail_next_maps(0);
    HAK_EXPECT(m == (void *)1); /* untouched on failure */

    /* The failure was one call: the next request maps and works. */
    unsigned char *p = hak_malloc(4 * MiB);
    HAK_EXPECT(p != NULL);
    if (p) {
        touch_pages(p, 4 * MiB, 1);
        hak_free(p);
    }
    caches_restore(&off);
    opt_restore(&pol);
}

/* The way to make sure nothing cached serves a request, by the options alone: both caps 0,
 * then large.flush. Blocks freed (and flushed) earlier must then be unmapped, and a failing
 * mmap must show. */
HAK_TEST(LargeRules, ZeroCapsAndFlushLeaveNothingCached) {
    saved_opt pol, bc, bt;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    /* A program that ran a while: blocks of assorted sizes freed into BigCache and the
     * batch, and a flush (so the batch holds reclaimed ranges, nothing pending). */
    static const size_t sizes[] = {300 * KiB, 700 * KiB, 3 * MiB, 5 * MiB};
    uintptr_t start[4];
    size_t len[4];
    for (int i = 0; i < 4; i++) {
        unsigned char *p = alloc_same_site(sizes[i]);
        HAK_ASSERT(p != NULL);
        touch_pages(p, sizes[i], 1);
        block_pages(p, hak_usable_size(p), &start[i], &len[i]);
        hak_free(p);
    }
    HAK_EXPECT_EQ(hak_config_set("large.flush", "1"), 0);

    HAK_EXPECT_EQ(opt_set(&bc, "bigcache.max_bytes", "0"), 0);
    HAK_EXPECT_EQ(opt_set(&bt, "batch.max_bytes", "0"), 0);
    HAK_EXPECT_EQ(hak_config_set("large.flush", "1"), 0);
    for (int i = 0; i < 4; i++) {
        int mapped = hak_range_mapped((const void *)start[i], len[i]);
        if (mapped != 0)
            hak_test_note("%zu-byte block freed before: still mapped with both caps 0 after "
                          "large.flush", sizes[i]);
        HAK_EXPECT_EQ(mapped, 0);
    }
    hak_os_fail_next_maps(1);
    errno = 0;
    void *p = hak_malloc(2 * MiB);
    int err = errno;
    hak_os_fail_next_maps(0);
    if (p)
        hak_test_note("hak_malloc(2 MiB) with a failing mmap was served from a cache");
    HAK_EXPECT(p == NULL);
    HAK_EXPECT_EQ(err, ENOMEM);
    hak_free(p);
    opt_restore(&bt);
    opt_restore(&bc);
    opt_restore(&pol);
}

/* ---- c. RSS after freeing every large block and a flush ------------------------------ */

enum { MAX_BIG = 256 };

/* Allocates and touches about 200 MiB of blocks of 1 to 8 MiB, then frees them all and runs
 * large.flush. Returns 0 if an allocation failed. */
static int big_round(size_t *rss_before, size_t *lazy_before, size_t *rss_full, size_t *rss_end,
                     size_t *lazy_end) {
    static unsigned char *p[MAX_BIG];
    static size_t n[MAX_BIG];
    uint64_t rng = 12345;
    size_t count = 0, total = 0;
    /* Start from empty caches: what earlier tests left is reclaimed now. */
    hak_config_set("large.flush", "1");
    hak_read_rollup(rss_before, lazy_before);
    while (total < 200 * MiB && count < MAX_BIG) {
        n[count] = 1 * MiB + (size_t)(hak_rand_next(&rng) % (7 * MiB + 1));
        p[count] = alloc_same_site(n[count]);
        if (!p[count])
            return 0;
        touch_pages(p[count], n[count], (unsigned char)count);
        total += n[count++];
    }
    size_t lazy;
    hak_read_rollup(rss_full, &lazy);
    for (size_t i = 0; i < count; i++)
        hak_free(p[i]);
    hak_config_set("large.flush", "1");
    hak_read_rollup(rss_end, lazy_end);
    return 1;
}

/* batch.dontneed=1: the flush reclaims with MADV_DONTNEED, so RSS itself falls back. The
 * bound, 16 MiB over the start, allows for what is not part of the freed blocks: hakmem's
 * bookkeeping (static tables, already counted at the start for the most part) and the
 * test's own pages; the blocks were 200 MiB, so a block that stayed resident shows. */
HAK_TEST(LargeRules, FlushWithDontneedBringsRssBack) {
    size_t r0, l0;
    if (!hak_read_rollup(&r0, &l0))
        HAK_SKIP("/proc/self/smaps_rollup has no Rss/LazyFree");
    saved_opt pol, dn;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    HAK_ASSERT_EQ(opt_set(&dn, "batch.dontneed", "1"), 0);
    size_t before, lazy_before, full, end, lazy_end;
    HAK_ASSERT(big_round(&before, &lazy_before, &full, &end, &lazy_end));
    hak_test_note("RSS %zu MiB at the start, %zu MiB with the blocks, %zu MiB after free + "
                  "flush (LazyFree %zu MiB)",
                  before >> 20, full >> 20, end >> 20, lazy_end >> 20);
    HAK_EXPECT(full >= before + 150 * MiB); /* the blocks were resident */
    HAK_EXPECT(end <= before + 16 * MiB);
    opt_restore(&dn);
    opt_restore(&pol);
}

/* batch.dontneed=0 (MADV_FREE): RSS may stay up until the kernel needs the pages, but those
 * pages are LazyFree; RSS - LazyFree falls back with the same bound. */
HAK_TEST(LargeRules, FlushWithMadvFreeLeavesOnlyLazyPages) {
    size_t r0, l0;
    if (!hak_read_rollup(&r0, &l0))
        HAK_SKIP("/proc/self/smaps_rollup has no Rss/LazyFree");
    saved_opt pol, dn;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    HAK_ASSERT_EQ(opt_set(&dn, "batch.dontneed", "0"), 0);
    size_t before, lazy_before, full, end, lazy_end;
    HAK_ASSERT(big_round(&before, &lazy_before, &full, &end, &lazy_end));
    hak_test_note("RSS-LazyFree %zu MiB at the start, RSS %zu MiB with the blocks, RSS %zu MiB "
                  "(LazyFree %zu MiB) after free + flush",
                  (before - lazy_before) >> 20, full >> 20, end >> 20, lazy_end >> 20);
    HAK_EXPECT(full >= before + 150 * MiB);
    HAK_EXPECT(end - lazy_end <= before - lazy_before + 16 * MiB);
    opt_restore(&dn);
    opt_restore(&pol);
}

/* ---- d. realloc with mremap ---------------------------------------------------------- */

HAK_TEST(LargeRules, ReallocGrowsWithMremapAndKeepsData) {
    saved_opt pol;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    /* A fresh mapping of its own, with no kept range to grow into: a block carved from
     * ranges the batch merged may span two mappings, which mremap refuses (realloc then
     * copies, correctly but without mremap). */
    caches_off off;
    HAK_ASSERT(caches_off_and_drained(&off));
    unsigned char *p = off.held[--off.nheld];
    hak_fill(p, 4 * MiB, 41);
    uint64_t remaps = hak_ctr("os_mremap"), inplace = hak_ctr("large_realloc_inplace");
    uint64_t maps = hak_ctr("os_mmap");

    /* 4 MiB -> 64 MiB: grown in place or its pages moved, never copied. */
    unsigned char *q = hak_realloc(p, 64 * MiB);
    HAK_ASSERT(q != NULL);
    HAK_EXPECT(hak_check(q, 4 * MiB, 41));
    HAK_EXPECT(hak_usable_size(q) >= 64 * MiB);
    HAK_EXPECT_EQ(hak_ctr("os_mremap"), remaps + 1);
    HAK_EXPECT_EQ(hak_ctr("large_realloc_inplace"), inplace + 1);
    HAK_EXPECT_EQ(hak_ctr("os_mmap"), maps); /* no new mapping to copy into */
    hak_fill(q, 64 * MiB, 42);

    /* Shrinks keep the data (whether the tail is given back, and how, is the backend's
     * choice): to 40 MiB (more than half: the block stays as it is), then to 8 MiB. */
    unsigned char *r = hak_realloc(q, 40 * MiB);
    HAK_ASSERT(r != NULL);
    HAK_EXPECT(r == q);
    HAK_EXPECT(hak_check(r, 40 * MiB, 42));
    unsigned char *s = hak_realloc(r, 8 * MiB);
    HAK_ASSERT(s != NULL);
    HAK_EXPECT(hak_check(s, 8 * MiB, 42));
    HAK_EXPECT(hak_usable_size(s) >= 8 * MiB);
    HAK_EXPECT_EQ(hak_ctr("os_mmap"), maps); /* nor does a shrink copy into a new mapping */

    /* And grows again from there. */
    unsigned char *t = hak_realloc(s, 24 * MiB);
    HAK_ASSERT(t != NULL);
    HAK_EXPECT(hak_check(t, 8 * MiB, 42));
    touch_pages(t, 24 * MiB, 9);
    hak_free(t);

    caches_restore(&off);
    opt_restore(&pol);
}

/* With the caches on (the defaults), the same growth keeps the data whatever the block was
 * made from. */
HAK_TEST(LargeRules, ReallocFromCachedRangesKeepsData) {
    saved_opt pol;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    for (int round = 0; round < 4; round++) {
        /* Leave ranges of assorted sizes in BigCache and the batch. */
        unsigned char *junk[6];
        for (int i = 0; i < 6; i++) {
            junk[i] = hak_malloc((size_t)(i + 1) * 700 * KiB);
            HAK_ASSERT(junk[i] != NULL);
        }
        for (int i = 0; i < 6; i++)
            hak_free(junk[i]);
        unsigned char *p = hak_malloc(4 * MiB);
        HAK_ASSERT(p != NULL);
        hak_fill(p, 4 * MiB, (uint64_t)round);
        unsigned char *q = hak_realloc(p, 64 * MiB);
        HAK_ASSERT(q != NULL);
        HAK_EXPECT(hak_check(q, 4 * MiB, (uint64_t)round));
        touch_pages(q + 4 * MiB, 60 * MiB, 3); /* the new part is writable */
        unsigned char *r = hak_realloc(q, 2 * MiB);
        HAK_ASSERT(r != NULL);
        HAK_EXPECT(hak_check(r, 2 * MiB, (uint64_t)round));
        hak_free(r);
    }
    opt_restore(&pol);
}

/* ---- e. BigCache and batch on VM-like loops ------------------------------------------ */

HAK_TEST(LargeRules, SameSiteSameSizeHitsBigCache) {
    saved_opt pol, bc;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    HAK_EXPECT_EQ(opt_set(&bc, "bigcache.max_bytes", "64M"), 0);
    enum { N = 30 };
    uint64_t hits = hak_ctr("bigcache_hit"), inserts = hak_ctr("bigcache_insert");
    uint64_t maps = hak_ctr("os_mmap");
    for (int i = 0; i < N; i++) {
        unsigned char *p = alloc_same_site(3 * MiB);
        HAK_ASSERT(p != NULL);
        touch_pages(p, 3 * MiB, (unsigned char)i);
        hak_free(p);
    }
    uint64_t dh = hak_ctr("bigcache_hit") - hits, dm = hak_ctr("os_mmap") - maps;
    hak_test_note("%d rounds of 3 MiB at one site: %llu BigCache hits, %llu inserts, %llu mmaps",
                  N, (unsigned long long)dh,
                  (unsigned long long)(hak_ctr("bigcache_insert") - inserts),
                  (unsigned long long)dm);
    HAK_EXPECT(dh >= N - 1); /* every round after the first */
    HAK_EXPECT_EQ(hak_ctr("bigcache_insert") - inserts, N);
    HAK_EXPECT(dm <= 1);
    opt_restore(&bc);
    opt_restore(&pol);
}

/* A size that changes every round is no BigCache hit (another size class), so the freed
 * ranges go through the batch: added there and taken from there (best fit, split), not
 * mapped afresh, except for a size larger than every one before it (a kept range is not
 * grown: docs/ARCHITECTURE.md, "Large blocks"). */
static void changing_sizes(const size_t *sizes, int n, const char *label, uint64_t min_adds) {
    HAK_EXPECT_EQ(hak_config_set("large.flush", "1"), 0); /* no entry of earlier rounds */
    uint64_t adds = hak_ctr("batch_add"), reuses = hak_ctr("batch_reuse");
    uint64_t maps = hak_ctr("os_mmap"), hits = hak_ctr("bigcache_hit");
    for (int i = 0; i < n; i++) {
        unsigned char *p = alloc_same_site(sizes[i]);
        HAK_ASSERT(p != NULL);
        touch_pages(p, sizes[i], (unsigned char)i);
        hak_free(p);
    }
    uint64_t da = hak_ctr("batch_add") - adds, dr = hak_ctr("batch_reuse") - reuses;
    uint64_t dm = hak_ctr("os_mmap") - maps, dh = hak_ctr("bigcache_hit") - hits;
    hak_test_note("%s: %d rounds, batch_add +%llu, batch_reuse +%llu, bigcache_hit +%llu, "
                  "mmap +%llu",
                  label, n, (unsigned long long)da, (unsigned long long)dr,
                  (unsigned long long)dh, (unsigned long long)dm);
    uint64_t records = 0;
    size_t highest = 0;
    for (int i = 0; i < n; i++) {
        records += sizes[i] > highest;
        highest = sizes[i] > highest ? sizes[i] : highest;
    }
    HAK_EXPECT_EQ(dh, 0); /* every size in a class of its own (or below BigCache's minimum) */
    HAK_EXPECT(da >= min_adds);
    HAK_EXPECT(dr >= (uint64_t)n / 2);
    HAK_EXPECT(dm <= records);
}

HAK_TEST(LargeRules, ChangingSizesGoThroughTheBatch) {
    saved_opt pol, bc, bt;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    HAK_EXPECT_EQ(opt_set(&bc, "bigcache.max_bytes", "64M"), 0);
    HAK_EXPECT_EQ(opt_set(&bt, "batch.max_bytes", "1G"), 0);
    /* Below BigCache's minimum (1 MiB): straight to the batch. */
    enum { N = 60 };
    size_t small[N];
    for (int i = 0; i < N; i++)
        small[i] = 40 * KiB + (size_t)((unsigned)(i * 37) % 61u) * 15 * KiB; /* 40..940 KiB */
    changing_sizes(small, N, "40 KiB .. 940 KiB", N); /* every free is an add */
    /* 1 MiB and more, each in a BigCache class of its own (4 classes per doubling), in an
     * order that goes up and down: BigCache misses, evicts its older entries into the batch
     * (several per eviction: only some rounds add), and the batch serves. */
    static const size_t big[] = {
        1200 * KiB, 6 * MiB + 100 * KiB, 2200 * KiB, 11 * MiB, 1400 * KiB, 3200 * KiB,
        7 * MiB + 100 * KiB, 1700 * KiB, 13 * MiB, 2700 * KiB, 4 * MiB + 100 * KiB,
        1900 * KiB, 9 * MiB + 100 * KiB, 3700 * KiB, 15 * MiB, 5 * MiB + 100 * KiB};
    changing_sizes(big, (int)(sizeof big / sizeof big[0]), "1.2 MiB .. 15 MiB", 2);
    opt_restore(&bt);
    opt_restore(&bc);
    opt_restore(&pol);
}

/* A request larger than every kept range extends the largest one in place with a mapping
 * of the missing bytes beside it: the kept pages serve the block where they are (only the
 * new part faults), nothing is moved or copied. */
HAK_TEST(LargeRules, LargerRequestExtendsTheLargestKeptRange) {
    saved_opt pol, bc, huge, delay;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    HAK_EXPECT_EQ(opt_set(&bc, "bigcache.max_bytes", "0"), 0); /* straight to the batch */
    HAK_EXPECT_EQ(opt_set(&huge, "large.hugepages", "0"), 0);  /* faults counted in pages */
    HAK_EXPECT_EQ(opt_set(&delay, "large.purge_delay_ms", "-1"), 0);
    HAK_EXPECT_EQ(hak_config_set("large.flush", "1"), 0);
    unsigned char *a = hak_malloc(8 * MiB);
    HAK_ASSERT(a != NULL);
    touch_pages(a, 8 * MiB, 7);
    hak_free(a); /* kept in the batch, resident */
    uint64_t extends = hak_ctr("large_extend"), faults = hak_ctr("minflt");
    unsigned char *b = hak_malloc(12 * MiB);
    HAK_ASSERT(b != NULL);
    HAK_EXPECT(hak_usable_size(b) >= 12 * MiB);
    touch_pages(b, 12 * MiB, 9);
    uint64_t df = hak_ctr("minflt") - faults;
    hak_test_note("12 MiB after an 8 MiB block was freed: large_extend +%llu, %llu faults",
                  (unsigned long long)(hak_ctr("large_extend") - extends),
                  (unsigned long long)df);
    HAK_EXPECT_EQ(hak_ctr("large_extend"), extends + 1);
    /* The 4 MiB added fault (1024 pages); the 8 MiB kept do not. */
    HAK_EXPECT(df < (6 * MiB) / page_size());
    hak_free(b);
    HAK_EXPECT_EQ(hak_config_set("large.flush", "1"), 0);
    opt_restore(&delay);
    opt_restore(&huge);
    opt_restore(&bc);
    opt_restore(&pol);
}

/* ---- f. cache colour ----------------------------------------------------------------- */

/* Live 2 MiB blocks of the mmap backend start at different 64-byte-aligned offsets in
 * their first page (backend_mmap.c: blocks at one offset share their cache sets), the same
 * mapping handed out again keeps its offset, and blocks above 4 MiB start right after the
 * header. Usable sizes still cover the requests. */
HAK_TEST(LargeRules, SmallLargeBlocksGetDifferentCacheColours) {
    saved_opt pol;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    HAK_EXPECT_EQ(hak_config_set("large.flush", "1"), 0);
    enum { LIVE = 4 };
    unsigned char *p[LIVE];
    size_t offsets[LIVE], distinct = 0;
    for (int i = 0; i < LIVE; i++) {
        p[i] = alloc_same_site(2 * MiB);
        HAK_ASSERT(p[i] != NULL);
        HAK_EXPECT(hak_usable_size(p[i]) >= 2 * MiB);
        offsets[i] = (uintptr_t)p[i] & (page_size() - 1);
        HAK_EXPECT_EQ(offsets[i] % 64, 0);
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= offsets[j] == offsets[i];
        distinct += !seen;
        touch_pages(p[i], 2 * MiB, (unsigned char)i);
    }
    if (distinct < LIVE)
        hak_test_note("page offsets of %d live 2 MiB blocks: %zu %zu %zu %zu", LIVE, offsets[0],
                      offsets[1], offsets[2], offsets[3]);
    HAK_EXPECT(distinct >= LIVE - 1); /* consecutive mappings, consecutive colours */
    /* Freed and asked for again at the same site and size: the same mapping, same offset. */
    unsigned char *last = p[LIVE - 1];
    hak_free(last);
    unsigned char *again = alloc_same_site(2 * MiB); /* this thread's BigCache slot */
    HAK_ASSERT(again != NULL);
    HAK_EXPECT(again == last);
    HAK_EXPECT_EQ((uintptr_t)again & (page_size() - 1), offsets[LIVE - 1]);
    p[LIVE - 1] = again;
    for (int i = 0; i < LIVE; i++)
        hak_free(p[i]);

    unsigned char *big = hak_malloc(8 * MiB);
    HAK_ASSERT(big != NULL);
    HAK_EXPECT_EQ((uintptr_t)big & (page_size() - 1), 64);
    hak_free(big);
    opt_restore(&pol);
}

/* ---- g. huge pages for blocks of 2-4 MiB ----------------------------------------------- */

/* The VmFlags of the mapping that holds p (/proc/self/smaps), or "" when not found. */
static void vm_flags_of(const void *p, char *out, size_t len) {
    out[0] = '\0';
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return;
    char line[512];
    int inside = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
            continue;
        }
        if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, len, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}

static int has_flag(const char *flags, const char *flag) {
    char padded[64];
    snprintf(padded, sizeof padded, " %s ", flag);
    char buf[600];
    snprintf(buf, sizeof buf, " %.590s", flags);
    for (char *c = buf; *c; c++)
        if (*c == '\n')
            *c = ' ';
    return strstr(buf, padded) != NULL;
}

/* A fresh mapping for a 2 MiB or a 16 MiB block is advised MADV_HUGEPAGE ("hg" in its
 * VmFlags, whatever the kernel's THP setting), the 2 MiB one 2 MiB-aligned too; with
 * large.hugepages=0 neither is. */
HAK_TEST(LargeRules, FreshTwoMiBMappingsAskForHugePages) {
    saved_opt pol, huge;
    caches_off c;
    HAK_ASSERT_EQ(opt_set(&pol, "large.policy", "mmap"), 0);
    HAK_ASSERT(caches_off_and_drained(&c));
    char probe[512];
    vm_flags_of(c.held[0], probe, sizeof probe);
    if (access("/sys/kernel/mm/transparent_hugepage", F_OK) != 0 || probe[0] == '\0') {
        caches_restore(&c);
        opt_restore(&pol);
        HAK_SKIP("no transparent huge pages in this kernel, or no VmFlags in smaps");
    }
    for (int on = 1; on >= 0; on--) {
        HAK_ASSERT_EQ(opt_set(&huge, "large.hugepages", on ? "1" : "0"), 0);
        unsigned char *p = hak_malloc(2 * MiB), *big = hak_malloc(16 * MiB);
        HAK_ASSERT(p != NULL && big != NULL);
        touch_pages(p, 2 * MiB, 1);
        char flags[512], big_flags[512];
        vm_flags_of(p, flags, sizeof flags);
        vm_flags_of(big, big_flags, sizeof big_flags);
        HAK_EXPECT(flags[0] != '\0');
        uintptr_t base = (uintptr_t)p & ~(uintptr_t)(page_size() - 1);
        if (on) {
            HAK_EXPECT_EQ(base % (2 * MiB), 0);
            HAK_EXPECT(has_flag(flags, "hg"));
            HAK_EXPECT(has_flag(big_flags, "hg"));
        } else {
            HAK_EXPECT(!has_flag(flags, "hg"));
            HAK_EXPECT(!has_flag(big_flags, "hg"));
        }
        if (!on != !has_flag(flags, "hg"))
            hak_test_note("large.hugepages=%d: 2 MiB block's VmFlags:%s", on, flags);
        hak_free(p);
        hak_free(big);
        opt_restore(&huge);
    }
    caches_restore(&c);
    opt_restore(&pol);
}
