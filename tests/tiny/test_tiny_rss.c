/* Tiny memory after a burst: four threads each allocate 64 MiB of small blocks (16 B to
 * 32 KiB, 256 MiB in all), write every block, free them all and exit. Afterwards hakmem
 * must hold only a bounded amount of resident memory, must have given most of the burst's
 * address space back, and must have taken back every slab. A last test races remote frees
 * against the owner's exit and checks the same for every slab.
 *
 * One more: free slabs give their pages back once they have aged (tiny.purge_delay_ms).
 *
 * RSS is read from /proc/self/smaps_rollup as Rss - LazyFree: pages given back with
 * MADV_FREE still count in Rss until the kernel needs them (the design guide, "Known traps"),
 * and LazyFree is exactly those pages. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

#define MiB ((size_t)1 << 20)

enum { THREADS = 4, MAX_BLOCKS = 1 << 16 };
#define PER_THREAD (64 * MiB)
#define BURST ((size_t)THREADS * PER_THREAD)


static size_t rss_not_lazy(void) {
    size_t rss, lazy;
    if (!hak_read_rollup(&rss, &lazy))
        return 0;
    return rss - lazy;
}

static uint64_t net_mapped(void) {
    return hak_ctr("os_mapped_bytes") - hak_ctr("os_unmapped_bytes");
}

/* Slabs the provider has handed out and not taken back. Once every block is freed and every
 * thread that allocated is gone, there is no reason left to hold one: thread exit gives
 * back the empty slabs, and a slab emptied later by remote frees is taken over by the
 * freeing thread (or tidied by whoever touches the abandoned heap) and given back. This
 * process's main thread allocates no tiny block. */
static int64_t live_slabs(void) {
    return (int64_t)(hak_ctr("slab_new") - hak_ctr("slab_release"));
}

typedef struct worker {
    unsigned char **p;
    size_t *n;
    size_t count;
    uint64_t seed;
    size_t bad;   /* blocks this thread freed whose contents had changed */
    int failed;   /* an allocation failed or MAX_BLOCKS was too small */
} worker;

static worker workers[THREADS];
static pthread_barrier_t allocated, go_free;
static int remote_half; /* the second variant: every odd block is freed by the next thread */

/* 16 B .. 32 KiB, as many blocks in each power of two (so most blocks are small while most
 * bytes are in the larger classes). */
static size_t pick_size(uint64_t *rng) {
    uint64_t r = hak_rand_next(rng);
    unsigned e = 4 + (unsigned)(r % 12); /* [2^4, 2^5) .. [2^15, 2^16) clamped */
    size_t n = ((size_t)1 << e) + (size_t)((r >> 8) % ((size_t)1 << e));
    return n > 32768 ? 32768 : n;
}

static int intact(const unsigned char *p, size_t n, unsigned char v) {
    /* The first and last byte and one in the middle: written by memset, cheap to check. */
    return p[0] == v && p[n / 2] == v && p[n - 1] == v;
}

/* Frees every step-th block of w from first on; returns how many had changed. */
static size_t free_range(const worker *w, size_t first, size_t step) {
    size_t bad = 0;
    for (size_t i = first; i < w->count; i += step) {
        if (!intact(w->p[i], w->n[i], (unsigned char)(i * 7 + w->seed)))
            bad++;
        hak_free(w->p[i]);
    }
    return bad;
}

static void *burst_thread(void *arg) {
    worker *w = arg;
    uint64_t rng = w->seed;
    size_t total = 0;
    w->count = 0;
    while (total < PER_THREAD) {
        if (w->count == MAX_BLOCKS) {
            w->failed = 1;
            break;
        }
        size_t n = pick_size(&rng);
        unsigned char *b = hak_malloc(n);
        if (!b) {
            w->failed = 1;
            break;
        }
        memset(b, (unsigned char)(w->count * 7 + w->seed), n); /* every byte written */
        w->p[w->count] = b;
        w->n[w->count] = n;
        w->count++;
        total += n;
    }
    pthread_barrier_wait(&allocated);
    pthread_barrier_wait(&go_free); /* the main thread measures the peak in between */
    if (!remote_half) {
        w->bad += free_range(w, 0, 1);
    } else {
        /* Even blocks of our own, odd blocks of the next thread's: those are remote frees.
         * No barrier after this: a thread may exit while others still free into its slabs
         * (its heap is then abandoned and adopted). */
        worker *next = &workers[(w - workers + 1) % THREADS];
        w->bad += free_range(w, 0, 2);
        w->bad += free_range(next, 1, 2);
    }
    return NULL;
}

static void run_burst(int remote) {
    size_t probe_rss, probe_lazy;
    if (!hak_read_rollup(&probe_rss, &probe_lazy))
        HAK_SKIP("/proc/self/smaps_rollup has no Rss/LazyFree (kernel before 4.14)");

    char cache[32] = "";
    HAK_ASSERT_EQ(hak_config_get("tiny.cache_bytes", cache, sizeof cache), 0);
    size_t cache_bytes = (size_t)strtoull(cache, NULL, 10);

    remote_half = remote;
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (worker){0};
        workers[t].p = malloc(MAX_BLOCKS * sizeof *workers[t].p);
        workers[t].n = malloc(MAX_BLOCKS * sizeof *workers[t].n);
        HAK_ASSERT(workers[t].p && workers[t].n);
        /* Touched now, so the test's own arrays are part of the baseline. */
        memset(workers[t].p, 0, MAX_BLOCKS * sizeof *workers[t].p);
        memset(workers[t].n, 0, MAX_BLOCKS * sizeof *workers[t].n);
        workers[t].seed = (uint64_t)(remote * 100 + t + 1);
    }
    pthread_barrier_init(&allocated, NULL, THREADS + 1);
    pthread_barrier_init(&go_free, NULL, THREADS + 1);

    size_t rss0 = rss_not_lazy();
    uint64_t mapped0 = net_mapped();
    int64_t slabs0 = live_slabs();
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        HAK_ASSERT_EQ(pthread_create(&th[t], NULL, burst_thread, &workers[t]), 0);
    pthread_barrier_wait(&allocated);
    size_t rss_peak = rss_not_lazy();
    uint64_t mapped_peak = net_mapped();
    pthread_barrier_wait(&go_free);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    size_t rss_end = rss_not_lazy();
    uint64_t mapped_end = net_mapped();
    int64_t slabs_end = live_slabs();

    size_t blocks = 0, bad = 0;
    for (int t = 0; t < THREADS; t++) {
        HAK_EXPECT_EQ(workers[t].failed, 0);
        blocks += workers[t].count;
        bad += workers[t].bad;
    }
    hak_test_note("%s: %zu blocks; RSS-LazyFree %zu -> %zu -> %zu MiB; net mapped %llu -> "
                  "%llu -> %llu MiB; slabs out %lld -> %lld",
                  remote ? "half freed remotely" : "freed by their owners", blocks, rss0 >> 20,
                  rss_peak >> 20, rss_end >> 20, (unsigned long long)(mapped0 >> 20),
                  (unsigned long long)(mapped_peak >> 20), (unsigned long long)(mapped_end >> 20),
                  (long long)slabs0, (long long)slabs_end);
    HAK_EXPECT_EQ(bad, 0);

    /* The burst really was resident (else the bound below proves nothing). */
    HAK_EXPECT(rss_peak >= BURST * 3 / 4);

    /* Every slab of the burst went back to the provider. */
    HAK_EXPECT(slabs_end <= slabs0);

    /* What hakmem may keep resident (not lazily freed) once every block is freed and the
     * threads are gone:
     *   - dirty slabs: released slabs (those of empty SuperSlabs too) keep their pages
     *     until they age past tiny.purge_delay_ms or more than 64 of them (4 MiB) are
     *     dirty, when all are MADV_FREE'd (LazyFree);
     *   - per-thread caches: at most tiny.cache_bytes per class (at least 4 blocks of up to
     *     32 KiB) for 40 classes, per thread: 40 * max(cache_bytes, 128 KiB), 5 MiB each by
     *     default. Thread exit gives them back, but the bound allows for them;
     *   - metadata (SuperSlab headers, heaps, map leaves) and the test's own memory
     *     (libc, thread stacks): 8 MiB.
     * With the defaults that is 4 + 4 * 5 + 8 = 32 MiB, an eighth of the burst: a leak of
     * the burst, or of the larger classes' slabs, cannot pass. */
    size_t per_thread_cache = 40 * (cache_bytes > 128 * 1024 ? cache_bytes : 128 * 1024);
    size_t bound = 4 * MiB + THREADS * per_thread_cache + 8 * MiB;
    HAK_EXPECT(bound <= BURST / 4); /* a bound that big would let leaks pass */
    if (rss_end > rss0 + bound)
        hak_test_note("resident after the frees: %zu MiB over the start, bound %zu MiB",
                      (rss_end - rss0) >> 20, bound >> 20);
    HAK_EXPECT(rss_end <= rss0 + bound);

    /* Address space: up to 64 empty SuperSlabs (128 MiB) stay mapped for reuse, the rest
     * must be unmapped, so the net mapping drops by at least half the burst, and ends at most
     * 128 MiB (plus metadata) above where it started. (At the peak the live blocks were
     * mapped, whatever was kept before.) */
    HAK_EXPECT(mapped_peak >= BURST * 3 / 4);
    HAK_EXPECT(mapped_peak >= mapped_end + BURST / 2);
    HAK_EXPECT(mapped_end <= mapped0 + 128 * MiB + 16 * MiB);

    for (int t = 0; t < THREADS; t++) {
        free(workers[t].p);
        free(workers[t].n);
    }
    pthread_barrier_destroy(&allocated);
    pthread_barrier_destroy(&go_free);
}

HAK_TEST(TinyRss, BurstFreedByOwnersGivesMemoryBack) {
    run_burst(0);
}

HAK_TEST(TinyRss, BurstHalfFreedRemotelyGivesMemoryBack) {
    run_burst(1);
}

/* Remote frees racing the owner's exit. A thread allocates 640 blocks of 1000 bytes (10
 * slabs) and exits at once; another thread frees them all, one block of every slab first,
 * while the owner is still tearing its heap down. Whatever the interleaving, once both are
 * joined no slab may be left out: a slab whose first remote free lands after the owner
 * drained its ready stack but before its heap is marked abandoned must still be found.
 * Many short rounds, as the window is narrow. */
enum { RACE_BLOCKS = 640, RACE_STRIDE = 64, RACE_ROUNDS = 1000 };
static void *race_blocks[RACE_BLOCKS];
static pthread_barrier_t race_ready;
static int race_failed;

static void *race_owner(void *arg) {
    (void)arg;
    for (int i = 0; i < RACE_BLOCKS; i++) {
        race_blocks[i] = hak_malloc(1000);
        if (!race_blocks[i])
            race_failed = 1;
    }
    pthread_barrier_wait(&race_ready);
    return NULL; /* exit: the heap is abandoned while the other thread frees */
}

static void *race_freer(void *arg) {
    (void)arg;
    pthread_barrier_wait(&race_ready);
    for (int s = 0; s < RACE_STRIDE; s++)
        for (int i = s; i < RACE_BLOCKS; i += RACE_STRIDE)
            hak_free(race_blocks[i]);
    return NULL;
}

HAK_TEST(TinyRss, RemoteFreesRacingOwnerExitLeaveNoSlabOut) {
    int64_t slabs0 = live_slabs();
    pthread_barrier_init(&race_ready, NULL, 2);
    int bad_rounds = 0, first_bad = -1;
    int64_t worst = 0;
    for (int r = 0; r < RACE_ROUNDS; r++) {
        int64_t before = live_slabs();
        pthread_t owner, freer;
        HAK_ASSERT_EQ(pthread_create(&owner, NULL, race_owner, NULL), 0);
        HAK_ASSERT_EQ(pthread_create(&freer, NULL, race_freer, NULL), 0);
        pthread_join(owner, NULL);
        pthread_join(freer, NULL);
        int64_t out = live_slabs() - before; /* (a round may also take back older ones) */
        if (out > 0) {
            bad_rounds++;
            if (first_bad < 0)
                first_bad = r;
            if (out > worst)
                worst = out;
        }
    }
    pthread_barrier_destroy(&race_ready);
    if (bad_rounds)
        hak_test_note("%d of %d rounds ended with slabs still out (first: round %d, at most %lld "
                      "slabs of 64 KiB)",
                      bad_rounds, RACE_ROUNDS, first_bad, (long long)worst);
    HAK_EXPECT_EQ(race_failed, 0);
    HAK_EXPECT_EQ(bad_rounds, 0);
    HAK_EXPECT(live_slabs() <= slabs0);
}

/* ---- free slabs that stay free give their pages back (tiny.purge_delay_ms) ---- */

enum { AGED_BLOCK = 1024, AGED_BLOCKS = 3 * 1024 }; /* 3 MiB: 48 slabs, under the 64 kept dirty */

/* Allocates 3 MiB of 1 KiB blocks, writes them, frees them and exits: thread exit gives the
 * emptied slabs back to the provider, where they stay dirty (resident). */
static void *aged_burst(void *arg) {
    (void)arg;
    static unsigned char *p[AGED_BLOCKS];
    for (int i = 0; i < AGED_BLOCKS; i++) {
        p[i] = hak_malloc(AGED_BLOCK);
        if (!p[i])
            return (void *)1;
        memset(p[i], 0x5a, AGED_BLOCK);
    }
    for (int i = 0; i < AGED_BLOCKS; i++)
        hak_free(p[i]);
    return NULL;
}

/* One slab given back after the others aged: the release that scans for them. */
static void *one_slab(void *arg) {
    (void)arg;
    hak_free(hak_malloc(100));
    return NULL;
}

static void run_thread(void *(*fn)(void *)) {
    pthread_t t;
    void *rc = NULL;
    HAK_ASSERT_EQ(pthread_create(&t, NULL, fn, NULL), 0);
    pthread_join(t, &rc);
    HAK_ASSERT(rc == NULL);
}

/* RSS (not lazily freed) given back by the slab releases that follow a burst, under
 * purge delay delay_ms, and the number of MADV_DONTNEED calls that took. The burst itself
 * runs with purging off, so the first reading does not depend on how fast it was; a delay
 * of 0 then makes every dirty slab old enough, so no sleep is needed either. */
static size_t aged_drop(const char *delay_ms, uint64_t *dontneeds) {
    HAK_EXPECT_EQ(hak_config_set("tiny.purge_delay_ms", "-1"), 0);
    run_thread(aged_burst);
    size_t before = rss_not_lazy();
    uint64_t calls = hak_ctr("os_madvise_dontneed");
    HAK_EXPECT_EQ(hak_config_set("tiny.purge_delay_ms", delay_ms), 0);
    run_thread(one_slab);
    run_thread(one_slab);
    size_t after = rss_not_lazy();
    *dontneeds = hak_ctr("os_madvise_dontneed") - calls;
    return before > after ? before - after : 0;
}

HAK_TEST(TinyRss, SlabsFreeLongerThanThePurgeDelayLeaveRss) {
    char ss[8] = "";
    HAK_ASSERT_EQ(hak_config_get("tiny.use_superslab", ss, sizeof ss), 0);
    if (ss[0] == '0')
        HAK_SKIP("the page provider unmaps every slab it is given back: nothing to purge");
    size_t probe_rss, probe_lazy;
    if (!hak_read_rollup(&probe_rss, &probe_lazy))
        HAK_SKIP("/proc/self/smaps_rollup has no Rss/LazyFree (kernel before 4.14)");
    char saved[32] = "";
    HAK_ASSERT_EQ(hak_config_get("tiny.purge_delay_ms", saved, sizeof saved), 0);
    uint64_t kept_calls, purged_calls;
    size_t kept = aged_drop("-1", &kept_calls); /* never purged: the slabs stay resident */
    size_t purged = aged_drop("0", &purged_calls); /* every freed slab is old enough */
    hak_test_note("RSS given back %zu KiB with purging off, %zu KiB with delay 0 (%llu "
                  "MADV_DONTNEED calls)",
                  kept >> 10, purged >> 10, (unsigned long long)purged_calls);
    HAK_EXPECT_EQ(kept_calls, 0);
    HAK_EXPECT(kept < MiB);
    HAK_EXPECT(purged_calls > 0);
    HAK_EXPECT(purged >= 2 * MiB); /* most of the burst's 3 MiB */
    HAK_EXPECT_EQ(hak_config_set("tiny.purge_delay_ms", saved), 0);
}
