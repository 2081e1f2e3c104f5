/* Large blocks (above 32 KiB) under both backends: sizes up to tens of MiB, many live at
 * once, reuse after free never aliases two live blocks, mremap-style growth keeps data,
 * repeated same-site blocks are reused rather than mapped afresh each time. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

static const char *const policies[] = {"malloc", "mmap"};

HAK_TEST(Large, SizesUpTo64MiBUsableAndAligned) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t n = 32769; n <= (64u << 20); n = n * 2 + 4093) {
            unsigned char *p = hak_malloc(n);
            HAK_ASSERT(p != NULL);
            HAK_EXPECT(((uintptr_t)p & 15) == 0);
            size_t u = hak_usable_size(p);
            HAK_EXPECT(u >= n);
            /* Touch every page up to the usable size, and the last byte. */
            for (size_t off = 0; off < u; off += 4096)
                p[off] = (unsigned char)(off >> 12);
            p[u - 1] = 0x7f;
            size_t bad = 0;
            for (size_t off = 0; off + 1 < u; off += 4096)
                bad += p[off] != (unsigned char)(off >> 12);
            HAK_EXPECT_EQ(bad, 0);
            HAK_EXPECT(p[u - 1] == 0x7f);
            hak_free(p);
        }
    }
}

HAK_TEST(Large, ManyLiveBlocksKeepTheirData) {
    enum { N = 300 };
    unsigned char *p[N];
    size_t n[N];
    uint64_t rng = 3;
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (int i = 0; i < N; i++) {
            n[i] = 32769 + hak_rand_next(&rng) % 600000;
            p[i] = hak_malloc(n[i]);
            HAK_ASSERT(p[i] != NULL);
            hak_fill(p[i], n[i], (uint64_t)i * 11 + pol);
        }
        /* Free every third, allocate again, check everything. */
        for (int i = 0; i < N; i += 3) {
            HAK_EXPECT(hak_check(p[i], n[i], (uint64_t)i * 11 + pol));
            hak_free(p[i]);
            p[i] = hak_malloc(n[i]);
            HAK_ASSERT(p[i] != NULL);
            hak_fill(p[i], n[i], (uint64_t)i * 11 + pol);
        }
        size_t bad = 0;
        for (int i = 0; i < N; i++) {
            if (!hak_check(p[i], n[i], (uint64_t)i * 11 + pol))
                bad++;
            hak_free(p[i]);
        }
        HAK_EXPECT_EQ(bad, 0);
    }
}

/* Freed blocks that come back (from a cache or a reclaimed range) are never handed to two
 * live owners, and whatever comes back is writable in full. */
__attribute__((noinline)) static unsigned char *alloc_same_site(size_t n) {
    return hak_malloc(n);
}

HAK_TEST(Large, ReusedBlocksNeverAlias) {
    static const size_t sizes[] = {40000, 1 << 20, (2 << 20) + 100, 8 << 20};
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t s = 0; s < 4; s++) {
            size_t n = sizes[s];
            for (int round = 0; round < 6; round++) {
                unsigned char *a = alloc_same_site(n);
                HAK_ASSERT(a != NULL);
                hak_free(a);
                unsigned char *b = alloc_same_site(n);
                unsigned char *c = alloc_same_site(n);
                HAK_ASSERT(b != NULL && c != NULL);
                HAK_EXPECT(b != c);
                HAK_EXPECT((uintptr_t)b + n <= (uintptr_t)c || (uintptr_t)c + n <= (uintptr_t)b);
                hak_fill(b, n, 1);
                hak_fill(c, n, 2);
                HAK_EXPECT(hak_check(b, n, 1));
                HAK_EXPECT(hak_check(c, n, 2));
                hak_free(c);
                hak_free(b);
            }
        }
    }
}

HAK_TEST(Large, GrowthTo64MiBKeepsData) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        size_t n = 1 << 20;
        unsigned char *p = hak_malloc(n);
        HAK_ASSERT(p != NULL);
        hak_fill(p, n, 9);
        while (n < (64u << 20)) {
            size_t m = n * 2;
            unsigned char *q = hak_realloc(p, m);
            HAK_ASSERT(q != NULL);
            HAK_EXPECT(hak_check(q, n, 9));
            hak_fill(q, m, 9);
            p = q;
            n = m;
        }
        unsigned char *q = hak_realloc(p, 3 << 20);
        HAK_ASSERT(q != NULL);
        HAK_EXPECT(hak_check(q, 3 << 20, 9));
        hak_free(q);
    }
}

/* The VM scenario: one call site allocating and freeing big blocks over and over. Most of
 * them must come back from BigCache or the reclaim batch instead of fresh mappings. */
HAK_TEST(Large, RepeatedSameSiteBlocksAreReused) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "mmap"), 0);
    uint64_t maps = hak_ctr("os_mmap");
    for (int i = 0; i < 40; i++) {
        unsigned char *p = alloc_same_site(2 << 20);
        HAK_ASSERT(p != NULL);
        memset(p, i, 2 << 20);
        hak_free(p);
    }
    uint64_t fresh = hak_ctr("os_mmap") - maps;
    hak_test_note("40 alloc/free pairs of 2 MiB: %llu fresh mappings, %llu BigCache hits",
                  (unsigned long long)fresh, (unsigned long long)hak_ctr("bigcache_hit"));
    HAK_EXPECT(fresh < 20);
    hak_config_set("large.policy", "malloc");
}

/* The kill switch set at run time sends every large block to mmap. */
HAK_TEST(Large, KillSwitchAtRunTime) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "malloc"), 0);
    HAK_ASSERT_EQ(hak_config_set("large.force_mmap", "1"), 0);
    uint64_t ml = hak_ctr("large_alloc_malloc"), mm = hak_ctr("large_alloc_mmap");
    for (int i = 0; i < 10; i++) {
        void *p = hak_malloc(50000 + (size_t)i * 100000);
        HAK_ASSERT(p != NULL);
        hak_free(p);
    }
    HAK_EXPECT_EQ(hak_ctr("large_alloc_malloc"), ml);
    HAK_EXPECT_EQ(hak_ctr("large_alloc_mmap"), mm + 10);
    HAK_EXPECT_EQ(hak_config_set("large.force_mmap", "0"), 0);
}

/* large.flush gives every cached mapping (BigCache, batch) back to the OS: what the caches
 * held is unmapped or reclaimed (madvise) by the flush. */
HAK_TEST(Large, FlushGivesCachedMappingsBack) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "mmap"), 0);
    enum { BIG = 16, MID = 32 };
    unsigned char *b[BIG], *m[MID];
    for (int i = 0; i < BIG; i++) {
        b[i] = alloc_same_site(2 << 20);
        HAK_ASSERT(b[i] != NULL);
        memset(b[i], 1, 2 << 20);
    }
    for (int i = 0; i < MID; i++) {
        m[i] = alloc_same_site(200000);
        HAK_ASSERT(m[i] != NULL);
        memset(m[i], 2, 200000);
    }
    for (int i = 0; i < BIG; i++)
        hak_free(b[i]);
    for (int i = 0; i < MID; i++)
        hak_free(m[i]);
    uint64_t given = hak_ctr("os_unmapped_bytes") + hak_ctr("batch_reclaimed_bytes");
    HAK_ASSERT_EQ(hak_config_set("large.flush", "1"), 0);
    uint64_t after = hak_ctr("os_unmapped_bytes") + hak_ctr("batch_reclaimed_bytes");
    hak_test_note("flush gave back %llu KiB", (unsigned long long)((after - given) >> 10));
    /* 32 MiB + 6 MiB were freed into the caches; most of it must go back now (some may
     * already have been reclaimed by a batch flush during the frees). */
    HAK_EXPECT(after - given >= (16ull << 20));
    /* And allocation works after the flush. */
    unsigned char *p = alloc_same_site(2 << 20);
    HAK_ASSERT(p != NULL);
    memset(p, 3, 2 << 20);
    hak_free(p);
    hak_config_set("large.policy", "malloc");
}

/* With batch.dontneed=1 the reclaim uses MADV_DONTNEED, so after large.flush the RSS of
 * freed large blocks is gone at once (MADV_FREE pages would still count; see the design guide). */
HAK_TEST(Large, FlushWithDontneedDropsRss) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "mmap"), 0);
    HAK_ASSERT_EQ(hak_config_set("batch.dontneed", "1"), 0);
    enum { N = 320 }; /* 320 x 200 KB = 64 MB, below BigCache's minimum: into the batch */
    unsigned char **p = calloc(N, sizeof *p);
    HAK_ASSERT(p != NULL);
    for (int i = 0; i < N; i++) {
        p[i] = alloc_same_site(200000);
        HAK_ASSERT(p[i] != NULL);
        memset(p[i], 0x5c, 200000);
    }
    size_t rss_full = hak_rss_bytes();
    for (int i = 0; i < N; i++)
        hak_free(p[i]);
    HAK_ASSERT_EQ(hak_config_set("large.flush", "1"), 0);
    size_t rss_after = hak_rss_bytes();
    hak_test_note("RSS %zu KiB with 64 MB live, %zu KiB after free + flush", rss_full >> 10,
                  rss_after >> 10);
    HAK_EXPECT(rss_full > 0);
    HAK_EXPECT(rss_after + (32u << 20) <= rss_full);
    free(p);
    hak_config_set("batch.dontneed", "0");
    hak_config_set("large.policy", "malloc");
}

/* Growth of a block that was served from reused ranges (BigCache, batch, ranges the batch
 * merged or split): the same sequence as the env probe's workload. realloc must not fail
 * with memory to spare; if it cannot grow in place it must move the block. */
HAK_TEST(Large, ReallocGrowsBlocksMadeFromReusedRanges) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (int round = 0; round < 3; round++) {
            static const size_t large[] = {32769, 65536, 100000, 1 << 20, (3 << 20) + 17,
                                           8 << 20};
            unsigned char *lp[6];
            for (int i = 0; i < 6; i++) {
                lp[i] = hak_malloc(large[i]);
                HAK_ASSERT(lp[i] != NULL);
                hak_fill(lp[i], large[i], (uint64_t)i);
            }
            for (int i = 0; i < 6; i++) {
                HAK_EXPECT(hak_check(lp[i], large[i], (uint64_t)i));
                hak_free(lp[i]);
            }
            for (size_t n = 16; n <= (4u << 20); n *= 4) {
                unsigned char *c = hak_calloc(1, n);
                HAK_ASSERT(c != NULL);
                HAK_EXPECT(hak_all_bytes(c, n, 0));
                memset(c, 0xa5, n);
                errno = 0;
                unsigned char *r = hak_realloc(c, n * 3);
                if (!r)
                    hak_test_note("%s: realloc(%zu -> %zu) failed, errno %d", policies[pol], n,
                                  n * 3, errno);
                HAK_EXPECT(r != NULL);
                if (!r) {
                    hak_free(c);
                    continue;
                }
                HAK_EXPECT(hak_all_bytes(r, n, 0xa5));
                memset(r, 0x11, n * 3);
                hak_free(r);
            }
        }
    }
}
