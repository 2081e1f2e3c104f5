/* Counters across threads and processes: per-thread shards keep their sums after the thread
 * exits; stats=1 set at run time prints the report at exit. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

static void *count_in_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < 20; i++) {
        void *p = hak_malloc(50000);
        if (p)
            hak_free(p);
    }
    return NULL;
}

/* Each thread counts in its own shard; what it counted stays in the sums after it exits. */
HAK_TEST(Counters, ThreadSumsSurviveThreadExit) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "malloc"), 0);
    uint64_t am = hak_ctr("large_alloc_malloc"), fr = hak_ctr("large_free");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        HAK_ASSERT_EQ(pthread_create(&t[i], NULL, count_in_thread, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    HAK_EXPECT_EQ(hak_ctr("large_alloc_malloc"), am + 80);
    HAK_EXPECT_EQ(hak_ctr("large_free"), fr + 80);
}

/* stats=1 set at run time: the counters are printed when the process exits. */
static int stats_child(void *arg) {
    (void)arg;
    if (hak_config_set("stats", "1") != 0)
        return 2;
    void *p = hak_malloc(200000);
    hak_free(p);
    return 0;
}

HAK_TEST(Counters, StatsSetAtRunTimePrintsAtExit) {
    hak_proc p;
    HAK_ASSERT_EQ(hak_fork_run(stats_child, NULL, 1, 60, &p), 0);
    HAK_EXPECT(p.exited);
    HAK_EXPECT_EQ(p.exit_code, 0);
    HAK_EXPECT(strstr(p.err, "large_free") != NULL);
    HAK_EXPECT(strstr(p.err, "os_mmap") != NULL);
    hak_proc_free(&p);
}
