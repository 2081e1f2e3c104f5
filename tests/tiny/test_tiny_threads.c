/* Tiny across threads: blocks a living thread made and another thread freed (remote frees)
 * come back to the maker, so a producer/consumer pair runs in bounded memory. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

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
