/* Bad input gets the C standard's answer and errno; failures leave old blocks intact.
 * Running out of address space is in test_oom.c. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

static const char *const policies[] = {"malloc", "mmap"};

/* Sizes no allocator can serve on x86-64 (user space is 47 bits = 128 TiB). */
static const size_t huge_sizes[] = {
    SIZE_MAX,           SIZE_MAX - 1,           SIZE_MAX - 4095,        SIZE_MAX / 2,
    (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62,       (size_t)1 << 50,
    ((size_t)1 << 48) + 12345,
};
#define N_HUGE (sizeof huge_sizes / sizeof huge_sizes[0])

HAK_TEST(Errors, MallocHugeReturnsNullENOMEM) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t i = 0; i < N_HUGE; i++) {
            errno = 0;
            void *p = hak_malloc(huge_sizes[i]);
            HAK_EXPECT(p == NULL);
            HAK_EXPECT_EQ(errno, ENOMEM);
            if (p)
                hak_free(p);
        }
    }
    /* And the allocator still works afterwards. */
    void *p = hak_malloc(1 << 20);
    HAK_ASSERT(p != NULL);
    hak_free(p);
}

HAK_TEST(Errors, CallocOverflowReturnsNullENOMEM) {
    static const size_t pairs[][2] = {
        {SIZE_MAX, 2},
        {2, SIZE_MAX},
        {SIZE_MAX / 2 + 1, 2},
        {(size_t)1 << 33, (size_t)1 << 33},
        {(size_t)1 << 32, (size_t)1 << 32},
        {SIZE_MAX, SIZE_MAX},
        {65537, SIZE_MAX / 65536},
    };
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            errno = 0;
            void *p = hak_calloc(pairs[i][0], pairs[i][1]);
            HAK_EXPECT(p == NULL);
            HAK_EXPECT_EQ(errno, ENOMEM);
        }
        /* No overflow but far too big. */
        for (size_t i = 0; i < N_HUGE; i++) {
            errno = 0;
            HAK_EXPECT(hak_calloc(1, huge_sizes[i]) == NULL);
            HAK_EXPECT_EQ(errno, ENOMEM);
        }
    }
}

HAK_TEST(Errors, AlignedAllocBadAlignmentEINVAL) {
    static const size_t bad[] = {0, 3, 5, 6, 12, 24, 48, 100, 1000, 4097, 3 << 20,
                                 SIZE_MAX, ((size_t)1 << 63) + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = hak_aligned_alloc(bad[i], 64);
        HAK_EXPECT(p == NULL);
        HAK_EXPECT_EQ(errno, EINVAL);
    }
}

HAK_TEST(Errors, AlignedAllocHugeSizeENOMEM) {
    static const size_t aligns[] = {16, 64, 4096, 1 << 20};
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t a = 0; a < 4; a++) {
            for (size_t i = 0; i < N_HUGE; i++) {
                errno = 0;
                void *p = hak_aligned_alloc(aligns[a], huge_sizes[i]);
                HAK_EXPECT(p == NULL);
                HAK_EXPECT_EQ(errno, ENOMEM);
            }
        }
    }
}

HAK_TEST(Errors, PosixMemalignBadAlignmentEINVALOutUntouched) {
    /* 0, not a power of two, or not a multiple of sizeof(void *). */
    static const size_t bad[] = {0, 1, 2, 3, 4, 6, 12, 24, 40, 48, 100, 4097, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *sentinel = (void *)(uintptr_t)0x1234560;
        void *out = sentinel;
        int rc = hak_posix_memalign(&out, bad[i], 64);
        HAK_EXPECT_EQ(rc, EINVAL);
        HAK_EXPECT(out == sentinel);
    }
}

HAK_TEST(Errors, PosixMemalignHugeSizeENOMEMOutUntouched) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t i = 0; i < N_HUGE; i++) {
            void *sentinel = (void *)(uintptr_t)0x7654320;
            void *out = sentinel;
            int rc = hak_posix_memalign(&out, 64, huge_sizes[i]);
            HAK_EXPECT_EQ(rc, ENOMEM);
            HAK_EXPECT(out == sentinel);
        }
    }
}

/* A failed realloc returns NULL with ENOMEM and the old block is untouched and still ours. */
static void realloc_failure_case(size_t n, uint64_t seed) {
    unsigned char *p = hak_malloc(n);
    HAK_ASSERT(p != NULL);
    size_t u = hak_usable_size(p);
    hak_fill(p, n, seed);
    for (size_t i = 0; i < N_HUGE; i++) {
        errno = 0;
        void *q = hak_realloc(p, huge_sizes[i]);
        HAK_EXPECT(q == NULL);
        HAK_EXPECT_EQ(errno, ENOMEM);
        if (q) {
            p = q; /* should not happen; keep the test from leaking or crashing */
            break;
        }
        HAK_EXPECT(hak_check(p, n, seed));
        HAK_EXPECT_EQ(hak_usable_size(p), u);
    }
    /* Still a live block: it can grow and be freed normally. */
    unsigned char *q = hak_realloc(p, n * 2 + 1);
    HAK_ASSERT(q != NULL);
    HAK_EXPECT(hak_check(q, n, seed));
    hak_free(q);
}

HAK_TEST(Errors, ReallocFailureKeepsOldBlock) {
    static const size_t sizes[] = {1, 16, 100, 4096, 32768, 32769, 200000, 3 << 20};
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            realloc_failure_case(sizes[i], i + 10 * pol);
        /* An over-aligned large block too. */
        unsigned char *a = hak_aligned_alloc(65536, 100000);
        HAK_ASSERT(a != NULL);
        hak_fill(a, 100000, 99);
        errno = 0;
        HAK_EXPECT(hak_realloc(a, SIZE_MAX / 2) == NULL);
        HAK_EXPECT_EQ(errno, ENOMEM);
        HAK_EXPECT(hak_check(a, 100000, 99));
        hak_free(a);
    }
}

/* A valid power-of-two alignment that no mapping can honour: NULL, never a crash or a
 * misaligned block. */
HAK_TEST(Errors, ImpossibleAlignmentReturnsNull) {
    static const size_t aligns[] = {(size_t)1 << 47, (size_t)1 << 48, (size_t)1 << 62,
                                    (size_t)1 << 63};
    static const size_t sizes[] = {1, 100, 100000, 3 << 20};
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t a = 0; a < 4; a++) {
            for (size_t s = 0; s < 4; s++) {
                errno = 0;
                void *p = hak_aligned_alloc(aligns[a], sizes[s]);
                HAK_EXPECT(p == NULL);
                HAK_EXPECT(errno == ENOMEM || errno == EINVAL);
                if (p)
                    hak_free(p);
                void *sentinel = (void *)(uintptr_t)0xabc0;
                void *out = sentinel;
                int rc = hak_posix_memalign(&out, aligns[a], sizes[s]);
                HAK_EXPECT(rc == ENOMEM || rc == EINVAL);
                HAK_EXPECT(out == sentinel);
                if (rc == 0 && out != sentinel)
                    hak_free(out);
            }
        }
    }
}
