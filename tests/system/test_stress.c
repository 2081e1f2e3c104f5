/* Thread stress with integrity checks: 8 threads allocate mixed sizes (8 B .. 64 KiB and
 * some large blocks), fill each block with a pattern derived from its address and an id,
 * and hand most of them to another thread through producer/consumer queues; the consumer
 * verifies the pattern before it frees (a cross-thread free). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

enum { THREADS = 8, QCAP = 2048, LOCAL = 256 };

typedef struct item {
    unsigned char *p;
    size_t n;
    uint64_t seed;
} item;

typedef struct queue {
    pthread_mutex_t mu;
    item items[QCAP];
    size_t head, count;
} queue;

static queue queues[THREADS];
static atomic_long corrupt, alloc_failed, short_usable, misaligned, cross_frees, total_ops;
static atomic_int producers_left;

static int q_push(queue *q, item it) {
    pthread_mutex_lock(&q->mu);
    int ok = q->count < QCAP;
    if (ok) {
        q->items[(q->head + q->count) % QCAP] = it;
        q->count++;
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

static size_t q_drain(queue *q, item *out, size_t max) {
    pthread_mutex_lock(&q->mu);
    size_t n = 0;
    while (q->count > 0 && n < max) {
        out[n++] = q->items[q->head];
        q->head = (q->head + 1) % QCAP;
        q->count--;
    }
    pthread_mutex_unlock(&q->mu);
    return n;
}

static void verify_and_free(item it) {
    if (!hak_check(it.p, it.n, it.seed))
        atomic_fetch_add(&corrupt, 1);
    hak_free(it.p);
}

static size_t pick_size(uint64_t *rng) {
    uint64_t r = hak_rand_next(rng);
    unsigned bucket = (unsigned)(r % 1000);
    r >>= 10;
    if (bucket < 650)
        return 8 + r % 249;          /* 8 .. 256 */
    if (bucket < 900)
        return 257 + r % 3840;       /* .. 4 KiB */
    if (bucket < 990)
        return 4097 + r % 61440;     /* .. 64 KiB */
    return 65537 + r % (1u << 20);   /* large */
}

struct stress_arg {
    int id;
    int ops;
};

static void drain_own(int id, item *buf) {
    size_t n;
    while ((n = q_drain(&queues[id], buf, 512)) > 0) {
        for (size_t i = 0; i < n; i++)
            verify_and_free(buf[i]);
        atomic_fetch_add(&cross_frees, (long)n);
    }
}

static void *stress_thread(void *argp) {
    struct stress_arg *a = argp;
    uint64_t rng = 0xC0FFEE + (uint64_t)a->id * 1000003;
    item local[LOCAL];
    memset(local, 0, sizeof local);
    item *buf = malloc(512 * sizeof *buf); /* the test's own memory: the C library's */
    for (int op = 0; op < a->ops; op++) {
        size_t n = pick_size(&rng);
        unsigned kind = (unsigned)(hak_rand_next(&rng) % 16);
        unsigned char *p = kind == 0 ? hak_calloc(1, n) : hak_malloc(n);
        if (!p) {
            atomic_fetch_add(&alloc_failed, 1);
            continue;
        }
        if (kind == 0 && !hak_all_bytes(p, n, 0))
            atomic_fetch_add(&corrupt, 1);
        if (((uintptr_t)p & 15) != 0)
            atomic_fetch_add(&misaligned, 1);
        if (hak_usable_size(p) < n)
            atomic_fetch_add(&short_usable, 1);
        /* The pattern depends on the block's address, the thread and the op. */
        uint64_t seed = (uint64_t)(uintptr_t)p ^ ((uint64_t)a->id << 56) ^ (uint64_t)op;
        hak_fill(p, n, seed);
        item it = {p, n, seed};
        if (hak_rand_next(&rng) % 10 < 6) {
            int to = (int)(hak_rand_next(&rng) % THREADS);
            if (to == a->id)
                to = (to + 1) % THREADS;
            if (!q_push(&queues[to], it))
                verify_and_free(it);
        } else {
            int s = (int)(hak_rand_next(&rng) % LOCAL);
            if (local[s].p) {
                /* Sometimes grow or shrink the old block before freeing it. */
                if (hak_rand_next(&rng) % 8 == 0) {
                    size_t m = pick_size(&rng);
                    unsigned char *q = hak_realloc(local[s].p, m);
                    if (!q) {
                        atomic_fetch_add(&alloc_failed, 1);
                    } else {
                        size_t keep = m < local[s].n ? m : local[s].n;
                        if (!hak_check(q, keep, local[s].seed))
                            atomic_fetch_add(&corrupt, 1);
                        local[s].p = q;
                        local[s].n = keep;
                    }
                }
                verify_and_free(local[s]);
            }
            local[s] = it;
        }
        if (op % 64 == 0)
            drain_own(a->id, buf);
    }
    atomic_fetch_sub(&producers_left, 1);
    /* Keep consuming until every producer is done, then a last drain. */
    while (atomic_load(&producers_left) > 0)
        drain_own(a->id, buf);
    drain_own(a->id, buf);
    for (int s = 0; s < LOCAL; s++)
        if (local[s].p)
            verify_and_free(local[s]);
    atomic_fetch_add(&total_ops, a->ops);
    free(buf);
    return NULL;
}

static void run_stress(int ops_per_thread, const char *policy) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", policy), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_mutex_init(&queues[i].mu, NULL);
        queues[i].head = queues[i].count = 0;
    }
    atomic_store(&producers_left, THREADS);
    atomic_store(&corrupt, 0);
    atomic_store(&alloc_failed, 0);
    atomic_store(&short_usable, 0);
    atomic_store(&misaligned, 0);
    atomic_store(&cross_frees, 0);
    atomic_store(&total_ops, 0);
    uint64_t large_alloc = hak_ctr("large_alloc_malloc") + hak_ctr("large_alloc_mmap");
    uint64_t large_free = hak_ctr("large_free");
    pthread_t t[THREADS];
    struct stress_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct stress_arg){i, ops_per_thread};
        HAK_ASSERT_EQ(pthread_create(&t[i], NULL, stress_thread, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    /* Anything left in a queue (pushed after its owner's last drain) is freed here. */
    item buf[512];
    for (int i = 0; i < THREADS; i++) {
        size_t n;
        while ((n = q_drain(&queues[i], buf, 512)) > 0)
            for (size_t k = 0; k < n; k++)
                verify_and_free(buf[k]);
    }
    HAK_EXPECT_EQ(atomic_load(&corrupt), 0);
    HAK_EXPECT_EQ(atomic_load(&alloc_failed), 0);
    HAK_EXPECT_EQ(atomic_load(&short_usable), 0);
    HAK_EXPECT_EQ(atomic_load(&misaligned), 0);
    HAK_EXPECT_EQ(atomic_load(&total_ops), (long)THREADS * ops_per_thread);
    /* Most handed-off blocks are freed by another thread. */
    HAK_EXPECT(atomic_load(&cross_frees) > (long)THREADS * ops_per_thread / 4);
    /* Every large block allocated was freed once. */
    uint64_t d_alloc = hak_ctr("large_alloc_malloc") + hak_ctr("large_alloc_mmap") - large_alloc;
    HAK_EXPECT(d_alloc > 0);
    HAK_EXPECT_EQ(hak_ctr("large_free") - large_free, d_alloc);
    hak_test_note("%s: %ld cross-thread frees, %llu large blocks", policy,
                  atomic_load(&cross_frees), (unsigned long long)d_alloc);
}

HAK_TEST(Stress, EightThreadsCrossThreadFreesMallocPolicy) {
    run_stress(40000, "malloc");
}

HAK_TEST(Stress, EightThreadsCrossThreadFreesMmapPolicy) {
    run_stress(25000, "mmap");
}

/* One producer, seven consumers of a single small class: the remote-free queue of each slab
 * takes pushes from many threads at once while the owner keeps allocating from it. */
static atomic_int fanout_done;

struct fanout_arg {
    int id;
};

static void *fanout_consumer(void *argp) {
    struct fanout_arg *a = argp;
    item buf[512];
    for (;;) {
        int done = atomic_load(&fanout_done);
        size_t n = q_drain(&queues[a->id], buf, 512);
        for (size_t i = 0; i < n; i++)
            verify_and_free(buf[i]);
        atomic_fetch_add(&cross_frees, (long)n);
        if (done && n == 0)
            break;
    }
    return NULL;
}

HAK_TEST(Stress, OneProducerSevenConsumersSameClass) {
    for (int i = 0; i < THREADS; i++) {
        pthread_mutex_init(&queues[i].mu, NULL);
        queues[i].head = queues[i].count = 0;
    }
    atomic_store(&corrupt, 0);
    atomic_store(&cross_frees, 0);
    atomic_store(&fanout_done, 0);
    pthread_t t[THREADS - 1];
    struct fanout_arg args[THREADS - 1];
    for (int i = 0; i < THREADS - 1; i++) {
        args[i].id = i + 1;
        HAK_ASSERT_EQ(pthread_create(&t[i], NULL, fanout_consumer, &args[i]), 0);
    }
    long produced = 0;
    for (int op = 0; op < 300000; op++) {
        size_t n = 48;
        unsigned char *p = hak_malloc(n);
        HAK_ASSERT(p != NULL);
        uint64_t seed = (uint64_t)(uintptr_t)p ^ (uint64_t)op;
        hak_fill(p, n, seed);
        item it = {p, n, seed};
        if (!q_push(&queues[1 + op % (THREADS - 1)], it))
            verify_and_free(it);
        else
            produced++;
    }
    atomic_store(&fanout_done, 1);
    for (int i = 0; i < THREADS - 1; i++)
        pthread_join(t[i], NULL);
    HAK_EXPECT_EQ(atomic_load(&corrupt), 0);
    HAK_EXPECT_EQ(atomic_load(&cross_frees), produced);
    HAK_EXPECT(produced > 0);
}
