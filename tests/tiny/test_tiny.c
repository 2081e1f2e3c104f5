/* Tiny (requests up to 32 KiB): every size gets its own non-overlapping block, many live
 * blocks keep their data whatever the free order; the parts of a slab's remote-free word. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"
#include "tiny/heap.h"

static void size_case(size_t n) {
    enum { K = 32 };
    unsigned char *p[K];
    for (int i = 0; i < K; i++) {
        p[i] = hak_malloc(n);
        HAK_ASSERT(p[i] != NULL);
        HAK_EXPECT(hak_usable_size(p[i]) >= n);
        hak_fill(p[i], hak_usable_size(p[i]), n * 64 + (size_t)i);
    }
    /* No two blocks overlap: each fill survived the others. */
    for (int i = 0; i < K; i++) {
        HAK_EXPECT(hak_check(p[i], hak_usable_size(p[i]), n * 64 + (size_t)i));
        for (int j = i + 1; j < K; j++) {
            uintptr_t a = (uintptr_t)p[i], b = (uintptr_t)p[j];
            HAK_EXPECT(a + n <= b || b + n <= a);
        }
    }
    for (int i = 0; i < K; i++)
        hak_free(p[i]);
}

HAK_TEST(Tiny, EverySizeGetsSeparateBlocks) {
    for (size_t n = 1; n <= 1024; n++)
        size_case(n);
    for (size_t n = 1025; n <= 32768; n += 61)
        size_case(n);
    size_case(32768);
}

static void shuffle(void **p, size_t *n, size_t count, uint64_t *rng) {
    for (size_t i = count - 1; i > 0; i--) {
        size_t j = hak_rand_next(rng) % (i + 1);
        void *tp = p[i];
        p[i] = p[j];
        p[j] = tp;
        size_t tn = n[i];
        n[i] = n[j];
        n[j] = tn;
    }
}

/* 100 000 live blocks of random small sizes, freed LIFO, FIFO and in random order. */
HAK_TEST(Tiny, ManyLiveBlocksAnyFreeOrder) {
    enum { N = 100000 };
    void **p = malloc(N * sizeof *p);
    size_t *n = malloc(N * sizeof *n);
    HAK_ASSERT(p && n);
    uint64_t rng = 7;
    for (int order = 0; order < 3; order++) {
        for (size_t i = 0; i < N; i++) {
            n[i] = 1 + hak_rand_next(&rng) % 2048;
            p[i] = hak_malloc(n[i]);
            HAK_ASSERT(p[i] != NULL);
            hak_fill(p[i], n[i], (uint64_t)(uintptr_t)p[i]);
        }
        if (order == 2)
            shuffle(p, n, N, &rng);
        size_t bad = 0;
        for (size_t k = 0; k < N; k++) {
            size_t i = order == 0 ? N - 1 - k : k;
            if (!hak_check(p[i], n[i], (uint64_t)(uintptr_t)p[i]))
                bad++;
            hak_free(p[i]);
        }
        HAK_EXPECT_EQ(bad, 0);
    }
    free(p);
    free(n);
}

/* Blocks freed and allocated again are handed out again, not leaked: a steady churn of one
 * size stays within a small footprint. */
HAK_TEST(Tiny, ChurnOfOneSizeReusesMemory) {
    enum { LIVE = 1000 };
    void *p[LIVE] = {0};
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < LIVE; i++) {
            if (p[i])
                hak_free(p[i]);
            p[i] = hak_malloc(200);
            HAK_ASSERT(p[i] != NULL);
            memset(p[i], round, 200);
        }
    }
    uint64_t base = hak_ctr("os_mapped_bytes") - hak_ctr("os_unmapped_bytes");
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < LIVE; i++) {
            hak_free(p[i]);
            p[i] = hak_malloc(200);
            HAK_ASSERT(p[i] != NULL);
            memset(p[i], round, 200);
        }
    }
    uint64_t end = hak_ctr("os_mapped_bytes") - hak_ctr("os_unmapped_bytes");
    /* 200 rounds x 200 KB would be 40 MB if nothing were reused. */
    HAK_EXPECT(end <= base + (4u << 20));
    for (int i = 0; i < LIVE; i++)
        hak_free(p[i]);
}

HAK_TEST(Tiny, MallocZeroAndOneAreDistinct) {
    void *p[64];
    for (int i = 0; i < 64; i++) {
        p[i] = hak_malloc((size_t)(i & 1));
        HAK_ASSERT(p[i] != NULL);
        for (int j = 0; j < i; j++)
            HAK_EXPECT(p[i] != p[j]);
    }
    for (int i = 0; i < 64; i++)
        hak_free(p[i]);
}

/* Slabs emptied in one size class serve another: 48 MiB of 64-byte blocks freed, then 48 MiB
 * of 1 KiB blocks allocated; hakmem's net mapping must not grow by the second 48 MiB. The
 * emptied slabs are either kept and reused (SuperSlabs: the net mapping stays) or given back
 * and mapped again (the page provider: it falls, then rises again); in both cases it ends
 * near its peak of the first phase, not 48 MiB above it. */
HAK_TEST(Tiny, EmptySlabsServeOtherClasses) {
    enum { SMALL_N = (48 << 20) / 64, BIG_N = (48 << 20) / 1024 };
    void **p = malloc(SMALL_N * sizeof *p);
    HAK_ASSERT(p != NULL);
    for (int i = 0; i < SMALL_N; i++) {
        p[i] = hak_malloc(64);
        HAK_ASSERT(p[i] != NULL);
        ((char *)p[i])[0] = 1;
    }
    uint64_t small_peak = hak_ctr("os_mapped_bytes") - hak_ctr("os_unmapped_bytes");
    for (int i = 0; i < SMALL_N; i++)
        hak_free(p[i]);
    uint64_t after_small = hak_ctr("os_mapped_bytes") - hak_ctr("os_unmapped_bytes");
    for (int i = 0; i < BIG_N; i++) {
        p[i] = hak_malloc(1024);
        HAK_ASSERT(p[i] != NULL);
        memset(p[i], 2, 1024);
    }
    uint64_t after_big = hak_ctr("os_mapped_bytes") - hak_ctr("os_unmapped_bytes");
    hak_test_note("net mapped %llu KiB with 48 MiB of 64 B live, %llu KiB after freeing them, "
                  "%llu KiB with 48 MiB of 1 KiB live",
                  (unsigned long long)(small_peak >> 10), (unsigned long long)(after_small >> 10),
                  (unsigned long long)(after_big >> 10));
    /* Either the emptied slabs were given back (net fell) or reused: not both held. */
    HAK_EXPECT(after_big <= small_peak + (16u << 20));
    for (int i = 0; i < BIG_N; i++)
        hak_free(p[i]);
    free(p);
}

/* A slab's remote-free word (tiny/heap.h): the queue's first block, the queued flag and a
 * generation that every take raises. The generation is what makes a cross-thread free that
 * read the word before a take fail its CAS, even when the queue is back to empty. */
HAK_TEST(TinyRemoteWord, PushTakeAndGeneration) {
    static hak_slab s; /* zeroed: empty queue, generation 0 */
    void *p = (void *)(uintptr_t)0x7ffffffff000; /* the highest user block address's shape */
    void *q = (void *)(uintptr_t)0x10000;

    uintptr_t w = atomic_load(&s.remote_free);
    HAK_EXPECT(!hak_tiny_remote_busy(w));
    HAK_EXPECT(hak_tiny_remote_list(w) == NULL);

    w = hak_tiny_remote_pushed(w, p);
    HAK_EXPECT(hak_tiny_remote_list(w) == p);
    HAK_EXPECT(hak_tiny_remote_busy(w));
    HAK_EXPECT_EQ(w & HAK_TINY_REMOTE_QUEUED, HAK_TINY_REMOTE_QUEUED);
    atomic_store(&s.remote_free, w);

    /* A take that keeps the flag: the queue is empty, the slab still queued. */
    HAK_EXPECT(hak_tiny_remote_list(hak_tiny_remote_take(&s, 1)) == p);
    w = atomic_load(&s.remote_free);
    HAK_EXPECT(hak_tiny_remote_list(w) == NULL);
    HAK_EXPECT(hak_tiny_remote_busy(w)); /* the flag alone */
    HAK_EXPECT_EQ(w / HAK_TINY_REMOTE_GEN, 1);

    /* A push keeps the generation it found. */
    w = hak_tiny_remote_pushed(w, q);
    HAK_EXPECT(hak_tiny_remote_list(w) == q);
    HAK_EXPECT_EQ(w / HAK_TINY_REMOTE_GEN, 1);
    atomic_store(&s.remote_free, w);

    /* A take that clears the flag: the word is idle again, one generation on. */
    uintptr_t stale = hak_tiny_remote_take(&s, 0);
    HAK_EXPECT(hak_tiny_remote_list(stale) == q);
    w = atomic_load(&s.remote_free);
    HAK_EXPECT(!hak_tiny_remote_busy(w));
    HAK_EXPECT_EQ(w / HAK_TINY_REMOTE_GEN, 2);

    /* A free that read the idle word before a take (here: before the adopter's flag and
     * take of take_slab) cannot land after it, although the queue is empty and idle again. */
    uintptr_t seen = w;
    atomic_store(&s.remote_free, w | HAK_TINY_REMOTE_QUEUED);
    hak_tiny_remote_take(&s, 0);
    HAK_EXPECT(!hak_tiny_remote_busy(atomic_load(&s.remote_free)));
    HAK_EXPECT(!atomic_compare_exchange_strong(&s.remote_free, &seen,
                                               hak_tiny_remote_pushed(seen, p)));

    /* The generation wraps without touching the pointer bits. */
    atomic_store(&s.remote_free, ~(HAK_TINY_REMOTE_GEN - 1) | (uintptr_t)q);
    HAK_EXPECT(hak_tiny_remote_list(hak_tiny_remote_take(&s, 0)) == q);
    HAK_EXPECT_EQ(atomic_load(&s.remote_free), 0);
}
