/* Thread exit: memory held by a thread that exits is flushed or adopted, so a program that
 * creates short-lived threads forever (larson does) runs in bounded memory.
 *
 * Measures: hakmem's net mapping, os_mapped_bytes - os_unmapped_bytes (what hakmem holds
 * from the OS), and the process RSS from /proc/self/statm. Both are taken after a warm-up
 * and again at the end; the growth between them must stay under a generous bound:
 *   - net mapping: 64 MiB. A thread below touches ~12 size classes; if its slabs (64 KiB
 *     each) were stranded, 1800 threads would strand over 1 GiB, so the bound separates
 *     "bounded" from "leaks per thread" by more than an order of magnitude, while leaving
 *     room for caches with a hard cap (BigCache, batch) and superslab granularity (2 MiB).
 *   - RSS: 256 MiB. RSS also holds the C library's cached thread stacks and the test's own
 *     memory; it only has to catch a leak of the same order. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

#define NET_BOUND (64ull << 20)
#define RSS_BOUND (256ull << 20)

enum { KEEP = 150, HANDOFF = 50 };

typedef struct short_life {
    int id;
    unsigned char *handoff[HANDOFF];
    size_t handoff_n[HANDOFF];
    int failed;
} short_life;

static const size_t class_sizes[] = {8,   16,   24,   32,   48,    64,    96,   128,
                                     256, 512,  1024, 2048, 4096, 8192, 16384, 32768};
#define N_CLASS_SIZES (sizeof class_sizes / sizeof class_sizes[0])

static void *short_thread(void *argp) {
    short_life *s = argp;
    unsigned char *keep[KEEP];
    size_t keep_n[KEEP];
    for (int i = 0; i < KEEP; i++) {
        keep_n[i] = class_sizes[(i + s->id) % N_CLASS_SIZES] - (size_t)(i % 3);
        keep[i] = hak_malloc(keep_n[i]);
        if (!keep[i]) {
            s->failed = 1;
            return NULL;
        }
        hak_fill(keep[i], keep_n[i], (uint64_t)s->id * 1000 + (uint64_t)i);
    }
    for (int i = 0; i < HANDOFF; i++) {
        s->handoff_n[i] = class_sizes[(i * 7 + s->id) % N_CLASS_SIZES];
        s->handoff[i] = hak_malloc(s->handoff_n[i]);
        if (!s->handoff[i]) {
            s->failed = 1;
            return NULL;
        }
        hak_fill(s->handoff[i], s->handoff_n[i], (uint64_t)s->id * 7 + (uint64_t)i);
    }
    /* One large block per thread, freed by the thread. */
    unsigned char *big = hak_malloc(200000);
    if (!big) {
        s->failed = 1;
        return NULL;
    }
    memset(big, s->id & 0xff, 200000);
    hak_free(big);
    /* Freed by the owner: these sit in the thread's cache when it exits. */
    for (int i = 0; i < KEEP; i++) {
        if (!hak_check(keep[i], keep_n[i], (uint64_t)s->id * 1000 + (uint64_t)i))
            s->failed = 1;
        hak_free(keep[i]);
    }
    return NULL;
}

static uint64_t net_mapped(void) {
    return hak_ctr("os_mapped_bytes") - hak_ctr("os_unmapped_bytes");
}

HAK_TEST(ThreadExit, ManyShortLivedThreadsStayBounded) {
    enum { TOTAL = 2000, BATCH = 8, WARMUP = 200 };
    HAK_ASSERT(hak_ctr("os_mapped_bytes") != UINT64_MAX);
    HAK_ASSERT(hak_ctr("os_unmapped_bytes") != UINT64_MAX);
    uint64_t net_base = 0;
    size_t rss_base = 0;
    int failed = 0, corrupt = 0;
    short_life *batch = calloc(BATCH, sizeof *batch);
    HAK_ASSERT(batch != NULL);
    for (int done = 0; done < TOTAL; done += BATCH) {
        pthread_t t[BATCH];
        for (int i = 0; i < BATCH; i++) {
            memset(&batch[i], 0, sizeof batch[i]);
            batch[i].id = done + i;
            HAK_ASSERT_EQ(pthread_create(&t[i], NULL, short_thread, &batch[i]), 0);
        }
        for (int i = 0; i < BATCH; i++)
            pthread_join(t[i], NULL);
        /* The handed-off blocks are freed here, after their thread has exited. */
        for (int i = 0; i < BATCH; i++) {
            failed += batch[i].failed;
            for (int k = 0; k < HANDOFF; k++) {
                if (!batch[i].handoff[k])
                    continue;
                if (!hak_check(batch[i].handoff[k], batch[i].handoff_n[k],
                               (uint64_t)batch[i].id * 7 + (uint64_t)k))
                    corrupt++;
                hak_free(batch[i].handoff[k]);
            }
        }
        if (done + BATCH == WARMUP) {
            net_base = net_mapped();
            rss_base = hak_rss_bytes();
        }
    }
    free(batch);
    uint64_t net_end = net_mapped();
    size_t rss_end = hak_rss_bytes();
    hak_test_note("net mapped: %llu KiB after warm-up, %llu KiB after %d threads; RSS %zu KiB "
                  "-> %zu KiB",
                  (unsigned long long)(net_base >> 10), (unsigned long long)(net_end >> 10),
                  TOTAL, rss_base >> 10, rss_end >> 10);
    HAK_EXPECT_EQ(failed, 0);
    HAK_EXPECT_EQ(corrupt, 0);
    HAK_EXPECT(net_base > 0);
    HAK_EXPECT(net_end <= net_base + NET_BOUND);
    HAK_EXPECT(rss_base > 0);
    HAK_EXPECT(rss_end <= rss_base + RSS_BOUND);
}

/* Blocks made by a thread that exited, all freed later by another thread, over and over:
 * the memory of the dead threads' slabs is reused, not stranded. 300 rounds of 512 KiB
 * each would hold 150 MiB if nothing came back; the bound is 32 MiB over the warm-up. */
struct maker {
    unsigned char *blocks[4096];
};

static void *maker_thread(void *arg) {
    struct maker *m = arg;
    for (int i = 0; i < 4096; i++) {
        m->blocks[i] = hak_malloc(128);
        if (m->blocks[i])
            hak_fill(m->blocks[i], 128, (uint64_t)(uintptr_t)m->blocks[i]);
    }
    return NULL;
}

HAK_TEST(ThreadExit, BlocksOfExitedThreadsAreReused) {
    struct maker *m = calloc(1, sizeof *m);
    HAK_ASSERT(m != NULL);
    uint64_t base = 0;
    int corrupt = 0, missing = 0;
    for (int round = 0; round < 300; round++) {
        pthread_t t;
        HAK_ASSERT_EQ(pthread_create(&t, NULL, maker_thread, m), 0);
        pthread_join(t, NULL);
        for (int i = 0; i < 4096; i++) {
            if (!m->blocks[i]) {
                missing++;
                continue;
            }
            if (!hak_check(m->blocks[i], 128, (uint64_t)(uintptr_t)m->blocks[i]))
                corrupt++;
            hak_free(m->blocks[i]);
        }
        if (round == 20)
            base = net_mapped();
    }
    uint64_t end = net_mapped();
    hak_test_note("net mapped %llu KiB -> %llu KiB", (unsigned long long)(base >> 10),
                  (unsigned long long)(end >> 10));
    HAK_EXPECT_EQ(missing, 0);
    HAK_EXPECT_EQ(corrupt, 0);
    HAK_EXPECT(end <= base + (32ull << 20));
    free(m);
}

/* Threads that exit while other threads still free blocks into their slabs. */
static unsigned char *_Atomic ring[1024];
static atomic_int ring_stop;

static void *ring_freer(void *arg) {
    (void)arg;
    long freed = 0;
    while (!atomic_load(&ring_stop)) {
        for (int i = 0; i < 1024; i++) {
            unsigned char *p = atomic_exchange(&ring[i], NULL);
            if (p) {
                hak_free(p);
                freed++;
            }
        }
    }
    for (int i = 0; i < 1024; i++) {
        unsigned char *p = atomic_exchange(&ring[i], NULL);
        if (p)
            hak_free(p);
    }
    return (void *)freed;
}

static void *ring_filler(void *arg) {
    intptr_t id = (intptr_t)arg;
    for (int i = 0; i < 3000; i++) {
        unsigned char *p = hak_malloc((size_t)(16 + (i + id) % 700));
        if (!p)
            return (void *)1;
        p[0] = (unsigned char)i;
        unsigned char *old = atomic_exchange(&ring[(i * 7 + id) % 1024], p);
        if (old)
            hak_free(old);
    }
    return NULL;
}

HAK_TEST(ThreadExit, ExitWhileOthersFreeIntoItsSlabs) {
    atomic_store(&ring_stop, 0);
    pthread_t freer[2];
    for (int i = 0; i < 2; i++)
        HAK_ASSERT_EQ(pthread_create(&freer[i], NULL, ring_freer, NULL), 0);
    int failed = 0;
    for (int round = 0; round < 100; round++) {
        pthread_t t[4];
        for (intptr_t i = 0; i < 4; i++)
            HAK_ASSERT_EQ(pthread_create(&t[i], NULL, ring_filler, (void *)(i + round)), 0);
        for (int i = 0; i < 4; i++) {
            void *r;
            pthread_join(t[i], &r);
            failed += r != NULL;
        }
    }
    atomic_store(&ring_stop, 1);
    long freed = 0;
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(freer[i], &r);
        freed += (long)r;
    }
    HAK_EXPECT_EQ(failed, 0);
    HAK_EXPECT(freed > 0);
    /* hakmem still works for everyone. */
    void *p = hak_malloc(100);
    HAK_EXPECT(p != NULL);
    hak_free(p);
}

/* A thread-specific-data destructor that runs after hakmem's own thread-exit work (its key
 * is created later, so glibc runs it later) frees and allocates again: hakmem must serve
 * it (the design: "other libraries' destructors may call malloc after yours ran"). */
static pthread_key_t late_key;
static atomic_int late_ok, late_runs;

static void late_destructor(void *value) {
    unsigned char *old = value;
    int ok = hak_check(old, 100, 77);
    hak_free(old);
    for (int i = 0; i < 50; i++) {
        size_t n = (size_t)(i * 997 % 70000) + 1;
        unsigned char *p = hak_malloc(n);
        if (!p) {
            ok = 0;
            continue;
        }
        hak_fill(p, n, (uint64_t)i);
        ok &= hak_check(p, n, (uint64_t)i);
        hak_free(p);
    }
    atomic_fetch_add(&late_runs, 1);
    if (ok)
        atomic_fetch_add(&late_ok, 1);
}

static void *late_thread(void *arg) {
    (void)arg;
    unsigned char *p = hak_malloc(100);
    if (!p)
        return NULL;
    hak_fill(p, 100, 77);
    for (int i = 0; i < 100; i++) {
        void *q = hak_malloc((size_t)(16 + i * 8));
        hak_free(q); /* fills the thread's cache, which hakmem flushes at exit */
    }
    pthread_setspecific(late_key, p);
    return NULL;
}

static void *warm_thread(void *arg) {
    (void)arg;
    void *p = hak_malloc(64); /* makes hakmem create its own thread-exit keys first */
    hak_free(p);
    return NULL;
}

HAK_TEST(ThreadExit, LateDestructorMayAllocate) {
    pthread_t t;
    HAK_ASSERT_EQ(pthread_create(&t, NULL, warm_thread, NULL), 0);
    pthread_join(t, NULL);
    HAK_ASSERT_EQ(pthread_key_create(&late_key, late_destructor), 0);
    for (int round = 0; round < 200; round++) {
        HAK_ASSERT_EQ(pthread_create(&t, NULL, late_thread, NULL), 0);
        pthread_join(t, NULL);
    }
    HAK_EXPECT_EQ(atomic_load(&late_runs), 200);
    HAK_EXPECT_EQ(atomic_load(&late_ok), 200);
    void *p = hak_malloc(100);
    HAK_EXPECT(p != NULL);
    hak_free(p);
    pthread_key_delete(late_key);
}

/* Many threads alive at once (more than any small fixed table of heaps would hold), each
 * with blocks of its own, all freed by another thread after they exit. */
enum { ALIVE = 300, PER_THREAD = 64 };
static pthread_barrier_t all_alive;
static unsigned char *alive_blocks[ALIVE][PER_THREAD];

static void *alive_thread(void *arg) {
    intptr_t id = (intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        size_t n = (size_t)(16 + (i * 97 + id) % 3000);
        alive_blocks[id][i] = hak_malloc(n);
        if (alive_blocks[id][i])
            hak_fill(alive_blocks[id][i], 16, (uint64_t)id * 1000 + (uint64_t)i);
    }
    pthread_barrier_wait(&all_alive);
    return NULL;
}

HAK_TEST(ThreadExit, ThreeHundredThreadsAliveAtOnce) {
    pthread_barrier_init(&all_alive, NULL, ALIVE);
    pthread_t *t = calloc(ALIVE, sizeof *t);
    HAK_ASSERT(t != NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int created = 0;
    for (intptr_t i = 0; i < ALIVE; i++) {
        if (pthread_create(&t[i], &attr, alive_thread, (void *)i) != 0)
            break;
        created++;
    }
    pthread_attr_destroy(&attr);
    /* If the system refused a thread, the others would wait at the barrier forever. */
    HAK_ASSERT_EQ(created, ALIVE);
    for (int i = 0; i < ALIVE; i++)
        pthread_join(t[i], NULL);
    int missing = 0, corrupt = 0;
    for (int id = 0; id < ALIVE; id++) {
        for (int i = 0; i < PER_THREAD; i++) {
            unsigned char *p = alive_blocks[id][i];
            if (!p) {
                missing++;
                continue;
            }
            if (!hak_check(p, 16, (uint64_t)id * 1000 + (uint64_t)i))
                corrupt++;
            hak_free(p);
        }
    }
    HAK_EXPECT_EQ(missing, 0);
    HAK_EXPECT_EQ(corrupt, 0);
    free(t);
    pthread_barrier_destroy(&all_alive);
}

/* 100 000 short threads, four at a time, each allocating a few small blocks and sometimes a
 * 1.5 MiB one, and handing two blocks to a ring that later threads free (blocks that outlive
 * their thread): the process's RSS (what a user reads: pages given back with MADV_FREE
 * would still count) after 100 000 threads is what it was after 20 000, within 2 MiB. Heaps of exited threads are adopted, their slabs and BigCache slots given
 * back, so nothing grows with the number of threads ever created. */
enum { CHURN_RING = 512 };
static unsigned char *churn_ring[CHURN_RING];
static unsigned churn_pos;
static pthread_mutex_t churn_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int churn_failed;

static void *churn_thread(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    unsigned char *p[16];
    if (id % 5 == 0) {
        unsigned char *big = hak_malloc(1500000);
        if (!big)
            atomic_store(&churn_failed, 1);
        else
            big[0] = big[1499999] = 1;
        hak_free(big);
    }
    for (int i = 0; i < 16; i++) {
        size_t n = 16 + (id * 131 + (unsigned)i * 977) % 3000;
        p[i] = hak_malloc(n);
        if (!p[i]) {
            atomic_store(&churn_failed, 1);
            return NULL;
        }
        memset(p[i], i, n < 64 ? n : 64);
    }
    for (int i = 0; i < 16; i++) {
        if (i < 2) {
            pthread_mutex_lock(&churn_lock);
            unsigned char *old = churn_ring[churn_pos % CHURN_RING];
            churn_ring[churn_pos++ % CHURN_RING] = p[i];
            pthread_mutex_unlock(&churn_lock);
            hak_free(old);
        } else {
            hak_free(p[i]);
        }
    }
    return NULL;
}

HAK_TEST(ThreadExit, HundredThousandShortThreadsKeepRssFlat) {
    enum { TOTAL = 100000, AT_ONCE = 4, MARK = 20000 };
    size_t at_mark = 0;
    for (unsigned done = 0; done < TOTAL; done += AT_ONCE) {
        pthread_t t[AT_ONCE];
        for (unsigned i = 0; i < AT_ONCE; i++)
            HAK_ASSERT_EQ(pthread_create(&t[i], NULL, churn_thread, (void *)(uintptr_t)(done + i)),
                          0);
        for (unsigned i = 0; i < AT_ONCE; i++)
            pthread_join(t[i], NULL);
        if (done + AT_ONCE == MARK)
            at_mark = hak_rss_bytes();
    }
    size_t at_end = hak_rss_bytes();
    hak_test_note("held after %d threads: %zu KiB, after %d: %zu KiB", MARK, at_mark >> 10,
                  TOTAL, at_end >> 10);
    HAK_EXPECT_EQ(atomic_load(&churn_failed), 0);
    HAK_EXPECT(at_mark > 0);
    HAK_EXPECT(at_end <= at_mark + (2u << 20));
    for (unsigned i = 0; i < CHURN_RING; i++)
        hak_free(churn_ring[i]);
}
