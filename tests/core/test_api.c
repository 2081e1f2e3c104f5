/* The allocation API: hak_malloc/free/calloc/realloc/aligned_alloc/posix_memalign/
 * usable_size, their ordinary contracts, under both large policies where it matters. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

static const char *const policies[] = {"malloc", "mmap"};

static const size_t mixed_sizes[] = {
    0,     1,     2,     7,     8,     9,     15,     16,     17,      24,         31,
    32,    33,    48,    63,    64,    65,    100,    127,    128,     129,        255,
    256,   257,   500,   512,   1000,  1024,  1500,   2048,   3000,    4095,       4096,
    4097,  5000,  8192,  10000, 16384, 20000, 32767,  32768,  32769,   40000,      65535,
    65536, 65537, 100000, 262144, 1 << 20, (1 << 20) + 1, (5 << 20) + 3,
};
#define N_MIXED (sizeof mixed_sizes / sizeof mixed_sizes[0])

HAK_TEST(Api, MallocReturnsDistinctWritableBlocks) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        void *p[N_MIXED];
        for (size_t i = 0; i < N_MIXED; i++) {
            p[i] = hak_malloc(mixed_sizes[i]);
            HAK_ASSERT(p[i] != NULL);
            hak_fill(p[i], mixed_sizes[i], i * 7919 + pol);
        }
        for (size_t i = 0; i < N_MIXED; i++)
            for (size_t j = i + 1; j < N_MIXED; j++)
                HAK_EXPECT(p[i] != p[j]);
        for (size_t i = 0; i < N_MIXED; i++) {
            HAK_EXPECT(hak_check(p[i], mixed_sizes[i], i * 7919 + pol));
            hak_free(p[i]);
        }
    }
}

HAK_TEST(Api, MallocZeroReturnsUniqueFreeablePointers) {
    /* glibc returns a unique pointer for malloc(0); programs treat NULL as out of memory. */
    void *a = hak_malloc(0);
    void *b = hak_malloc(0);
    HAK_ASSERT(a != NULL);
    HAK_ASSERT(b != NULL);
    HAK_EXPECT(a != b);
    HAK_EXPECT(((uintptr_t)a & 7) == 0);
    hak_free(a);
    hak_free(b);
}

HAK_TEST(Api, FreeNullDoesNothing) {
    uint64_t before = hak_ctr("foreign_free");
    HAK_ASSERT(before != UINT64_MAX);
    errno = 1234;
    for (int i = 0; i < 1000; i++)
        hak_free(NULL);
    HAK_EXPECT_EQ(errno, 1234);
    HAK_EXPECT_EQ(hak_ctr("foreign_free"), before);
    /* And the allocator still works. */
    void *p = hak_malloc(64);
    HAK_ASSERT(p != NULL);
    hak_free(p);
}

/* Three live blocks of each size, each filled up to its usable size: if a usable size
 * overstated the block, a neighbour's fill would corrupt another block's pattern. */
static void fill_usable_case(size_t n, uint64_t seed) {
    enum { K = 3 };
    unsigned char *p[K];
    size_t u[K];
    for (int i = 0; i < K; i++) {
        p[i] = hak_malloc(n);
        HAK_ASSERT(p[i] != NULL);
        u[i] = hak_usable_size(p[i]);
        HAK_EXPECT(u[i] >= n);
        hak_fill(p[i], u[i], seed + i);
    }
    for (int i = 0; i < K; i++) {
        HAK_EXPECT(hak_check(p[i], u[i], seed + i));
        HAK_EXPECT_EQ(hak_usable_size(p[i]), u[i]);
        hak_free(p[i]);
    }
}

HAK_TEST(Api, UsableSizeCoversRequestAndIsWritable) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t n = 0; n <= 2048; n++)
            fill_usable_case(n, n * 3);
        for (size_t i = 0; i < N_MIXED; i++)
            fill_usable_case(mixed_sizes[i], i + 100000);
        for (size_t n = 2049; n < 300000; n = n * 5 / 4 + 3)
            fill_usable_case(n, n);
    }
}

HAK_TEST(Api, UsableSizeOfNullAndForeignIsZero) {
    extern void *__libc_malloc(size_t);
    extern void __libc_free(void *);
    HAK_EXPECT_EQ(hak_usable_size(NULL), 0);
    int on_stack = 0;
    HAK_EXPECT_EQ(hak_usable_size(&on_stack), 0);
    void *libc = __libc_malloc(100);
    HAK_ASSERT(libc != NULL);
    HAK_EXPECT_EQ(hak_usable_size(libc), 0);
    __libc_free(libc);
}

HAK_TEST(Api, CallocZeroes) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t i = 0; i < N_MIXED; i++) {
            size_t n = mixed_sizes[i];
            unsigned char *a = hak_calloc(1, n);
            unsigned char *b = hak_calloc(n, 1);
            unsigned char *c = hak_calloc(n / 7 + 1, 7);
            HAK_ASSERT(a != NULL && b != NULL && c != NULL);
            HAK_EXPECT(hak_all_bytes(a, n, 0));
            HAK_EXPECT(hak_all_bytes(b, n, 0));
            HAK_EXPECT(hak_all_bytes(c, (n / 7 + 1) * 7, 0));
            HAK_EXPECT(hak_usable_size(c) >= (n / 7 + 1) * 7);
            hak_free(a);
            hak_free(b);
            hak_free(c);
        }
        void *z = hak_calloc(0, 0);
        HAK_EXPECT(z != NULL);
        hak_free(z);
    }
}

/* The same memory freed dirty and handed out again by calloc must read zero. */
HAK_TEST(Api, CallocZeroesReusedDirtyMemory) {
    static const size_t tiny[] = {8, 16, 24, 48, 100, 256, 1000, 4096, 12000, 32768};
    enum { K = 256 };
    void *p[K];
    for (size_t s = 0; s < sizeof tiny / sizeof tiny[0]; s++) {
        size_t n = tiny[s];
        for (int i = 0; i < K; i++) {
            p[i] = hak_malloc(n);
            HAK_ASSERT(p[i] != NULL);
            memset(p[i], 0xff, hak_usable_size(p[i]));
        }
        for (int i = K - 1; i >= 0; i--)
            hak_free(p[i]);
        for (int i = 0; i < K; i++) {
            p[i] = hak_calloc(1, n);
            HAK_ASSERT(p[i] != NULL);
            HAK_EXPECT(hak_all_bytes(p[i], n, 0));
        }
        for (int i = 0; i < K; i++)
            hak_free(p[i]);
    }
    static const size_t large[] = {32769, 40000, 100000, 1 << 20, 4 << 20};
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t s = 0; s < sizeof large / sizeof large[0]; s++) {
            /* One call site, so a site-keyed cache has every chance to hand it back. */
            for (int round = 0; round < 8; round++) {
                unsigned char *c = hak_calloc(large[s], 1);
                HAK_ASSERT(c != NULL);
                HAK_EXPECT(hak_all_bytes(c, large[s], 0));
                memset(c, 0xee, hak_usable_size(c));
                hak_free(c);
            }
            for (int round = 0; round < 4; round++) {
                unsigned char *m = hak_malloc(large[s]);
                HAK_ASSERT(m != NULL);
                memset(m, 0xdd, large[s]);
                hak_free(m);
                unsigned char *c = hak_calloc(1, large[s]);
                HAK_ASSERT(c != NULL);
                HAK_EXPECT(hak_all_bytes(c, large[s], 0));
                hak_free(c);
            }
        }
    }
}

HAK_TEST(Api, ReallocNullActsAsMalloc) {
    for (size_t i = 0; i < N_MIXED; i++) {
        unsigned char *p = hak_realloc(NULL, mixed_sizes[i]);
        HAK_ASSERT(p != NULL);
        HAK_EXPECT(hak_usable_size(p) >= mixed_sizes[i]);
        hak_fill(p, mixed_sizes[i], i);
        HAK_EXPECT(hak_check(p, mixed_sizes[i], i));
        hak_free(p);
    }
}

HAK_TEST(Api, ReallocToZeroFreesAndReturnsNull) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        void *small = hak_malloc(100);
        HAK_ASSERT(small != NULL);
        errno = 0;
        HAK_EXPECT(hak_realloc(small, 0) == NULL);

        uint64_t freed = hak_ctr("large_free");
        void *big = hak_malloc(1 << 20);
        HAK_ASSERT(big != NULL);
        memset(big, 1, 1 << 20);
        HAK_EXPECT(hak_realloc(big, 0) == NULL);
        HAK_EXPECT_EQ(hak_ctr("large_free"), freed + 1);
    }
}

/* Fills from bytes, reallocs to to bytes, checks the common prefix and writes all of the
 * new usable size. */
static void realloc_case(size_t from, size_t to, uint64_t seed) {
    unsigned char *p = hak_malloc(from);
    HAK_ASSERT(p != NULL);
    hak_fill(p, from, seed);
    unsigned char *q = hak_realloc(p, to);
    HAK_ASSERT(q != NULL);
    size_t keep = from < to ? from : to;
    HAK_EXPECT(hak_check(q, keep, seed));
    size_t u = hak_usable_size(q);
    HAK_EXPECT(u >= to);
    HAK_EXPECT(((uintptr_t)q & 15) == 0 || to <= 8);
    memset(q, 0x5a, u);
    hak_free(q);
}

static const size_t smalls[] = {1, 8, 24, 100, 1000, 4000, 20000, 32768};
static const size_t larges[] = {32769, 50000, 200000, 1 << 20, (4 << 20) + 5};
#define N_SMALLS (sizeof smalls / sizeof smalls[0])
#define N_LARGES (sizeof larges / sizeof larges[0])

HAK_TEST(Api, ReallocSmallToSmallKeepsContents) {
    for (size_t i = 0; i < N_SMALLS; i++)
        for (size_t j = 0; j < N_SMALLS; j++)
            realloc_case(smalls[i], smalls[j], i * 31 + j);
}

HAK_TEST(Api, ReallocSmallToLargeKeepsContents) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t i = 0; i < N_SMALLS; i++)
            for (size_t j = 0; j < N_LARGES; j++)
                realloc_case(smalls[i], larges[j], i * 31 + j);
    }
}

HAK_TEST(Api, ReallocLargeToSmallKeepsContents) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t i = 0; i < N_LARGES; i++)
            for (size_t j = 0; j < N_SMALLS; j++)
                realloc_case(larges[i], smalls[j], i * 31 + j);
    }
}

HAK_TEST(Api, ReallocLargeToLargeKeepsContents) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t i = 0; i < N_LARGES; i++)
            for (size_t j = 0; j < N_LARGES; j++)
                realloc_case(larges[i], larges[j], i * 31 + j);
    }
}

/* One block grown step by step to 6 MiB and shrunk back, contents checked each step. */
HAK_TEST(Api, ReallocGrowShrinkChainKeepsContents) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        size_t n = 1;
        unsigned char *p = hak_malloc(n);
        HAK_ASSERT(p != NULL);
        hak_fill(p, n, 77);
        while (n < (6u << 20)) {
            size_t m = n * 3 / 2 + 1;
            unsigned char *q = hak_realloc(p, m);
            HAK_ASSERT(q != NULL);
            HAK_EXPECT(hak_check(q, n, 77));
            hak_fill(q, m, 77);
            p = q;
            n = m;
        }
        while (n > 1) {
            size_t m = n / 3;
            if (m == 0)
                m = 1;
            unsigned char *q = hak_realloc(p, m);
            HAK_ASSERT(q != NULL);
            HAK_EXPECT(hak_check(q, m, 77));
            p = q;
            n = m;
        }
        hak_free(p);
    }
}

HAK_TEST(Api, ReallocOfAlignedBlockKeepsContents) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        static const size_t aligns[] = {64, 4096, 65536, 1 << 20};
        for (size_t a = 0; a < 4; a++) {
            unsigned char *p = hak_aligned_alloc(aligns[a], 100000);
            HAK_ASSERT(p != NULL);
            HAK_EXPECT(((uintptr_t)p & (aligns[a] - 1)) == 0);
            hak_fill(p, 100000, a);
            unsigned char *q = hak_realloc(p, 3 << 20);
            HAK_ASSERT(q != NULL);
            HAK_EXPECT(hak_check(q, 100000, a));
            unsigned char *r = hak_realloc(q, 5000);
            HAK_ASSERT(r != NULL);
            HAK_EXPECT(hak_check(r, 5000, a));
            hak_free(r);
        }
    }
}

HAK_TEST(Api, AlignedAllocAndPosixMemalignBasics) {
    void *a = hak_aligned_alloc(64, 1000);
    HAK_ASSERT(a != NULL);
    HAK_EXPECT(((uintptr_t)a & 63) == 0);
    HAK_EXPECT(hak_usable_size(a) >= 1000);
    memset(a, 1, 1000);
    hak_free(a);

    void *p = NULL;
    HAK_ASSERT_EQ(hak_posix_memalign(&p, 4096, 10000), 0);
    HAK_ASSERT(p != NULL);
    HAK_EXPECT(((uintptr_t)p & 4095) == 0);
    HAK_EXPECT(hak_usable_size(p) >= 10000);
    memset(p, 2, 10000);
    hak_free(p);
}

/* Blocks of every kind freed in an order unlike their allocation order. */
HAK_TEST(Api, InterleavedLifetimesKeepData) {
    enum { N = 4000 };
    void **p = calloc(N, sizeof *p);
    size_t *n = calloc(N, sizeof *n);
    HAK_ASSERT(p && n);
    uint64_t rng = 42;
    for (int round = 0; round < 6; round++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[round & 1]), 0);
        for (int i = 0; i < N; i++) {
            if (p[i]) {
                HAK_EXPECT(hak_check(p[i], n[i], (uint64_t)i * 131 + n[i]));
                hak_free(p[i]);
                p[i] = NULL;
            }
            if (hak_rand_next(&rng) % 3 == 0)
                continue;
            uint64_t r = hak_rand_next(&rng);
            n[i] = r % 100 == 0 ? 32769 + r % 300000 : r % 2048;
            p[i] = hak_malloc(n[i]);
            HAK_ASSERT(p[i] != NULL);
            hak_fill(p[i], n[i], (uint64_t)i * 131 + n[i]);
        }
    }
    for (int i = 0; i < N; i++) {
        if (p[i]) {
            HAK_EXPECT(hak_check(p[i], n[i], (uint64_t)i * 131 + n[i]));
            hak_free(p[i]);
        }
    }
    free(p);
    free(n);
}
