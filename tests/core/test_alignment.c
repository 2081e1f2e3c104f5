/* Alignment: hak_aligned_alloc / hak_posix_memalign for every power of two from 8 B to
 * 1 MiB (and a few beyond), and the 16-byte rule for every plain allocation. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

static const char *const policies[] = {"malloc", "mmap"};

/* Sizes tried with alignment a: 0, 1, odd, small, around a, and large. */
static size_t sizes_for(size_t a, size_t out[16]) {
    size_t k = 0;
    out[k++] = 0;
    out[k++] = 1;
    out[k++] = 7;
    out[k++] = 13;
    out[k++] = 100;
    out[k++] = a - 1;
    out[k++] = a;
    out[k++] = a + 1;
    out[k++] = 3 * a + 5;
    out[k++] = 4095;
    out[k++] = 32768;
    out[k++] = 32769;
    out[k++] = 100001;
    out[k++] = (1 << 20) + 3;
    return k;
}

static int aligned_ok(const void *p, size_t a, size_t n) {
    uintptr_t u = (uintptr_t)p;
    if (u & (a - 1))
        return 0;
    /* The 16-byte rule holds for every result of more than 8 bytes. */
    if (n > 8 && (u & 15))
        return 0;
    return 1;
}

/* Allocates every size with alignment a through aligned_alloc or posix_memalign, keeps them
 * all live, fills each up to its usable size, checks, frees. */
static void alignment_case(size_t a, int use_posix, uint64_t seed) {
    size_t sizes[16];
    size_t k = sizes_for(a, sizes);
    void *p[16];
    size_t u[16];
    for (size_t i = 0; i < k; i++) {
        p[i] = NULL;
        if (use_posix) {
            void *out = NULL;
            int rc = hak_posix_memalign(&out, a, sizes[i]);
            HAK_EXPECT_EQ(rc, 0);
            p[i] = out;
        } else {
            p[i] = hak_aligned_alloc(a, sizes[i]);
        }
        HAK_ASSERT(p[i] != NULL);
        if (!aligned_ok(p[i], a, sizes[i]))
            hak_test_note("alignment %zu size %zu -> %p", a, sizes[i], p[i]);
        HAK_EXPECT(aligned_ok(p[i], a, sizes[i]));
        u[i] = hak_usable_size(p[i]);
        HAK_EXPECT(u[i] >= sizes[i]);
        hak_fill(p[i], u[i], seed + i);
    }
    for (size_t i = 0; i < k; i++) {
        HAK_EXPECT(hak_check(p[i], u[i], seed + i));
        hak_free(p[i]);
    }
}

HAK_TEST(Alignment, AlignedAllocEveryPowerOfTwo8BTo1MiB) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t a = 8; a <= (1u << 20); a <<= 1)
            alignment_case(a, 0, a * 3 + pol);
    }
}

HAK_TEST(Alignment, PosixMemalignEveryPowerOfTwo8BTo1MiB) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t a = 8; a <= (1u << 20); a <<= 1)
            alignment_case(a, 1, a * 5 + pol);
    }
}

/* Many blocks with one alignment live at once: they must not overlap either. */
HAK_TEST(Alignment, ManyAlignedBlocksLiveAtOnce) {
    enum { N = 200 };
    void *p[N];
    static const size_t aligns[] = {32, 64, 256, 4096, 65536};
    for (size_t a = 0; a < 5; a++) {
        for (int i = 0; i < N; i++) {
            size_t n = 1 + (size_t)i * 37;
            p[i] = hak_aligned_alloc(aligns[a], n);
            HAK_ASSERT(p[i] != NULL);
            HAK_EXPECT(((uintptr_t)p[i] & (aligns[a] - 1)) == 0);
            hak_fill(p[i], n, (uint64_t)i * 17 + a);
        }
        for (int i = 0; i < N; i++) {
            HAK_EXPECT(hak_check(p[i], 1 + (size_t)i * 37, (uint64_t)i * 17 + a));
            hak_free(p[i]);
        }
    }
}

/* Alignments above 1 MiB are still powers of two: 2, 4 and 16 MiB. */
HAK_TEST(Alignment, AlignmentsAbove1MiB) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t a = 2u << 20; a <= (16u << 20); a <<= 1) {
            if (a == (8u << 20))
                continue;
            void *p = hak_aligned_alloc(a, 1000);
            HAK_ASSERT(p != NULL);
            HAK_EXPECT(((uintptr_t)p & (a - 1)) == 0);
            HAK_EXPECT(hak_usable_size(p) >= 1000);
            memset(p, 0x33, hak_usable_size(p));
            hak_free(p);
        }
    }
}

/* Every size from 0 to 64 KiB, 64 live at a time: 16-byte aligned above 8 bytes, usable
 * size covers the request, first and last byte writable. */
HAK_TEST(Alignment, MallocSixteenByteAlignedEverySizeTo64KiB) {
    enum { BATCH = 64 };
    unsigned char *live[BATCH];
    size_t sizes[BATCH];
    size_t k = 0;
    size_t misaligned = 0, short_usable = 0;
    for (size_t n = 0; n <= 65536; n++) {
        unsigned char *p = hak_malloc(n);
        HAK_ASSERT(p != NULL);
        if (n > 8 ? ((uintptr_t)p & 15) != 0 : ((uintptr_t)p & 7) != 0) {
            if (misaligned++ < 5)
                hak_test_note("malloc(%zu) = %p", n, (void *)p);
        }
        if (hak_usable_size(p) < n)
            short_usable++;
        if (n) {
            p[n - 1] = (unsigned char)(n >> 3);
            p[0] = (unsigned char)n;
        }
        live[k] = p;
        sizes[k] = n;
        if (++k == BATCH || n == 65536) {
            for (size_t i = 0; i < k; i++) {
                if (sizes[i]) {
                    HAK_EXPECT(live[i][0] == (unsigned char)sizes[i]);
                    if (sizes[i] > 1)
                        HAK_EXPECT(live[i][sizes[i] - 1] == (unsigned char)(sizes[i] >> 3));
                }
                hak_free(live[i]);
            }
            k = 0;
        }
    }
    HAK_EXPECT_EQ(misaligned, 0);
    HAK_EXPECT_EQ(short_usable, 0);
}

HAK_TEST(Alignment, MallocSixteenByteAlignedMiBSizes) {
    for (int pol = 0; pol < 2; pol++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", policies[pol]), 0);
        for (size_t n = (1u << 20) - 17; n < (24u << 20); n = n * 2 + 13) {
            unsigned char *p = hak_malloc(n);
            HAK_ASSERT(p != NULL);
            HAK_EXPECT(((uintptr_t)p & 15) == 0);
            HAK_EXPECT(hak_usable_size(p) >= n);
            p[0] = 1;
            p[n - 1] = 2;
            hak_free(p);
        }
    }
}

HAK_TEST(Alignment, CallocAndReallocResultsSixteenByteAligned) {
    for (size_t n = 9; n < 200000; n = n * 3 / 2 + 1) {
        void *c = hak_calloc(1, n);
        HAK_ASSERT(c != NULL);
        HAK_EXPECT(((uintptr_t)c & 15) == 0);
        void *r = hak_realloc(c, n * 2 + 1);
        HAK_ASSERT(r != NULL);
        HAK_EXPECT(((uintptr_t)r & 15) == 0);
        void *s = hak_realloc(r, n / 2 + 9);
        HAK_ASSERT(s != NULL);
        HAK_EXPECT(((uintptr_t)s & 15) == 0);
        hak_free(s);
    }
}
