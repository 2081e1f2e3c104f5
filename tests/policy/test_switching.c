/* Switching large.policy between malloc and mmap while threads allocate and free large
 * blocks: every block keeps its data and is freed by the backend that made it, and the
 * counters balance (every large block allocated is freed exactly once). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

enum { THREADS = 4, SLOTS = 24 };

static atomic_int stop_flag;
static atomic_long corrupt_blocks, failed_allocs, ops_done;

struct worker {
    pthread_t tid;
    int id;
};

static void *large_worker(void *argp) {
    struct worker *w = argp;
    unsigned char *blk[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    uint64_t seed[SLOTS] = {0};
    uint64_t rng = 0x1234 + (uint64_t)w->id * 7777;
    long ops = 0;
    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed) || ops < 400) {
        int s = (int)(hak_rand_next(&rng) % SLOTS);
        if (blk[s]) {
            if (!hak_check(blk[s], len[s], seed[s]))
                atomic_fetch_add(&corrupt_blocks, 1);
            if (hak_rand_next(&rng) % 4 == 0) {
                /* realloc across a switch: the block stays with its maker or moves */
                size_t n = 32769 + hak_rand_next(&rng) % (3u << 20);
                unsigned char *q = hak_realloc(blk[s], n);
                if (!q) {
                    atomic_fetch_add(&failed_allocs, 1);
                    hak_free(blk[s]);
                    blk[s] = NULL;
                    continue;
                }
                size_t keep = n < len[s] ? n : len[s];
                if (!hak_check(q, keep, seed[s]))
                    atomic_fetch_add(&corrupt_blocks, 1);
                blk[s] = q;
                len[s] = n;
                hak_fill(q, n, seed[s]);
                ops++;
                continue;
            }
            hak_free(blk[s]);
            blk[s] = NULL;
        }
        size_t n = 32769 + hak_rand_next(&rng) % (2u << 20);
        unsigned char *p = hak_rand_next(&rng) % 8 == 0 ? hak_calloc(1, n) : hak_malloc(n);
        if (!p) {
            atomic_fetch_add(&failed_allocs, 1);
            continue;
        }
        blk[s] = p;
        len[s] = n;
        seed[s] = hak_rand_next(&rng);
        hak_fill(p, n, seed[s]);
        ops++;
    }
    for (int s = 0; s < SLOTS; s++) {
        if (!blk[s])
            continue;
        if (!hak_check(blk[s], len[s], seed[s]))
            atomic_fetch_add(&corrupt_blocks, 1);
        hak_free(blk[s]);
    }
    atomic_fetch_add(&ops_done, ops);
    return NULL;
}

HAK_TEST(Switching, FourThreadsWhileLargePolicyFlips) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "malloc"), 0);
    uint64_t a_malloc = hak_ctr("large_alloc_malloc");
    uint64_t a_mmap = hak_ctr("large_alloc_mmap");
    uint64_t freed = hak_ctr("large_free");
    uint64_t switches = hak_ctr("policy_switch");
    atomic_store(&stop_flag, 0);
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].id = i;
        HAK_ASSERT_EQ(pthread_create(&w[i].tid, NULL, large_worker, &w[i]), 0);
    }
    int flips = 0;
    for (int round = 0; round < 300; round++) {
        const char *name = round & 1 ? "malloc" : "mmap";
        /* Both ways of selecting: the registry and the config API. */
        int rc = round % 4 < 2 ? hak_policy_select(HAK_SLOT_LARGE, name)
                               : hak_config_set("large.policy", name);
        HAK_EXPECT_EQ(rc, 0);
        flips += rc == 0;
        /* The main thread allocates under each policy too, so both backends are used. */
        unsigned char *p = hak_malloc(65536 + (size_t)round);
        HAK_EXPECT(p != NULL);
        if (p) {
            hak_fill(p, 65536, (uint64_t)round);
            HAK_EXPECT(hak_check(p, 65536, (uint64_t)round));
            hak_free(p);
        }
        usleep(500);
    }
    atomic_store(&stop_flag, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(w[i].tid, NULL);
    HAK_ASSERT_EQ(hak_config_set("large.policy", "malloc"), 0);

    HAK_EXPECT_EQ(atomic_load(&corrupt_blocks), 0);
    HAK_EXPECT_EQ(atomic_load(&failed_allocs), 0);
    HAK_EXPECT(atomic_load(&ops_done) >= THREADS * 400);
    uint64_t d_malloc = hak_ctr("large_alloc_malloc") - a_malloc;
    uint64_t d_mmap = hak_ctr("large_alloc_mmap") - a_mmap;
    uint64_t d_free = hak_ctr("large_free") - freed;
    hak_test_note("large allocs: malloc %llu, mmap %llu; frees %llu; flips %d",
                  (unsigned long long)d_malloc, (unsigned long long)d_mmap,
                  (unsigned long long)d_free, flips);
    HAK_EXPECT(d_malloc >= 150);
    HAK_EXPECT(d_mmap >= 150);
    HAK_EXPECT_EQ(d_malloc + d_mmap, d_free);
    HAK_EXPECT(hak_ctr("policy_switch") - switches >= (uint64_t)flips);
}

/* A block keeps its backend: allocated under one policy, freed or grown under the other. */
HAK_TEST(Switching, BlockFreedByItsMakerAfterSwitch) {
    static const char *const order[][2] = {{"malloc", "mmap"}, {"mmap", "malloc"}};
    for (int o = 0; o < 2; o++) {
        HAK_ASSERT_EQ(hak_config_set("large.policy", order[o][0]), 0);
        enum { N = 16 };
        unsigned char *p[N];
        size_t n[N];
        for (int i = 0; i < N; i++) {
            n[i] = 40000 + (size_t)i * 150000;
            p[i] = hak_malloc(n[i]);
            HAK_ASSERT(p[i] != NULL);
            hak_fill(p[i], n[i], (uint64_t)i + 100 * o);
        }
        HAK_ASSERT_EQ(hak_config_set("large.policy", order[o][1]), 0);
        uint64_t freed = hak_ctr("large_free");
        for (int i = 0; i < N; i += 2) {
            HAK_EXPECT(hak_check(p[i], n[i], (uint64_t)i + 100 * o));
            HAK_EXPECT(hak_usable_size(p[i]) >= n[i]);
            hak_free(p[i]);
        }
        HAK_EXPECT_EQ(hak_ctr("large_free"), freed + N / 2);
        for (int i = 1; i < N; i += 2) {
            unsigned char *q = hak_realloc(p[i], n[i] * 2);
            HAK_ASSERT(q != NULL);
            HAK_EXPECT(hak_check(q, n[i], (uint64_t)i + 100 * o));
            unsigned char *r = hak_realloc(q, n[i] / 3);
            HAK_ASSERT(r != NULL);
            HAK_EXPECT(hak_check(r, n[i] / 3, (uint64_t)i + 100 * o));
            hak_free(r);
        }
    }
    HAK_EXPECT_EQ(hak_config_set("large.policy", "malloc"), 0);
}

/* Many threads selecting at once: every call succeeds and the slot ends on a valid name. */
static void *selector(void *arg) {
    intptr_t id = (intptr_t)arg;
    long bad = 0;
    for (int i = 0; i < 5000; i++) {
        const char *name = (i + id) & 1 ? "mmap" : "malloc";
        if (hak_policy_select(HAK_SLOT_LARGE, name) != 0)
            bad++;
        const char *cur = hak_policy_current(HAK_SLOT_LARGE);
        if (!cur || (strcmp(cur, "mmap") != 0 && strcmp(cur, "malloc") != 0))
            bad++;
    }
    return (void *)bad;
}

HAK_TEST(Switching, ConcurrentSelectsStayConsistent) {
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        HAK_ASSERT_EQ(pthread_create(&t[i], NULL, selector, (void *)i), 0);
    long bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    HAK_EXPECT_EQ(bad, 0);
    HAK_EXPECT_EQ(hak_policy_select(HAK_SLOT_LARGE, "malloc"), 0);
}

/* The ELO-armed policy (when built in) under the same four-thread load, switched with the
 * built-ins: every block keeps its data and the counters balance. */
HAK_TEST(Switching, EloPolicyUnderThreads) {
    const char *names[64];
    size_t n = hak_policy_list(HAK_SLOT_LARGE, names, 64);
    int have_elo = 0;
    for (size_t i = 0; i < n && i < 64; i++)
        have_elo |= strcmp(names[i], "elo") == 0;
    if (!have_elo)
        HAK_SKIP("no elo policy registered");
    uint64_t a0 = hak_ctr("large_alloc_malloc") + hak_ctr("large_alloc_mmap");
    uint64_t f0 = hak_ctr("large_free");
    atomic_store(&stop_flag, 0);
    atomic_store(&corrupt_blocks, 0);
    atomic_store(&failed_allocs, 0);
    HAK_ASSERT_EQ(hak_config_set("large.policy", "elo"), 0);
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].id = i + 10;
        HAK_ASSERT_EQ(pthread_create(&w[i].tid, NULL, large_worker, &w[i]), 0);
    }
    static const char *const cycle[] = {"elo", "mmap", "elo", "malloc"};
    for (int round = 0; round < 80; round++) {
        HAK_EXPECT_EQ(hak_config_set("large.policy", cycle[round % 4]), 0);
        usleep(2000);
    }
    atomic_store(&stop_flag, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(w[i].tid, NULL);
    HAK_EXPECT_EQ(atomic_load(&corrupt_blocks), 0);
    HAK_EXPECT_EQ(atomic_load(&failed_allocs), 0);
    uint64_t a1 = hak_ctr("large_alloc_malloc") + hak_ctr("large_alloc_mmap");
    HAK_EXPECT(a1 > a0);
    HAK_EXPECT_EQ(hak_ctr("large_free") - f0, a1 - a0);
    HAK_EXPECT_EQ(hak_config_set("large.policy", "malloc"), 0);
}
