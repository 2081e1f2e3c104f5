/* Memory return (core/purge.h): freed memory goes back to the OS after the purge delay once
 * a call or the background thread runs, at once with a delay of 0, on request (hak_trim),
 * and when retention passes its budget; the gauges and counters say what is held and what
 * went back by which cause. RSS is Rss - LazyFree of /proc/self/smaps_rollup (the test
 * binary links hakmem statically; its own malloc is the C library's). Tests wait for the
 * clock (they sleep past a delay) but assert memory, never time. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

#define MiB ((size_t)1 << 20)

static size_t held(void) {
    size_t rss = 0, lazy = 0;
    if (!hak_read_rollup(&rss, &lazy))
        return 0;
    return rss - lazy;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void set(const char *key, const char *value) {
    HAK_EXPECT_EQ(hak_config_set(key, value), 0);
}

/* A known start: the mmap backend, nothing cached, delays as given. */
static void start(const char *large_delay, const char *tiny_delay) {
    set("large.policy", "mmap");
    set("core.background_thread", "0");
    set("large.purge_delay_ms", large_delay);
    set("tiny.purge_delay_ms", tiny_delay);
    hak_trim();
}

static void finish(void) {
    set("large.purge_delay_ms", "1000");
    set("tiny.purge_delay_ms", "50");
    set("core.retain_pct", "200");
    set("core.retain_min", "16M");
    set("core.background_thread", "0");
}

/* n blocks of size bytes, every page written, then freed. */
static void burst(size_t n, size_t size) {
    unsigned char *p[64];
    HAK_ASSERT(n <= 64);
    for (size_t i = 0; i < n; i++) {
        p[i] = hak_malloc(size);
        HAK_ASSERT(p[i] != NULL);
        memset(p[i], (int)i + 1, size);
    }
    for (size_t i = 0; i < n; i++)
        hak_free(p[i]);
}

HAK_TEST(Purge, DelayZeroGivesLargeBlocksBackAtOnce) {
    start("0", "50");
    size_t before = held();
    burst(8, 32 * MiB);
    size_t after = held();
    hak_test_note("8 x 32 MiB freed with large.purge_delay_ms=0: held %zu -> %zu KiB",
                  before >> 10, after >> 10);
    HAK_EXPECT(after < before + 32 * MiB);
    HAK_EXPECT(hak_ctr("purge_time_bytes") > 0);
    finish();
}

HAK_TEST(Purge, AfterTheDelayACallGivesBack) {
    start("200", "50");
    set("core.retain_pct", "10000"); /* only the clock may give back here */
    size_t before = held();
    burst(4, 32 * MiB);
    size_t kept = held();
    HAK_EXPECT(kept > before + 64 * MiB); /* within the delay: kept for reuse */
    sleep_ms(400);
    hak_free(hak_malloc(300 << 10)); /* any large call looks at the clock */
    size_t after = held();
    hak_test_note("4 x 32 MiB freed, delay 200 ms: held %zu KiB, after 400 ms and a call %zu",
                  kept >> 10, after >> 10);
    HAK_EXPECT(after < before + 32 * MiB);
    finish();
}

HAK_TEST(Purge, BackgroundThreadShrinksAnIdleProgram) {
    start("100", "50");
    set("core.retain_pct", "10000");
    size_t before = held();
    burst(4, 32 * MiB);
    set("core.background_thread", "1");
    /* No call from this thread from here on: only the background thread can give back. */
    size_t after = 0;
    for (int i = 0; i < 50; i++) {
        sleep_ms(100);
        after = held();
        if (after < before + 32 * MiB)
            break;
    }
    hak_test_note("4 x 32 MiB freed, idle, background thread: held %zu -> %zu KiB",
                  before >> 10, after >> 10);
    HAK_EXPECT(after < before + 32 * MiB);
    finish();
}

HAK_TEST(Purge, TrimGivesEverythingBackAndSaysSo) {
    start("-1", "-1"); /* nothing goes back on its own */
    set("core.retain_pct", "10000");
    size_t before = held();
    burst(4, 16 * MiB);
    unsigned char *small[4096];
    for (int i = 0; i < 4096; i++) {
        small[i] = hak_malloc(1000);
        HAK_ASSERT(small[i] != NULL);
        memset(small[i], 3, 1000);
    }
    for (int i = 0; i < 4096; i++)
        hak_free(small[i]);
    size_t kept = held();
    uint64_t requests = hak_ctr("purge_request"), bytes = hak_ctr("purge_request_bytes");
    HAK_EXPECT_EQ(hak_trim(), 1);
    size_t after = held();
    hak_test_note("64 MiB of large and 4 MiB of small blocks freed: held %zu KiB, after "
                  "hak_trim %zu",
                  kept >> 10, after >> 10);
    HAK_EXPECT(kept > before + 48 * MiB);
    HAK_EXPECT(after < before + 8 * MiB);
    HAK_EXPECT_EQ(hak_ctr("purge_request"), requests + 1);
    HAK_EXPECT(hak_ctr("purge_request_bytes") >= bytes + 48 * MiB);
    /* Nothing cached any more: every cache gauge reads zero. */
    HAK_EXPECT_EQ(hak_ctr("retained_bigcache_bytes"), 0);
    HAK_EXPECT_EQ(hak_ctr("retained_batch_bytes"), 0);
    HAK_EXPECT_EQ(hak_ctr("kept_batch_bytes"), 0);
    HAK_EXPECT_EQ(hak_ctr("retained_slab_bytes"), 0);
    HAK_EXPECT_EQ(hak_ctr("kept_superslab_bytes"), 0);
    finish();
}

HAK_TEST(Purge, RetentionStaysWithinItsBudget) {
    start("-1", "-1");
    set("core.retain_pct", "0");
    set("core.retain_min", "8M");
    uint64_t capped = hak_ctr("purge_cap_bytes");
    burst(16, 4 * MiB);
    hak_free(hak_malloc(300 << 10)); /* one more call: the cap pass of the last free ran */
    uint64_t retained = hak_ctr("retained_bigcache_bytes") + hak_ctr("retained_batch_bytes") +
                        hak_ctr("retained_slab_bytes");
    hak_test_note("16 x 4 MiB freed, budget 8 MiB: %llu KiB retained, %llu KiB given back",
                  (unsigned long long)(retained >> 10),
                  (unsigned long long)((hak_ctr("purge_cap_bytes") - capped) >> 10));
    HAK_EXPECT(retained <= 8 * MiB);
    HAK_EXPECT(hak_ctr("purge_cap_bytes") >= capped + 48 * MiB);
    finish();
}

HAK_TEST(Purge, LiveGaugesFollowTheProgram) {
    start("1000", "50");
    uint64_t large = hak_ctr("live_large_bytes"), slabs = hak_ctr("live_slab_bytes");
    unsigned char *big = hak_malloc(5 * MiB);
    HAK_ASSERT(big != NULL);
    HAK_EXPECT(hak_ctr("live_large_bytes") >= large + 5 * MiB);
    unsigned char *grown = hak_realloc(big, 9 * MiB);
    HAK_ASSERT(grown != NULL);
    HAK_EXPECT(hak_ctr("live_large_bytes") >= large + 9 * MiB);
    hak_free(grown);
    HAK_EXPECT_EQ(hak_ctr("live_large_bytes"), large);
    void *small[256];
    for (int i = 0; i < 256; i++)
        small[i] = hak_malloc(4000); /* 1 MiB of 4 KiB blocks: new slabs */
    HAK_EXPECT(hak_ctr("live_slab_bytes") >= slabs + MiB - 64 * 1024);
    for (int i = 0; i < 256; i++)
        hak_free(small[i]);
    finish();
}

/* A thread's cached small blocks keep their slabs: trim on request gives them back too. */
static void *allocate_and_keep(void *arg) {
    (void)arg;
    void *p[2048];
    for (int i = 0; i < 2048; i++)
        p[i] = hak_malloc(500);
    for (int i = 0; i < 2048; i++)
        hak_free(p[i]);
    /* The thread's list holds up to its limit of blocks; trimming from this thread takes
     * them back to their slabs, and the emptied slabs go to the OS. */
    uint64_t before = hak_ctr("slab_release");
    hak_trim();
    return (void *)(uintptr_t)(hak_ctr("slab_release") > before);
}

HAK_TEST(Purge, TrimFlushesTheCallingThreadsCache) {
    start("-1", "-1");
    pthread_t t;
    void *released = NULL;
    HAK_ASSERT_EQ(pthread_create(&t, NULL, allocate_and_keep, NULL), 0);
    HAK_ASSERT_EQ(pthread_join(t, &released), 0);
    HAK_EXPECT(released != NULL);
    finish();
}

/* The budget is relative to the recent peak of live bytes, which must include the block
 * a loop frees and allocates again: with a floor below one block, 20 rounds of one 16 MiB
 * block at one site reuse its mapping every time and give nothing back to the budget. */
__attribute__((noinline)) static void *alloc_16m(void) {
    void *p = hak_malloc(16 * MiB);
    __asm__ volatile("" ::: "memory");
    return p;
}

HAK_TEST(Purge, ALoopOfOneBlockKeepsItsBlock) {
    start("1000", "50");
    set("core.retain_min", "1M");
    uint64_t capped = hak_ctr("purge_cap_bytes"), hits = hak_ctr("bigcache_hit");
    for (int i = 0; i < 20; i++) {
        unsigned char *p = alloc_16m();
        HAK_ASSERT(p != NULL);
        p[0] = p[16 * MiB - 1] = (unsigned char)i;
        hak_free(p);
    }
    HAK_EXPECT_EQ(hak_ctr("purge_cap_bytes"), capped);
    HAK_EXPECT(hak_ctr("bigcache_hit") >= hits + 19);
    finish();
}

/* A fork child of a process with the background purge thread: the thread is gone in the
 * child, which still allocates, frees, trims, and may start a thread of its own. */
static int child_with_background(void) {
    void *p = hak_malloc(8 * MiB);
    if (!p)
        return 1;
    memset(p, 1, 8 * MiB);
    hak_free(p);
    if (hak_config_set("core.background_thread", "1") != 0)
        return 2;
    void *q = hak_malloc(100);
    if (!q)
        return 3;
    hak_free(q);
    hak_trim();
    return 0;
}

HAK_TEST(Purge, ForkChildOfAProcessWithTheBackgroundThread) {
    start("100", "50");
    set("core.background_thread", "1");
    burst(2, 8 * MiB);
    HAK_EXPECT_EQ(hak_fork_children(3, child_with_background), 0);
    finish();
}
