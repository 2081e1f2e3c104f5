/* Tiny across threads: blocks a living thread made and another thread freed (remote frees)
 * come back to the maker, so a producer/consumer pair runs in bounded memory; and when the
 * maker stays idle, the freeing thread gives the maker's emptied slabs back for others. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

enum { BLOCKS = 20000, ROUNDS = 60 };

static pthread_barrier_t made, freed;
static unsigned char **blocks;
static int maker_failed;

static void *maker(void *arg) {
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < BLOCKS; i++) {
            blocks[i] = hak_malloc(64);
            if (!blocks[i]) {
                maker_failed = 1;
                continue;
            }
            hak_fill(blocks[i], 64, (uint64_t)(uintptr_t)blocks[i]);
        }
        pthread_barrier_wait(&made);
        pthread_barrier_wait(&freed);
    }
    return NULL;
}

/* 20 000 x 64 B per round is 1.25 MiB; 60 rounds would be 75 MiB if remote frees never
 * came back. The bound, 16 MiB over the state after 5 rounds, allows generous caching. */
HAK_TEST(TinyThreads, RemoteFreesComeBackToTheMaker) {
    blocks = calloc(BLOCKS, sizeof *blocks);
    HAK_ASSERT(blocks != NULL);
    pthread_barrier_init(&made, NULL, 2);
    pthread_barrier_init(&freed, NULL, 2);
    pthread_t t;
    HAK_ASSERT_EQ(pthread_create(&t, NULL, maker, NULL), 0);
    uint64_t base = 0;
    size_t corrupt = 0;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&made);
        for (int i = 0; i < BLOCKS; i++) {
            if (!blocks[i])
                continue;
            if (!hak_check(blocks[i], 64, (uint64_t)(uintptr_t)blocks[i]))
                corrupt++;
            hak_free(blocks[i]);
            blocks[i] = NULL;
        }
        if (r == 4)
            base = hak_ctr("os_mapped_bytes") - hak_ctr("os_unmapped_bytes");
        pthread_barrier_wait(&freed);
    }
    pthread_join(t, NULL);
    uint64_t end = hak_ctr("os_mapped_bytes") - hak_ctr("os_unmapped_bytes");
    hak_test_note("net mapped %llu KiB -> %llu KiB", (unsigned long long)(base >> 10),
                  (unsigned long long)(end >> 10));
    HAK_EXPECT_EQ(maker_failed, 0);
    HAK_EXPECT_EQ(corrupt, 0);
    HAK_EXPECT(end <= base + (16u << 20));
    free(blocks);
}

/* The maker allocates, then waits (blocked in pthread_join) while another thread frees
 * everything: 2000 blocks of 16 KiB are 500 slabs of the maker's, and the maker never runs
 * a slow path again to look at them. The freeing thread processes the idle heap's ready
 * stack for it (every 32 queued slabs), so the emptied slabs go back to the provider, where
 * any thread can take them; before, they stayed with the idle maker. At most 31 slabs stay
 * queued, 2 in the maker's empty reserve and its current one. */
enum { IDLE_BLOCKS = 2000, IDLE_SIZE = 16000 };
static void *idle_blocks[IDLE_BLOCKS];

static void *free_all(void *arg) {
    (void)arg;
    for (int i = 0; i < IDLE_BLOCKS; i++)
        hak_free(idle_blocks[i]);
    return NULL;
}

HAK_TEST(TinyThreads, SlabsEmptiedForAnIdleThreadGoBackToTheProvider) {
    for (int i = 0; i < IDLE_BLOCKS; i++) {
        idle_blocks[i] = hak_malloc(IDLE_SIZE);
        HAK_ASSERT(idle_blocks[i] != NULL);
        hak_fill(idle_blocks[i], IDLE_SIZE, (uint64_t)i);
    }
    uint64_t released = hak_ctr("slab_release"), drains = hak_ctr("tiny_heap_drain");
    pthread_t t;
    HAK_ASSERT_EQ(pthread_create(&t, NULL, free_all, NULL), 0);
    HAK_ASSERT_EQ(pthread_join(t, NULL), 0);
    released = hak_ctr("slab_release") - released;
    drains = hak_ctr("tiny_heap_drain") - drains;
    hak_test_note("slabs released while the maker was idle: %llu, drains: %llu",
                  (unsigned long long)released, (unsigned long long)drains);
    HAK_EXPECT(drains >= 10);
    HAK_EXPECT(released >= 400);
    /* The maker's heap is sound after others processed it: its blocks come out whole and
     * distinct. */
    for (int i = 0; i < IDLE_BLOCKS; i++) {
        idle_blocks[i] = hak_malloc(IDLE_SIZE);
        HAK_ASSERT(idle_blocks[i] != NULL);
        hak_fill(idle_blocks[i], IDLE_SIZE, (uint64_t)i + 7);
    }
    size_t corrupt = 0;
    for (int i = 0; i < IDLE_BLOCKS; i++)
        corrupt += !hak_check(idle_blocks[i], IDLE_SIZE, (uint64_t)i + 7);
    HAK_EXPECT_EQ(corrupt, 0);
    for (int i = 0; i < IDLE_BLOCKS; i++)
        hak_free(idle_blocks[i]);
}

/* A producer that works in bursts and pauses, a consumer that checks and frees every block:
 * the consumer's drains of the producer's heap (how many is noted: they come when 32 slabs
 * were queued between two of the producer's own looks, mostly in its pauses) run while the
 * producer refills. Every block arrives whole: a block handed out twice, or a list broken
 * by the two, would show. That drains happen at all is the test above's. */
enum { RING = 512, ITEMS = 40000, PAUSE_EVERY = 1000 };
static void *_Atomic ring[RING];

static size_t item_size(unsigned i) {
    return i % 3 == 0 ? 16000 : i % 3 == 1 ? 5000 : 100;
}

static void *producer(void *arg) {
    (void)arg;
    for (unsigned i = 0; i < ITEMS; i++) {
        unsigned char *p = hak_malloc(item_size(i));
        if (p)
            hak_fill(p, item_size(i), i);
        while (atomic_load_explicit(&ring[i % RING], memory_order_acquire) != NULL)
            sched_yield();
        atomic_store_explicit(&ring[i % RING], p ? (void *)p : (void *)&ring, memory_order_release);
        if (i % PAUSE_EVERY == PAUSE_EVERY - 1)
            usleep(2000); /* idle: the consumer's frees pile up on its ready stack */
    }
    return NULL;
}

HAK_TEST(TinyThreads, DrainsMeetTheOwnersRefills) {
    pthread_t t;
    uint64_t drains = hak_ctr("tiny_heap_drain");
    HAK_ASSERT_EQ(pthread_create(&t, NULL, producer, NULL), 0);
    size_t corrupt = 0, failed = 0;
    for (unsigned i = 0; i < ITEMS; i++) {
        void *p;
        while ((p = atomic_load_explicit(&ring[i % RING], memory_order_acquire)) == NULL)
            sched_yield();
        atomic_store_explicit(&ring[i % RING], NULL, memory_order_release);
        if (p == (void *)&ring) {
            failed++;
            continue;
        }
        corrupt += !hak_check(p, item_size(i), i);
        hak_free(p);
    }
    HAK_ASSERT_EQ(pthread_join(t, NULL), 0);
    drains = hak_ctr("tiny_heap_drain") - drains;
    hak_test_note("drains of the producer's heap: %llu", (unsigned long long)drains);
    HAK_EXPECT_EQ(failed, 0);
    HAK_EXPECT_EQ(corrupt, 0);

}
